"""Peer triage: from observations to a ranked, explained list of peers and legal-request records.

One module each: :mod:`triage.args` (IP and time-range arguments), :mod:`triage.swarms`
(which swarms are flagged, with list, category and severity), :mod:`triage.scoring` (the
priority score and its terms), :mod:`triage.ranking` (every peer's figures aggregated in
the index backend, ranked), :mod:`triage.continuity` (possible same hosts),
:mod:`triage.peer` (one peer's facts), :mod:`triage.enrichment` (offline MaxMind DB
lookups), :mod:`triage.sightings` (a peer's records in the probes' evidence logs),
:mod:`triage.export` (CSV and JSON for a legal request) and :mod:`triage.assignments`
(who in the unit works on a peer). Reads the ``triage`` and ``enrichment`` settings.
"""
