"""The ``add_torrent_params`` of a target: its v1 and/or v2 infohash, without metadata.

Shared by the watcher, the metadata fetcher and verification, which then set the flags
that fit their job.
"""

from __future__ import annotations

import libtorrent as lt

from monitors.targets import Target


def add_params(target: Target, save_path: str) -> lt.add_torrent_params:
    params = lt.add_torrent_params()
    v1 = lt.sha1_hash(bytes.fromhex(target.v1)) if target.v1 else None
    v2 = lt.sha256_hash(bytes.fromhex(target.v2)) if target.v2 else None
    if v1 is not None and v2 is not None:
        params.info_hashes = lt.info_hash_t(v1, v2)
    else:
        params.info_hashes = lt.info_hash_t(v1 if v1 is not None else v2)
    params.save_path = save_path
    return params
