"""libtorrent probes: watch the swarms of flagged infohashes and record who is in them.

Modules: ``targets`` (what to watch, from the index, the command line and saved state),
``watcher`` (the metadata-less monitor session), ``metadata`` (BEP 9 fetcher),
``peers`` (pure grading of peer sightings), ``recorder`` (observations to spool and
evidence log), ``evidence`` (export and verify), ``verify`` (single-source verification,
investigator-run only), ``probe`` (the long-running role tying them together).
"""
