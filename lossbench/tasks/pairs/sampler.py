"""Pairs and triplets drawn from identity labels: balanced, and reproducible by seed.

A positive pair is an anchor and another image of the same identity; a negative pair an anchor
and an image of a different identity (identity drawn uniformly among the others, then an image
of it). A triplet is an anchor with one positive and one negative drawn the same way, so pair
and triplet losses see the same sampling. Everything is vectorized numpy on index arrays.
"""

from __future__ import annotations

import numpy as np


class PairSampler:
    """Draws index pairs / triplets over ``labels``; one generator, seeded once, so the same seed
    gives the same sequence of draws (epoch after epoch)."""

    def __init__(self, labels: np.ndarray, seed: int) -> None:
        labels = np.asarray(labels)
        classes, self._cls, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if len(classes) < 2:
            raise ValueError(f"pairs need at least 2 identities, got {len(classes)}")
        if counts.max() < 2:
            raise ValueError("no identity has 2 images: no positive pairs can be drawn")
        self.n_identities = len(classes)
        self._count = counts
        self._start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._order = np.argsort(self._cls, kind="stable")  # indices grouped by identity
        self._rank = np.empty(len(labels), dtype=np.int64)  # position within its identity
        self._rank[self._order] = np.arange(len(labels)) - self._start[self._cls[self._order]]
        self._anchors = np.flatnonzero(counts[self._cls] >= 2)  # those that have a positive
        self.rng = np.random.default_rng(seed)

    def _positives(self, anchors: np.ndarray) -> np.ndarray:
        c, count = self._cls[anchors], self._count[self._cls[anchors]]
        offset = self.rng.integers(1, count)  # never the anchor itself
        return self._order[self._start[c] + (self._rank[anchors] + offset) % count]

    def _negatives(self, anchors: np.ndarray) -> np.ndarray:
        shift = self.rng.integers(1, self.n_identities, size=len(anchors))
        c = (self._cls[anchors] + shift) % self.n_identities  # any identity but the anchor's
        return self._order[self._start[c] + self.rng.integers(0, self._count[c])]

    def pairs(self, n: int, positive_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs, ``round(n * positive_fraction)`` of them positive, in random order.

        Returns indices ``(n, 2)`` and ``same`` ``(n,)``: 1 for a positive pair, 0 otherwise.
        """
        n_pos = int(round(n * positive_fraction))
        a_pos = self.rng.choice(self._anchors, size=n_pos)
        a_neg = self.rng.integers(0, len(self._cls), size=n - n_pos)
        first = np.concatenate([a_pos, a_neg])
        second = np.concatenate([self._positives(a_pos), self._negatives(a_neg)])
        same = np.concatenate([np.ones(n_pos, np.int64), np.zeros(n - n_pos, np.int64)])
        perm = self.rng.permutation(n)
        return np.stack([first, second], axis=1)[perm], same[perm]

    def triplets(self, n: int) -> np.ndarray:
        """``n`` triplets ``(anchor, positive, negative)`` as indices ``(n, 3)``."""
        anchors = self.rng.choice(self._anchors, size=n)
        return np.stack([anchors, self._positives(anchors), self._negatives(anchors)], axis=1)


class PairPool:
    """Draws training pairs from a fixed pool of labelled pairs (a data set that comes as pairs
    without identity labels, like LFW's): each call takes ``n`` pool rows, without replacement
    when the pool is large enough, by one generator seeded once. The pool's own share of
    positive pairs stands; there are no triplets without identities."""

    def __init__(self, idx: np.ndarray, same: np.ndarray, seed: int) -> None:
        if len(idx) != len(same) or len(idx) == 0:
            raise ValueError(f"a pair pool needs as many labels as pairs, got {len(idx)} pairs "
                             f"and {len(same)} labels")
        self.idx, self.same = np.asarray(idx), np.asarray(same)
        self.rng = np.random.default_rng(seed)

    def pairs(self, n: int, positive_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        del positive_fraction  # the pool's share
        rows = self.rng.choice(len(self.same), size=n, replace=n > len(self.same))
        return self.idx[rows], self.same[rows]

    def triplets(self, n: int) -> np.ndarray:
        raise ValueError("a pool of labelled pairs has no identities to draw triplets from")
