"""How close generated samples are to real ones.

* :func:`wasserstein1_exact`: the exact Wasserstein-1 distance between two equal-size point
  clouds (uniform empirical measures). With equal sizes n the optimal transport plan can be
  taken to be a permutation (Birkhoff-von Neumann: the plans form the polytope of doubly
  stochastic matrices, whose vertices are permutations), so the OT problem is an assignment
  problem: ``W1 = min_sigma (1/n) sum_i |a_i - b_sigma(i)|``, solved exactly by POT's network
  simplex (``ot.emd2``). :func:`scipy.optimize.linear_sum_assignment` gives the same value (a
  test checks both) but is slow when one sample is a blob, as an untrained generator's is:
  for 2,000 points 9.6 s against POT's 0.7 s (0.8 s against 0.4 s on two ring samples).
  Exact beats sliced W1 here: sliced W1 is a different (smaller) distance that averages 1-D
  projections and blurs mode structure, while exact W1 in 2-D costs little. What it measures is
  W1 between the two *samples*; two samples of the same distribution are not at 0, so the
  task also reports this floor for two real samples.
* :func:`mode_coverage`: a generated point is high quality when within ``3 * std`` of its
  nearest mode centre; a mode is covered when it gets at least ``share`` of the high-quality
  points a uniform mixture would give it (``share * n / K``; 0.2 on 2,500 points and 25 modes
  is the 20-point rule of VEEGAN / PacGAN).
* :func:`mode_collapse`: a generated point *visits* a mode when it lies within half the
  smallest distance between two mode centres of it (disjoint balls, far wider than the 3 std
  of high quality); a mode is visited with at least ``share`` of a uniform mode's points.
  ``collapsed`` is 1 when fewer than half the modes are visited: the mass sits on a few modes
  (or on none). Unlike ``modes_covered`` it does not ask for sharp samples, so a generator
  that spreads blurry mass around every mode has not collapsed; one whose points sit between
  the modes (e.g. a blob at the centre of the ring) has visited none.
* :func:`frechet_distance`: ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between Gaussians
  fitted to two feature sets (FID's formula, here on a classifier trained on the same data).
* :func:`class_histogram`: the share of generated images per predicted class, the number of
  classes covered (same rule as modes) and its entropy.
* :func:`nearest_neighbours`: each image's nearest training image and their RMS pixel
  distance (L2 / sqrt(pixels), so 32x32 and 64x64 compare): memorisation shows as generated
  images much closer to the training set than held-out real images are.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.distance import cdist


def wasserstein1_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Exact W1 (Euclidean ground cost) between the uniform measures on the rows of ``a``, ``b``;
    raises if the solver stops short of the optimum."""
    import ot  # POT; 0.3 s to import once torch and scikit-learn are loaded

    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"need two (n, d) samples of the same size, got {a.shape} and {b.shape}")
    cost = cdist(a.astype(np.float64), b.astype(np.float64))
    weights = np.full(len(a), 1.0 / len(a))
    # POT's default of 100,000 iterations stops short of the optimum from about 5,000 points
    value, log = ot.emd2(weights, weights, cost, numItermax=100_000_000, log=True)
    if log["warning"] is not None:
        raise RuntimeError(f"exact W1 on {len(a)} points: {log['warning']}")
    return float(value)


def mode_coverage(x: np.ndarray, modes: np.ndarray, std: float,
                  share: float = 0.2) -> dict[str, float]:
    """``hq_fraction`` (points within 3 std of their nearest mode), ``modes_covered`` and
    ``modes_covered_fraction`` (modes with >= ``share * n / K`` high-quality points)."""
    dist = cdist(x.astype(np.float64), modes.astype(np.float64))
    nearest = dist.argmin(axis=1)
    hq = dist[np.arange(len(x)), nearest] <= 3.0 * std
    counts = np.bincount(nearest[hq], minlength=len(modes))
    covered = int((counts >= share * len(x) / len(modes)).sum())
    return {"hq_fraction": float(hq.mean()), "modes_covered": float(covered),
            "modes_covered_fraction": covered / len(modes)}


# collapsed: fewer than this fraction of the modes visited
COLLAPSE_BELOW = 0.5


def mode_collapse(x: np.ndarray, modes: np.ndarray, share: float = 0.2) -> dict[str, float]:
    """``modes_visited`` (modes holding >= ``share * n / K`` of the points, a point counting
    for a mode within half the smallest distance between two centres of it) and
    ``collapsed`` (1.0 when fewer than ``COLLAPSE_BELOW * K`` modes are visited, else 0.0)."""
    m = modes.astype(np.float64)
    centre_gaps = cdist(m, m) + np.diag(np.full(len(m), np.inf))
    radius = 0.5 * centre_gaps.min()
    dist = cdist(x.astype(np.float64), m)
    nearest = dist.argmin(axis=1)
    inside = dist[np.arange(len(x)), nearest] < radius
    counts = np.bincount(nearest[inside], minlength=len(m))
    visited = int((counts >= share * len(x) / len(m)).sum())
    return {"modes_visited": float(visited),
            "collapsed": float(visited < COLLAPSE_BELOW * len(m))}


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_from_stats(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray,
                       s2: np.ndarray) -> float:
    """Frechet distance between N(mu1, s1) and N(mu2, s2).

    ``tr((s1 s2)^(1/2))`` is computed as the sum of the square roots of the eigenvalues of the
    symmetric PSD matrix ``s1^(1/2) s2 s1^(1/2)`` (same spectrum as ``s1 s2``): stable when a
    covariance is singular (a collapsed generator), where a general ``sqrtm`` is not.
    """
    a = _sqrt_psd(s1)
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(a @ s2 @ a), 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two ``(n, d)`` feature sets."""
    f1, f2 = f1.astype(np.float64), f2.astype(np.float64)
    return frechet_from_stats(f1.mean(0), np.cov(f1, rowvar=False),
                              f2.mean(0), np.cov(f2, rowvar=False))


def class_histogram(pred: np.ndarray, num_classes: int, share: float = 0.2) -> dict[str, float]:
    """``gen_class_frac_<k>``, ``gen_classes`` (classes with >= ``share / K`` of the samples)
    and ``gen_class_entropy`` (nats; log K for a uniform histogram)."""
    frac = np.bincount(pred, minlength=num_classes)[:num_classes] / len(pred)
    nz = frac[frac > 0]
    out = {f"gen_class_frac_{k}": float(f) for k, f in enumerate(frac)}
    out["gen_classes"] = float((frac >= share / num_classes).sum())
    out["gen_class_entropy"] = float(-(nz * np.log(nz)).sum())
    return out


def nearest_neighbours(x: torch.Tensor, train: torch.Tensor,
                       chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image of ``x``, the index of its nearest image in ``train`` (Euclidean in pixel
    space) and the RMS pixel distance to it (L2 / sqrt(number of pixels)); ``train`` is
    scanned in chunks so a large training set never makes an ``(n, N)`` matrix at once."""
    a = x.flatten(1).double()
    best = torch.full((len(a),), torch.inf, dtype=torch.float64, device=a.device)
    idx = torch.zeros(len(a), dtype=torch.long, device=a.device)
    for start in range(0, len(train), chunk):
        b = train[start:start + chunk].flatten(1).to(a)
        d = torch.cdist(a, b)
        val, arg = d.min(dim=1)
        better = val < best
        best = torch.where(better, val, best)
        idx = torch.where(better, arg + start, idx)
    return idx, best / a.shape[1] ** 0.5
