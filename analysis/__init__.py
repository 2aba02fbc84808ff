"""Investigators' analysis over the index: who runs which services, and why we think so.

Near-duplicate pages (MinHash LSH), a link graph of services joined by shared strong values,
clusters of it stored as ``cluster`` documents, phone and e-mail timelines, and relaunch
tracking. Sits above ``index`` (reads the index, writes through its spool, raises alerts
through ``alerting``); never imports ``heroes``.
"""
