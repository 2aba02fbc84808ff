"""RFC 9162 tree hashing and proofs: CT reference vectors and the literal RFC recursion."""

from __future__ import annotations

import hashlib

import pytest

from evidence.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle testonly vectors
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOT8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return leaf_hash(d[0])
    k = 1 << ((len(d) - 1).bit_length() - 1)
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = 1 << ((len(d) - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def tree(entries: list[bytes]) -> MerkleTree:
    return MerkleTree(leaf_hash(e) for e in entries)


def test_reference_vectors() -> None:
    t = tree(LEAVES)
    assert t.root(0) == EMPTY_ROOT
    assert t.root(1).hex().startswith("6e340b9c")
    assert t.root(3).hex().startswith("aeb6bcfe")
    assert t.root().hex() == ROOT8
    assert [p.hex()[:8] for p in t.inclusion_proof(5, 8)] == ["bc1a0643", "ca854ea1", "d37ee418"]
    assert [p.hex()[:8] for p in t.consistency_proof(6, 8)] == ["0ebc5d34", "ca854ea1",
                                                                 "d37ee418"]
    assert [p.hex()[:8] for p in t.consistency_proof(2, 8)] == ["5f083f0a", "6b47aaf2"]
    assert [p.hex()[:8] for p in t.consistency_proof(2, 5)] == ["5f083f0a", "bc1a0643"]


def test_frontier_root_equals_tree_root() -> None:
    f = Frontier()
    entries = [str(i).encode() for i in range(300)]
    for n, e in enumerate(entries, start=1):
        f.append(leaf_hash(e))
        assert f.root() == mth(entries[:n])


@pytest.mark.parametrize("n", range(1, 41))
def test_proofs_match_the_rfc_recursion_and_verify(n: int) -> None:
    d = [f"entry {i}".encode() for i in range(n)]
    t = tree(d)
    for size in range(1, n + 1):
        root = mth(d[:size])
        assert t.root(size) == root
        for m in range(size):
            proof = t.inclusion_proof(m, size)
            assert proof == path(m, d[:size])
            assert verify_inclusion(m, size, leaf_hash(d[m]), proof, root)
            assert not verify_inclusion(m, size, leaf_hash(b"other"), proof, root)
            assert not verify_inclusion((m + 1) % size, size, leaf_hash(d[m]), proof, root) \
                or d[(m + 1) % size] == d[m] or size == 1
            if proof:
                assert not verify_inclusion(m, size, leaf_hash(d[m]), proof[:-1], root)
            assert not verify_inclusion(m, size, leaf_hash(d[m]), [*proof, root], root)
        for m in range(1, size):
            proof = t.consistency_proof(m, size)
            assert proof == subproof(m, d[:size], True)
            assert verify_consistency(m, size, mth(d[:m]), root, proof)
            assert not verify_consistency(m, size, mth([*d[:m - 1], b"x"]), root, proof)
            assert not verify_consistency(m, size, mth(d[:m]), mth([*d[:size - 1], b"x"]),
                                          proof)
            assert not verify_consistency(m, size, mth(d[:m]), root, proof[:-1])
    assert verify_consistency(n, n, t.root(), t.root(), [])
    assert not verify_inclusion(n, n, leaf_hash(d[0]), [], t.root())
