"""Exchange with the units' other systems: MISP events and STIX 2.1 bundles, out and in.

Exports (:mod:`exchange.collect` gathers what the index holds about one alert, service,
infohash or cluster as :class:`exchange.facts.Facts`; :mod:`exchange.misp_export` and
:mod:`exchange.stix_export` write it) carry onions, page URLs, wallets, e-mail addresses,
phone numbers, PGP keys, media hashes and torrents, observed peers only where
``[exchange] include_peers`` allows it, and a TLP marking. Imports
(:mod:`exchange.importing`) read a MISP event or a STIX bundle into a hash list through the
hash-list import of :mod:`index.hashsets`, every value checked by :mod:`identifiers`.
Imports ``index``, ``documents``, ``identifiers``, ``config`` and ``errors``; never ``heroes``.
"""
