"""`gan eval-fid` end to end, with the real FID Inception weights where they are (../shared/data/fid or
$GAN_CLI_TEST_INCEPTION) and otherwise the same network with seeded random weights (conftest.py).

Image passes through Inception are the cost (~5-10 img/s on 2 CPU cores), so the image sets are
built once per module, the 50-vs-200 run happens once and its saved statistics are reused.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import Result, assert_clean_error
from helpers import TINY, make_folder
from PIL import Image

from gan_cli.metrics.fid import frechet_distance
from gan_cli.metrics.inception import FIDInception
from gan_cli.metrics.preprocess import clean_resize, prepare, to_network_input
from gan_cli.metrics.stats import load_stats
from gan_cli.metrics.weights import load_inception, read_state_dict

MODES = ("RGB", "L", "P", "RGBA", "RGB")


def make_images(root: Path, n: int, seed: int, size: int = 32, hue: int = 0) -> Path:
    """n images of two random shapes on a random background, in assorted modes (PNG and JPEG)."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(0, 120, 3)))
        draw = ImageDraw.Draw(img)
        for shape in (draw.rectangle, draw.ellipse):
            x0, y0 = rng.integers(0, size // 2, 2)
            x1, y1 = x0 + rng.integers(4, size // 2), y0 + rng.integers(4, size // 2)
            colour = rng.integers(100, 256, 3)
            colour[hue % 3] = 255
            shape([int(x0), int(y0), int(x1), int(y1)], fill=tuple(int(c) for c in colour))
        mode = MODES[i % len(MODES)]
        img = img.convert(mode) if mode != "P" else img.convert("P", palette=Image.Palette.ADAPTIVE)
        sub = root / ("sub" if i % 7 == 0 else "")  # folders are read recursively
        sub.mkdir(exist_ok=True)
        if i % 5 == 4:
            img.save(sub / f"{i:03d}.jpg", quality=90)
        else:
            img.save(sub / f"{i:03d}.png")
    return root


def run_main(*args: object) -> Result:
    """The CLI in-process, for module-scoped fixtures (the `cli` fixture is per test)."""
    from gan_cli.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module", autouse=True)
def weights(tmp_path_factory, inception_weights) -> Path:
    path = inception_weights  # the real weights where they are, else seeded random ones (conftest)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_CLI_INCEPTION", str(path))
        mp.setenv("GAN_CLI_OFFLINE", "1")
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield path


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sets")
    return {
        "f50": make_images(root / "f50", 50, seed=1, hue=0),
        "f200": make_images(root / "f200", 200, seed=2, hue=1),
        "f10": make_images(root / "f10", 10, seed=3, hue=2, size=40),
    }


@pytest.fixture(scope="module")
def big(sets, tmp_path_factory) -> tuple[Result, Path]:
    """One run: 50 vs 200 images, with --kid, --json and the stats of the 50 saved."""
    s50 = tmp_path_factory.mktemp("stats") / "f50.npz"
    return run_main("eval-fid", sets["f50"], sets["f200"], "--json", "--kid", "--save-stats", s50), s50


@pytest.fixture(scope="module")
def plain_net(weights) -> FIDInception:
    return load_inception(weights)


# --- the reference: pytorch-fid 0.3.0's procedure, written plainly -----------------------------------
def plain_statistics(files: list[Path], net: FIDInception, batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """As pytorch-fid: PIL RGB, ToTensor, batches, F.interpolate 299 bilinear, 2x-1, pool3, numpy stats."""
    acts = np.empty((len(files), 2048))
    for start in range(0, len(files), batch_size):
        batch = []
        for f in files[start : start + batch_size]:
            arr = np.array(Image.open(f).convert("RGB"))
            batch.append(torch.from_numpy(arr).permute(2, 0, 1).contiguous().float().div(255))
        x = torch.stack(batch)
        with torch.no_grad():
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            pred = net(x, resize_input=False)  # the unfused network: conv, BatchNorm, ReLU
        acts[start : start + len(batch)] = pred.numpy()
    return np.mean(acts, axis=0), np.cov(acts, rowvar=False)


PYTORCH_FID_DISTANCE = """
import sys
import numpy as np
from scipy import linalg

def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):  # as pytorch-fid 0.3.0
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component")
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
print(repr(float(calculate_frechet_distance(a["mu"], a["sigma"], b["mu"], b["sigma"]))))
"""


def pytorch_fid_distance(tmp: Path, mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm of the 2048x2048 product).

    In a subprocess with single-threaded BLAS: threaded sqrtm takes minutes when another process
    holds a core, one thread ~10-20 s.
    """
    np.savez(tmp / "ref1.npz", mu=mu1, sigma=sigma1)
    np.savez(tmp / "ref2.npz", mu=mu2, sigma=sigma2)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, "-c", PYTORCH_FID_DISTANCE, str(tmp / "ref1.npz"), str(tmp / "ref2.npz")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return float(p.stdout)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".png", ".jpg"))


# --- tests ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_50_and_200_images_give_a_finite_fid_json_kid_and_stats(big):
    r, s50 = big
    assert r.code == 0, r.err
    assert len(r.out.strip().splitlines()) == 1
    res = json.loads(r.out)
    assert set(res) == {"fid", "kid_mean", "kid_std", "n_a", "n_b", "dims"}
    assert (res["n_a"], res["n_b"], res["dims"]) == (50, 200, 2048)
    assert math.isfinite(res["fid"]) and res["fid"] > 1
    assert math.isfinite(res["kid_mean"]) and res["kid_mean"] > 0 and res["kid_std"] > 0  # 50 < 1,000: subsets of 50
    st = load_stats(s50)
    assert st.n == 50 and st.mu.shape == (2048,) and st.sigma.shape == (2048, 2048)
    assert "Traceback" not in r.err


@pytest.mark.slow
def test_matches_a_plain_pytorch_fid_reference(cli, big, sets, plain_net, tmp_path):
    _, s50 = big
    r = cli("eval-fid", s50, sets["f10"], "--json")
    assert r.code == 0, r.err
    ours = json.loads(r.out)["fid"]
    mu1, sigma1 = plain_statistics(_files(sets["f50"]), plain_net)
    mu2, sigma2 = plain_statistics(_files(sets["f10"]), plain_net)
    saved = load_stats(s50)
    np.testing.assert_allclose(saved.mu, mu1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(saved.sigma, sigma1, rtol=1e-3, atol=1e-6)
    assert ours == pytest.approx(frechet_distance(mu1, sigma1, mu2, sigma2), rel=1e-4)
    assert ours == pytest.approx(pytorch_fid_distance(tmp_path, mu1, sigma1, mu2, sigma2), rel=1e-4)


def test_saved_stats_need_no_network(cli, tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    feats = np.maximum(rng.standard_normal((40, 2048)), 0)
    np.savez(tmp_path / "theirs.npz", mu=feats.mean(0), sigma=np.cov(feats, rowvar=False))  # as pytorch-fid saves
    monkeypatch.setenv("GAN_CLI_INCEPTION", "/nonexistent/weights.pth")  # never looked at
    r = cli("eval-fid", tmp_path / "theirs.npz", tmp_path / "theirs.npz", "--json", "--save-stats", tmp_path / "c.npz")
    assert r.code == 0, r.err
    res = json.loads(r.out)
    assert res["fid"] < 1e-6 and res["n_a"] is None and res["kid_mean"] is None
    assert np.array_equal(load_stats(tmp_path / "c.npz").sigma, np.cov(feats, rowvar=False))


def test_clean_resize_is_pil_bicubic_in_float_and_differs_from_legacy():
    flat = np.full((20, 30, 3), 77, np.uint8)
    np.testing.assert_allclose(clean_resize(flat), 77.0, atol=1e-3)
    ramp = np.tile(np.arange(0, 250, 10, dtype=np.uint8)[None, :, None], (25, 1, 3))
    out = clean_resize(ramp)
    assert out.shape == (299, 299, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 255 and not np.allclose(out, np.round(out))  # not re-quantised
    legacy = to_network_input([ramp], "legacy")
    clean = to_network_input([prepare(ramp, "clean")], "clean")
    assert legacy.shape == clean.shape == (1, 3, 299, 299)
    assert 0 < (legacy - clean).abs().max() < 0.1 and 0 <= clean.min() and clean.max() <= 1


def test_legacy_input_is_pytorch_fids_and_mixed_sizes_are_fine():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    got = to_network_input([a, b, a], "legacy")
    for img, row in zip((a, b, a), got):
        x = torch.from_numpy(img).permute(2, 0, 1).contiguous().float().div(255)[None]  # ToTensor
        ref = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)[0]
        assert torch.equal(row, ref)


def test_fused_network_computes_the_same_features(plain_net):
    x = torch.rand(2, 3, 75, 75)  # the smallest input Inception takes: cheap
    with torch.inference_mode():
        ref = plain_net(x, resize_input=False)
        got = plain_net.fused(channels_last=True, cpu_kernels=True)(x, resize_input=False)
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_pth_weights_with_fc_load_like_the_safetensors(weights, tmp_path):
    sd = read_state_dict(weights)
    assert len(sd) == 470
    pth = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save({**sd, "fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}, pth)
    back = read_state_dict(pth)
    assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)


def test_a_checkpoint_gives_the_fid_of_its_samples(cli, tmp_path, monkeypatch):
    pytest.importorskip("gan_cli.sampling")
    monkeypatch.chdir(tmp_path)
    data = make_folder(tmp_path / "data", n=16, mode="L")  # grayscale: 1-channel samples, RGB for Inception
    r = cli("train", "dcgan", "--data", data, "--steps", "1", "--batch-size", "8", *TINY, "--quiet", "--out", "run")
    assert r.code == 0, r.err
    ckpt = tmp_path / "run" / "generator.safetensors"
    assert cli("sample", "--weights", ckpt, "--n", "8", "--seed", "3", "--out", "samples").code == 0
    r = cli("eval-fid", "samples", ckpt, "--n", "8", "--seed", "3", "--json", "--save-stats", "samples.npz")
    assert r.code == 0, r.err
    res = json.loads(r.out)
    assert (res["n_a"], res["n_b"]) == (8, 8) and res["fid"] < 1e-6
    # Not a trivial zero: other samples of the same generator are measurably further away (the samples
    # of a 1-step generator differ little, so the scale depends on the weights: compare, not a constant).
    r = cli("eval-fid", "samples.npz", ckpt, "--n", "8", "--seed", "4", "--json")
    assert r.code == 0, r.err
    assert res["fid"] < 1e-4 * json.loads(r.out)["fid"]
    # the same through clean-fid's resize, in batches of 5
    r = cli("eval-fid", "samples", ckpt, "--n", "8", "--seed", "3", "--resize", "clean", "--batch-size", "5")
    assert r.code == 0, r.err
    assert len(r.out.splitlines()) == 1 and float(r.out) < 1e-6
    # a truncation the family does not have is refused before any image is computed
    assert_clean_error(cli("eval-fid", "samples", ckpt, "--truncation", "0.7"), 2, "truncation")
