"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs, and their verification.

Leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right), the empty
tree hashes to SHA-256(""). :class:`Frontier` keeps only the roots of the complete subtrees
(what an appending writer needs: O(log n) memory, two hashes per append amortised);
:class:`MerkleTree` keeps every complete node (64 bytes a leaf) so that roots of any older
size and proofs (RFC 9162 §2.1.3.1 PATH, §2.1.4.1 SUBPROOF) cost O(log n) hashes. The
verifiers follow §2.1.3.2 and §2.1.4.2 as written. Pure functions; reads no settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The complete-subtree roots of a growing tree, largest (leftmost) first."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []

    def append(self, leaf: bytes) -> None:
        stack = self._stack
        stack.append((1, leaf))
        while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
            (n, right), (_, left) = stack.pop(), stack.pop()
            stack.append((2 * n, node_hash(left, right)))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1][1]
        for _, h in reversed(self._stack[:-1]):
            root = node_hash(h, root)
        return root


class MerkleTree:
    """Every complete node of the tree: level l holds ``size >> l`` hashes of 32 bytes."""

    def __init__(self, leaves: Iterable[bytes] = ()):
        self._levels: list[bytearray] = [bytearray()]
        self.size = 0
        for leaf in leaves:
            self.append(leaf)

    def append(self, leaf: bytes) -> None:
        levels = self._levels
        levels[0] += leaf
        self.size += 1
        level, count = 0, self.size
        while count % 2 == 0:
            row = levels[level]
            combined = node_hash(bytes(row[-64:-32]), bytes(row[-32:]))
            if level + 1 == len(levels):
                levels.append(bytearray())
            levels[level + 1] += combined
            level, count = level + 1, count // 2

    def leaf(self, index: int) -> bytes:
        return bytes(self._levels[0][index * 32:index * 32 + 32])

    def _range(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            level = n.bit_length() - 1
            at = (lo >> level) * 32
            return bytes(self._levels[level][at:at + 32])
        k = _split(n)
        return node_hash(self._range(lo, lo + k), self._range(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} outside 0..{self.size}")
        return self._range(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1, the leaf-side hash first."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"leaf {index} is not in a tree of size {size}")
        path: list[bytes] = []
        lo, hi, m = 0, size, index
        while hi - lo > 1:
            k = _split(hi - lo)
            if m < k:
                path.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range(lo, lo + k))
                lo, m = lo + k, m - k
        return path[::-1]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[second]) of RFC 9162 §2.1.4.1 (empty when first is 0 or second)."""
        second = self.size if second is None else second
        if not 0 <= first <= second <= self.size:
            raise ValueError(f"no consistency proof from size {first} to size {second}")
        if first in (0, second):
            return []
        path: list[bytes] = []
        lo, hi, m, complete = 0, second, first, True
        while True:
            n = hi - lo
            if m == n:
                if not complete:
                    path.append(self._range(lo, hi))
                break
            k = _split(n)
            if m <= k:
                path.append(self._range(lo + k, hi))
                hi = lo + k
            else:
                path.append(self._range(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        return path[::-1]


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove ``leaf`` at ``index`` in the tree ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of size ``first`` a prefix of the one of ``second``?"""
    if first > second or first < 0:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    if not path:
        return False
    hashes = list(path)
    if first & (first - 1) == 0:
        hashes.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
