"""Sealed evidence logs: Ed25519 keys, RFC 9162 Merkle trees, signed tree heads, RFC 3161
timestamps, witnesses, exports and their verification.

The pieces, one module each: :mod:`evidence.keys` (the installation's signing key and its
rotations), :mod:`evidence.merkle` (tree hashing and proofs), :mod:`evidence.heads` (signed
tree heads and the heads file), :mod:`evidence.sealedlog` (an append-only JSON-lines log with
its heads), :mod:`evidence.check` (a log against its heads), :mod:`evidence.registry` (every
log of an installation), :mod:`evidence.sealer` (the role that seals, timestamps and sends
heads to witnesses), :mod:`evidence.tsa` (RFC 3161 client), :mod:`evidence.witness`,
:mod:`evidence.export` and :mod:`evidence.verify`. The on-disk and export formats are
specified in docs/evidence-format.md.
"""
