"""FID/KID numerics without the network: the Fréchet formula, streaming statistics, .npz files, KID."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_cli.errors import BadInput
from gan_cli.metrics import kid
from gan_cli.metrics.fid import frechet_distance, trace_sqrt_product
from gan_cli.metrics.stats import RunningStats, Stats, load_stats, save_stats


def _spd(d: int, rng: np.random.Generator, rank: int | None = None) -> np.ndarray:
    a = rng.standard_normal((d, rank or d))
    return a @ a.T / d


def _features(n: int, d: int = 512, seed: int = 0) -> np.ndarray:
    """Non-negative, correlated, pool3-like features."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.standard_normal((n, 64)) @ rng.standard_normal((64, d)) * 0.4 + 0.2, 0)


# --- the Fréchet distance ---------------------------------------------------------------------------
def test_one_dimensional_gaussians():
    # d² = (m1 - m2)² + (s1 - s2)² for standard deviations s1, s2
    assert frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]]) == pytest.approx(9.0 + 1.0, rel=1e-12)


def test_commuting_covariances_closed_form():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((32, 32)))
    a, b = rng.uniform(0.1, 3, 32), rng.uniform(0.1, 3, 32)
    mu1, mu2 = rng.standard_normal(32), rng.standard_normal(32)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_non_commuting_2x2_closed_form():
    # for a 2x2 matrix M with non-negative eigenvalues, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M))
    s1 = np.array([[2.0, 0.7], [0.7, 1.0]])
    s2 = np.array([[1.5, -0.4], [-0.4, 0.5]])
    m = s1 @ s2
    tr_sqrt = np.sqrt(np.trace(m) + 2 * np.sqrt(np.linalg.det(m)))
    assert trace_sqrt_product(s1, s2) == pytest.approx(tr_sqrt, rel=1e-12)
    mu1, mu2 = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    expected = 5.0 + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)


def test_symmetric_and_zero_on_itself():
    rng = np.random.default_rng(2)
    s1, s2 = _spd(128, rng), _spd(128, rng)
    mu1, mu2 = rng.standard_normal(128), rng.standard_normal(128)
    ab, ba = frechet_distance(mu1, s1, mu2, s2), frechet_distance(mu2, s2, mu1, s1)
    assert ab > 1 and ab == pytest.approx(ba, rel=1e-10)
    assert frechet_distance(mu1, s1, mu1, s1) < 1e-9


@pytest.mark.parametrize("n", [50, 3])
def test_singular_covariances_few_samples_and_duplicates(n):
    """Fewer samples than dimensions (rank n-1) and duplicated samples: exact zero, no NaN."""
    x = _features(n)
    dup = np.concatenate([x, x])  # same mean; covariance scaled by 2(n-1)/(2n-1)
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    assert frechet_distance(mu, sigma, mu, sigma) < 1e-6
    perm = x[::-1]
    assert frechet_distance(mu, sigma, perm.mean(0), np.cov(perm, rowvar=False)) < 1e-6
    d = frechet_distance(mu, sigma, dup.mean(0), np.cov(dup, rowvar=False))
    scale = 2 * (n - 1) / (2 * n - 1)
    expected = np.trace(sigma) * (1 - np.sqrt(scale)) ** 2  # tr(S + cS - 2 sqrt(c) S)
    assert np.isfinite(d) and d == pytest.approx(expected, rel=1e-6)


def test_agrees_with_scipy_sqrtm_on_full_rank_covariances():
    from scipy import linalg

    rng = np.random.default_rng(3)
    s1, s2 = _spd(200, rng), _spd(200, rng, rank=400)
    mu1, mu2 = rng.standard_normal(200), rng.standard_normal(200)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "rank1, rank2",
    [(300, 200), (300, 20), (20, 300), (40, 20), (20, 40), (95, 95), (1, 96)],
)
def test_definite_and_singular_covariances_against_their_generators(rank1, rank2):
    """Full rank, one singular side, both singular with either one of lower rank, rank one.

    S_i = G_i G_i^T with known G_i (d x rank_i): the exact value is the sum of the singular values of
    G2^T G1, computed from the generators, never from the rounded covariances.
    """
    rng = np.random.default_rng(8)
    g1, g2 = rng.standard_normal((96, rank1)) / 10, rng.standard_normal((96, rank2)) / 10
    s1, s2 = g1 @ g1.T, g2 @ g2.T
    exact = np.linalg.svd(g2.T @ g1, compute_uv=False).sum()
    assert trace_sqrt_product(s1, s2) == pytest.approx(exact, rel=1e-10)
    assert trace_sqrt_product(s2, s1) == pytest.approx(exact, rel=1e-10)
    brute = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()  # sqrtm-like: noisy
    assert brute == pytest.approx(exact, rel=1e-4)


def test_plain_and_pivoted_cholesky_agree_on_definite_covariances(monkeypatch):
    from gan_cli.metrics import fid

    rng = np.random.default_rng(10)
    s1, s2 = _spd(96, rng, rank=300), _spd(96, rng, rank=200)
    plain = trace_sqrt_product(s1, s2)
    assert fid._cholesky_factor(s1)[2] == 96
    monkeypatch.setattr(fid, "PD_MARGIN", float("inf"))  # never trust the plain Cholesky
    assert not np.array_equal(fid._cholesky_factor(s1)[1], np.arange(96))  # pivoted
    assert trace_sqrt_product(s1, s2) == pytest.approx(plain, rel=1e-12)


