"""Kernel Inception Distance: the unbiased MMD² with the cubic polynomial kernel, over random subsets.

    k(x, y) = (x·y / d + 1)³
    MMD² = [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / (m (m - 1)) - 2 Σ_{i,j} k(x_i, y_j) / m²

computed on `subsets` random subsets of m = min(subset_size, n_a, n_b) samples drawn without
replacement from each side; the result is the mean and the (population) standard deviation of the
subset values, as in Bińkowski et al. (2018) and torch-fidelity. Gram products are float32 (the
features are float32), the kernel and the sums float64.
"""

from __future__ import annotations

import numpy as np
import torch

from gan_cli.errors import BadInput

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KERNEL_LIMIT = 5000**2  # entries of the all-pairs kernel matrix we are willing to hold (float64: 200 MB)


def _poly(gram: torch.Tensor, d: int) -> torch.Tensor:
    return gram.to(torch.float64).div_(d).add_(1.0).pow_(3)


def _mmd2(kxx: torch.Tensor, kyy: torch.Tensor, kxy: torch.Tensor) -> float:
    m = kxx.shape[0]
    off_xx = kxx.sum() - kxx.diagonal().sum()
    off_yy = kyy.sum() - kyy.diagonal().sum()
    return float((off_xx + off_yy) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased MMD² estimate between two equal-size samples (m, d) with the cubic kernel."""
    d = x.shape[1]
    return _mmd2(_poly(x @ x.T, d), _poly(y @ y.T, d), _poly(x @ y.T, d))


def kernel_inception_distance(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the MMD² over random subsets; fewer samples than `subset_size` use them all."""
    n_a, n_b = len(feats_a), len(feats_b)
    m = min(subset_size, n_a, n_b)
    if m < 2:
        raise BadInput(f"KID needs at least 2 images on each side (got {n_a} and {n_b})")
    a = torch.from_numpy(np.ascontiguousarray(feats_a, dtype=np.float32))
    b = torch.from_numpy(np.ascontiguousarray(feats_b, dtype=np.float32))
    if m == n_a == n_b:  # every subset is the whole of both sides: one value, no spread
        return mmd2_unbiased(a, b), 0.0
    rng = np.random.default_rng(seed)
    picks = [(rng.choice(n_a, m, replace=False), rng.choice(n_b, m, replace=False)) for _ in range(subsets)]
    if (n_a + n_b) ** 2 <= KERNEL_LIMIT:
        values = _subsets_from_kernel(a, b, picks)
    else:
        values = np.array([mmd2_unbiased(a[torch.from_numpy(i)], b[torch.from_numpy(j)]) for i, j in picks])
    return float(values.mean()), float(values.std())


def _subsets_from_kernel(a: torch.Tensor, b: torch.Tensor, picks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """All subsets at once from the full kernel matrix K of [a; b]: each sum over a subset's block
    is a quadratic form u^T K v with 0/1 indicator vectors, so one K @ U product serves them all."""
    n_a, m = a.shape[0], picks[0][0].shape[0]
    both = torch.cat([a, b])
    k = _poly(both @ both.T, a.shape[1])
    ind = torch.zeros(k.shape[0], 2 * len(picks), dtype=torch.float64)
    for s, (i, j) in enumerate(picks):
        ind[torch.from_numpy(i), 2 * s] = 1.0
        ind[torch.from_numpy(j) + n_a, 2 * s + 1] = 1.0
    ku = k @ ind
    diag = k.diagonal().clone()
    del k
    u, v = ind[:, 0::2], ind[:, 1::2]
    sxx = (u * ku[:, 0::2]).sum(0) - u.T @ diag
    syy = (v * ku[:, 1::2]).sum(0) - v.T @ diag
    sxy = (u * ku[:, 1::2]).sum(0)
    return ((sxx + syy) / (m * (m - 1)) - 2.0 * sxy / (m * m)).numpy()
