"""Feature statistics: streaming mean and covariance in float64, and pytorch-fid's .npz format.

Memory stays constant whatever the number of images: a running sum and a running sum of outer
products (2048 x 2048 float64, 32 MB), both taken around a shift (the first batch's mean) so the
covariance does not lose digits to cancellation. The covariance is the unbiased one (ddof=1), as
numpy.cov(features, rowvar=False) in pytorch-fid. Features themselves are kept (float32) only when
asked, for KID.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gan_cli.errors import BadInput
from gan_cli.io.atomic import atomic_path

SYMMETRY_TOL = 1e-6  # |sigma - sigma^T| allowed, relative to trace(sigma) (float32 rounding is ~1e-7)
PSD_TOL = 1e-6  # most negative eigenvalue allowed, relative to trace(sigma)


@dataclass
class Stats:
    """The statistics of one side: mean, covariance, how many images (None if unknown), features."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int | None = None
    features: np.ndarray | None = None  # (n, dims) float32, only when KID was asked for

    @property
    def dims(self) -> int:
        return int(self.mu.shape[0])


class RunningStats:
    """Accumulate (B, D) feature batches; `result()` gives the mean and the ddof=1 covariance.

    Batches are buffered up to `flush_rows` rows before each update of the D x D sum: one rank-256
    update instead of 32 rank-8 ones, each of which reads and writes the whole 32 MB matrix.
    """

    def __init__(self, dims: int, keep_features: bool = False, flush_rows: int = 256) -> None:
        self.dims = dims
        self.n = 0
        self.flush_rows = flush_rows
        self._shift: torch.Tensor | None = None
        self._sum = torch.zeros(dims, dtype=torch.float64)
        self._outer = torch.zeros(dims, dims, dtype=torch.float64)
        self._pending: list[torch.Tensor] = []
        self._pending_rows = 0
        self._kept: list[torch.Tensor] | None = [] if keep_features else None

    def update(self, feats: torch.Tensor) -> None:
        feats = feats.detach().to("cpu", torch.float32)
        if feats.ndim != 2 or feats.shape[1] != self.dims:
            raise ValueError(f"expected (B, {self.dims}) features, got {tuple(feats.shape)}")
        if feats.shape[0] == 0:
            return
        self._pending.append(feats.clone())
        self._pending_rows += feats.shape[0]
        if self._kept is not None:
            self._kept.append(self._pending[-1])
        if self._pending_rows >= self.flush_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        x = torch.cat(self._pending).to(torch.float64)
        self._pending, self._pending_rows = [], 0
        if self._shift is None:
            self._shift = x.mean(0)
        x -= self._shift
        self._sum += x.sum(0)
        self._outer.addmm_(x.T, x)
        self.n += x.shape[0]

    def result(self) -> Stats:
        self._flush()
        if self.n < 2:
            raise BadInput(f"need at least 2 images for a covariance, got {self.n}")
        assert self._shift is not None
        s = self._sum
        mu = self._shift + s / self.n
        sigma = (self._outer - torch.outer(s, s) / self.n) / (self.n - 1)
        sigma = (sigma + sigma.T) / 2
        feats = torch.cat(self._kept).numpy() if self._kept is not None else None
        return Stats(mu.numpy(), sigma.numpy(), self.n, feats)


def save_stats(path: str | os.PathLike, stats: Stats) -> Path:
    """Write mu and sigma (float64) as pytorch-fid reads them, plus `n`; atomically, uncompressed (fast)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise BadInput(f"{path}: statistics are saved as .npz (pytorch-fid's format); use a .npz name")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        arrays = {"mu": stats.mu.astype(np.float64), "sigma": stats.sigma.astype(np.float64)}
        if stats.n is not None:
            arrays["n"] = np.asarray(stats.n, dtype=np.int64)
        np.savez(f, **arrays)
    return path


def load_stats(path: str | os.PathLike) -> Stats:
    """Read a .npz with `mu` (D,) and `sigma` (D, D), as written by pytorch-fid or by gan-cli."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such statistics file")
    if not zipfile.is_zipfile(path):  # else numpy guesses "pickled data", which misleads
        raise BadInput(f"{path}: not a .npz file (an .npz is a zip archive of arrays 'mu' and 'sigma')")
    try:
        with np.load(path, allow_pickle=False) as f:
            names = set(f.files)
            missing = [k for k in ("mu", "sigma") if k not in names]
            if missing:
                raise BadInput(
                    f"{path}: no {' or '.join(repr(k) for k in missing)} array in this .npz "
                    f"(it has {sorted(names) or 'nothing'}); FID statistics need 'mu' and 'sigma'"
                )
            mu, sigma = np.asarray(f["mu"], dtype=np.float64), np.asarray(f["sigma"], dtype=np.float64)
            n = int(f["n"]) if "n" in names and f["n"].size == 1 else None
    except BadInput:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise BadInput(f"{path}: not a readable .npz file ({e})") from None
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise BadInput(f"{path}: mu {mu.shape} and sigma {sigma.shape} do not fit (expected (D,) and (D, D))")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise BadInput(f"{path}: mu or sigma contains NaN or infinite values")
    check_covariance(sigma, str(path))
    return Stats(mu, sigma, n)


def check_covariance(sigma: np.ndarray, where: str) -> None:
    """BadInput unless sigma is a covariance: symmetric and positive semi-definite, within rounding.

    The tolerances are relative to sigma's trace (its eigenvalues' sum, which bounds the largest): a
    covariance stored in float32 passes, `-I` or a hand-edited asymmetric matrix (which gave FID 0 and
    4005) does not. Definiteness is one Cholesky of sigma + tol * I, a third of the FID's own cost.
    """
    scale = float(np.abs(np.diagonal(sigma)).sum()) or 1.0
    asym = float(np.abs(sigma - sigma.T).max())
    if asym > SYMMETRY_TOL * scale:
        raise BadInput(f"{where}: sigma is not symmetric (|sigma - sigma^T| up to {asym:.3g}): not a covariance")
    try:
        np.linalg.cholesky(sigma + PSD_TOL * scale * np.eye(sigma.shape[0]))
    except np.linalg.LinAlgError:
        low = float(np.diagonal(sigma).min())
        detail = f"a negative variance ({low:.3g})" if low < 0 else "negative eigenvalues"
        raise BadInput(f"{where}: sigma has {detail}: not a covariance (not positive semi-definite)") from None
