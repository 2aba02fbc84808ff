"""Retro-hunt: a hash or keyword list, or an alert rule, run over everything already indexed.

``targets`` says what is looked for (a list: its exact and PDQ hashes through the matcher
of the drain, its keywords in page and torrent text; a rule: the alert rule's verdict),
``scan`` reads a document kind page by page, ``checkpoint`` remembers how far a hunt got,
``alerts`` raises the hits as ``retro`` alerts through the alert store, and ``runner``
ties them together. Reads the ``hunt``, ``matching`` and ``alerts`` settings sections.
"""