def test_zero_covariance_and_non_finite_statistics():
    rng = np.random.default_rng(9)
    s = _spd(16, rng)
    assert trace_sqrt_product(np.zeros((16, 16)), s) == 0.0
    assert frechet_distance(np.zeros(16), np.zeros((16, 16)), np.zeros(16), s) == pytest.approx(np.trace(s))
    bad = s.copy()
    bad[3, 4] = np.nan
    with pytest.raises(BadInput, match="NaN"):
        frechet_distance(np.zeros(16), bad, np.zeros(16), s)


def test_mismatched_dimensions_are_bad_input():
    with pytest.raises(BadInput, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# --- streaming statistics -----------------------------------------------------------------------------
@pytest.mark.parametrize("flush_rows", [1, 60, 256])
def test_streaming_stats_equal_numpy_mean_and_cov(flush_rows):
    x = _features(257, d=96) + 1e3  # a large offset: a naive sum of squares would lose digits
    rs = RunningStats(96, flush_rows=flush_rows)
    for chunk in np.array_split(x, [1, 50, 51, 200]):
        rs.update(torch.from_numpy(chunk.astype(np.float32)))
    st = rs.result()
    x32 = x.astype(np.float32).astype(np.float64)
    assert st.n == 257 and st.features is None
    np.testing.assert_allclose(st.mu, x32.mean(0), rtol=1e-12)
    np.testing.assert_allclose(st.sigma, np.cov(x32, rowvar=False), rtol=1e-8, atol=1e-10)


def test_streaming_stats_keep_float32_features_only_when_asked():
    rs = RunningStats(8, keep_features=True)
    x = torch.rand(10, 8)
    rs.update(x[:3])
    rs.update(x[3:])
    st = rs.result()
    assert st.features.dtype == np.float32 and np.array_equal(st.features, x.numpy())


def test_one_sample_is_bad_input():
    rs = RunningStats(4)
    rs.update(torch.rand(1, 4))
    with pytest.raises(BadInput, match="at least 2"):
        rs.result()


# --- .npz files ---------------------------------------------------------------------------------------
def test_npz_round_trip_and_pytorch_fid_files(tmp_path):
    rng = np.random.default_rng(4)
    st = Stats(rng.standard_normal(16), _spd(16, rng), 123)
    path = save_stats(tmp_path / "s.npz", st)
    back = load_stats(path)
    assert np.array_equal(back.mu, st.mu) and np.array_equal(back.sigma, st.sigma) and back.n == 123
    with np.load(path) as f:  # what pytorch-fid reads: f["mu"][:], f["sigma"][:]
        assert f["mu"].dtype == np.float64 and f["sigma"].shape == (16, 16)
    np.savez_compressed(tmp_path / "theirs.npz", mu=st.mu, sigma=st.sigma)  # pytorch-fid's save_fid_stats
    theirs = load_stats(tmp_path / "theirs.npz")
    assert theirs.n is None and np.array_equal(theirs.sigma, st.sigma)


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda p: np.savez(p, sigma=np.eye(3)), "'mu'"),
        (lambda p: np.savez(p, mu=np.zeros(3), sigma=np.eye(4)), "do not fit"),
        (lambda p: np.savez(p, mu=np.array([0, np.nan, 0]), sigma=np.eye(3)), "NaN"),
        (lambda p: p.write_bytes(b"not a zip file at all"), "not a .npz file .an .npz is a zip"),
        (lambda p: np.savez(p, mu=np.array([{"a": 1}], dtype=object), sigma=np.eye(1)), "not a readable"),
    ],
)
def test_bad_npz_files(tmp_path, write, message):
    p = tmp_path / "bad.npz"
    write(p)
    with pytest.raises(BadInput, match=message):
        load_stats(p)


def test_save_stats_wants_an_npz_name(tmp_path):
    with pytest.raises(BadInput, match=".npz"):
        save_stats(tmp_path / "stats.txt", Stats(np.zeros(2), np.eye(2), 2))


# --- KID ----------------------------------------------------------------------------------------------
def _naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (a @ b / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / m**2


def test_mmd2_matches_the_definition():
    rng = np.random.default_rng(5)
    x, y = rng.random((6, 3)), rng.random((6, 3)) + 0.3
    got = kid.mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y))
    assert got == pytest.approx(_naive_mmd2(x, y), rel=1e-10)


def test_kid_subsets_kernel_path_equals_direct_path(monkeypatch):
    rng = np.random.default_rng(6)
    a, b = rng.random((300, 32), dtype=np.float32), rng.random((250, 32), dtype=np.float32) + 0.05
    fast = kid.kernel_inception_distance(a, b, subsets=20, subset_size=100)
    monkeypatch.setattr(kid, "KERNEL_LIMIT", 0)
    direct = kid.kernel_inception_distance(a, b, subsets=20, subset_size=100)
    assert fast[0] == pytest.approx(direct[0], rel=1e-9) and fast[1] == pytest.approx(direct[1], rel=1e-6)
    assert fast[0] > 0 and fast[1] > 0


def test_kid_is_near_zero_for_one_distribution_and_uses_all_samples_when_few():
    rng = np.random.default_rng(7)
    a, b = rng.random((400, 16), dtype=np.float32), rng.random((400, 16), dtype=np.float32)
    mean, std = kid.kernel_inception_distance(a, b, subsets=30, subset_size=200)
    assert abs(mean) < 3 * std + 1e-6
    whole = kid.kernel_inception_distance(a[:50], b[:50])  # fewer than 1,000: one subset of everything
    # float32 Gram products, as torch-fidelity: a few 1e-6 off the float64 definition
    assert whole[1] == 0.0 and whole[0] == pytest.approx(_naive_mmd2(a[:50], b[:50]), abs=2e-5)


# --- threads --------------------------------------------------------------------------------------------
def test_thread_settings_are_restored():
    from gan_cli.metrics.threads import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
