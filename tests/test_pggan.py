"""The pggan family and the shared progressive-growing schedule: resolution, alpha, batch size and lr at
chosen image counts, reals at a stage, pixel norm and minibatch stddev against hand computations, exact
resume from a checkpoint saved mid-fade, sampling at every stage's size, refused growth, and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_clean_error
from helpers import make_folder
from PIL import Image
from safetensors.torch import load_file

from gan_cli.errors import BadInput
from gan_cli.io.datasets import load_data
from gan_cli.models.progressive import Stage, reals_at, stage_at
from gan_cli.nets.pggan import minibatch_stddev, pixel_norm
from gan_cli.registry import Context, get_family, parse_options
from gan_cli.sampling import load_model
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import Trainer

TINY = ["z_dim=8", "fmap_base=16", "fmap_max=4", "ema_kimg=0.01"]
# 4 images a step, 2 steps stable and 2 steps fading per resolution: 4, fade 8, 8, fade 16, 16 = steps 0-9
GROW = ["stable_kimg=0.008", "fade_kimg=0.008"]


def family(opts: list[str], size: int = 16, name: str = "pggan"):
    cls = get_family(name)
    return cls(parse_options(cls, opts), size, 1)


def trainer(tmp_path: Path, run: str, steps: int, name: str = "pggan", opts: list[str] = TINY) -> Trainer:
    cls = get_family(name)
    cfg = TrainConfig(model=name, data="synthetic", options=vars(parse_options(cls, opts + GROW)), size=16,
                      steps=steps, batch_size=4, lr=1e-3, amp="off", sample_every=steps, ckpt_every=1000)
    data = load_data(str(make_folder(tmp_path / "x", n=12, size=16)), 16, "noise")
    return Trainer(cfg, data, tmp_path / run, torch.device("cpu"), quiet=True)


@pytest.mark.parametrize(
    ("kimg", "res", "alpha", "lod"),
    [
        (0, 4, 1.0, 2.0),  # start: 4 px, stable for 2 kimg
        (2, 4, 1.0, 2.0),  # the last image before 8 px fades in
        (3, 8, 0.25, 1.75),  # a quarter into the 4 kimg fade
        (5, 8, 0.75, 1.25),
        (7, 8, 1.0, 1.0),  # stable at 8 px
        (10, 16, 0.5, 0.5),  # mid-fade of the last resolution
        (12, 16, 1.0, 0.0),
        (500, 16, 1.0, 0.0),  # the final stage stays
    ],
)
def test_stage_at_chosen_image_counts(kimg, res, alpha, lod):
    assert stage_at(kimg, 16, 4, 2.0, 4.0) == Stage(res, alpha, lod)


def test_schedule_gives_batch_size_and_lr_per_resolution():
    fam = family(TINY + ["stable_kimg=2", "fade_kimg=4", "batch_sizes=4:16,8:8", "lrs=16:0.002"])
    fam.build()
    fam.optimizers(1e-3)
    rows = [(s.batch_size, s.lr_scale, s.values) for s in (fam.schedule(Context(seen=k * 1000)) for k in (0, 3, 10))]
    assert rows[0] == (16, 1.0, {"res": 4.0, "alpha": 1.0, "lod": 2.0})
    assert rows[1] == (8, 1.0, {"res": 8.0, "alpha": 0.25, "lod": 1.75})
    assert rows[2][0] is None and rows[2][1] == pytest.approx(2.0) and rows[2][2]["alpha"] == 0.5  # --batch-size


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        (["batch_sizes=4:16,32:8"], "32 px is beyond --size 16"),
        (["lrs=64:0.001"], "64 px is beyond --size 16"),
        (["start_res=32"], "cannot grow past --size 16"),
        (["start_res=8", "batch_sizes=4:8"], "below start_res 8"),
        (["start_res=12"], "power of two"),
        (["batch_sizes=12:8"], "power-of-two resolution"),
        (["batch_sizes=8:x"], "expected entries like"),
        (["stable_kimg=0", "fade_kimg=0"], "cannot both be 0"),
    ],
)
def test_growth_beyond_size_and_bad_schedules_are_refused(opts, message):
    with pytest.raises(BadInput, match=message):
        family(TINY + opts)


def test_reals_are_box_filtered_and_faded_like_the_official_code():
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).reshape(2, 1, 16, 16)
    at8 = x.reshape(2, 1, 8, 2, 8, 2).mean((3, 5))
    assert torch.equal(reals_at(x, Stage(8, 1.0, 1.0)), at8)
    coarse = at8.reshape(2, 1, 4, 2, 4, 2).mean((3, 5)).repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(reals_at(x, Stage(8, 0.25, 1.75)), at8 + (coarse - at8) * 0.75)
    assert reals_at(x, Stage(16, 1.0, 0.0)) is x


def test_pixel_norm_and_minibatch_stddev_against_hand_computations():
    x = torch.randn(6, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    a = x.numpy().astype(np.float64)
    want = a / np.sqrt((a**2).mean(axis=1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(pixel_norm(x).numpy(), want, rtol=1e-5)
    out = minibatch_stddev(x, group_size=3).numpy()  # 6 samples: groups {0, 2, 4} and {1, 3, 5}
    assert out.shape == (6, 4, 2, 2) and np.array_equal(out[:, :3], x.numpy())
    for members in ((0, 2, 4), (1, 3, 5)):
        g = a[list(members)]
        std = np.sqrt(((g - g.mean(0)) ** 2).mean(0) + 1e-8).mean()
        for i in members:
            np.testing.assert_allclose(out[i, 3], np.full((2, 2), std), rtol=1e-5)
    with pytest.raises(ValueError, match="multiple of the minibatch stddev group"):
        minibatch_stddev(x[:5], 4)


def test_generator_fade_blends_upsampled_previous_rgb():
    fam = family(TINY)
    G = fam.build()["G"].eval()
    z = torch.randn(2, 8)
    with torch.no_grad():
        G.lod.fill_(2.0)
        old = G(z)
        G.lod.fill_(1.0)
        new = G(z)
        G.lod.fill_(1.25)
        mid = G(z)
    assert old.shape[-1] == 4 and new.shape[-1] == 8
    torch.testing.assert_close(mid, new + (old.repeat_interleave(2, 2).repeat_interleave(2, 3) - new) * 0.25)


@pytest.mark.parametrize("name", ["pggan", "stylegan"])
def test_mid_fade_checkpoint_resumes_bit_identically_and_samples_at_each_stage(tmp_path, name):
    opts = TINY if name == "pggan" else TINY + ["style_dim=8", "n_mlp=2"]
    full = trainer(tmp_path, "full", 10, name, opts)
    sizes = []
    for _ in range(10):
        full.train_step()
        res = int(full.values["res"])
        with torch.no_grad():
            out = full.family.generate(full.family.inference_nets(), torch.ones(4, 8))  # no draw from torch's rng
        assert out.shape == (4, 3, res, res)  # G_ema samples at the stage it reached
        sizes.append((res, full.values["alpha"]))
    # at a boundary (alpha 0) the net is the previous resolution's: lod 2.0 is 4 px, 1.5 is 8 px half faded in
    assert sizes == [(4, 1.0)] * 3 + [(8, 0.5)] + [(8, 1.0)] * 3 + [(16, 0.5)] + [(16, 1.0)] * 2
    full.save(final=True)
    half = trainer(tmp_path, "half", 10, name, opts)
    for _ in range(4):
        half.train_step()
    half.save(final=False)  # after step 3, half-way through fading in 8 px
    mid = tmp_path / "half" / "checkpoints" / "step-0000004.safetensors"
    gen = load_model(mid)
    assert next(iter(gen.generate(torch.randn(3, 8)))).shape == (3, 3, 8, 8)
    with torch.no_grad():
        want = half.family.generate(half.family.inference_nets(), torch.ones(2, 8))
    assert torch.equal(gen.family.generate(gen.nets, torch.ones(2, 8)), want)  # save -> reload: the same images
    rest = trainer(tmp_path, "half", 10, name, opts)
    rest.restore(mid)
    rest.run()
    a = load_file(str(tmp_path / "full" / "checkpoints" / "step-0000010.safetensors"))
    b = load_file(str(tmp_path / "half" / "checkpoints" / "step-0000010.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_cli_train_sample_info(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_folder(tmp_path / "data", n=16, size=16)
    o = [x for kv in TINY + GROW for x in ("-o", kv)]
    r = cli("train", "pggan", "--data", data, "--size", "16", "--steps", "4", "-b", "4", "--ckpt-every", "2", *o, "-q")
    assert r.code == 0, r.err
    r = cli("sample", "pggan", "--seeds", "1,2", "--out", "s")
    assert r.code == 0, r.err
    assert Image.open("s/seed0001.png").size == (8, 8)  # 4 steps: fading in 8 px
    r = cli("info", "runs/pggan-001/checkpoints/step-0000004.safetensors", "--json")
    info = json.loads(r.out)
    assert info["seen"] == 16 and info["schedule"] == {"res": 8.0, "alpha": 0.5, "lod": 1.5}
    r = cli("info", "runs/pggan-001/generator.safetensors")
    assert "16 images seen" in r.out and "res=8.0, alpha=0.5" in r.out
    assert_clean_error(cli("train", "pggan", "--data", data, "--size", "16", "-o", "batch_sizes=32:8"), 2, "beyond")
    r = cli("train", "pggan", "--data", data, "--size", "16", "--steps", "1", "-b", "6", *o, "-q")
    assert_clean_error(r, 2, "multiple of 4")


@pytest.mark.parametrize("name", ["pggan", "stylegan"])
def test_default_schedule_fits_the_default_steps(name):
    cls = get_family(name)
    o = parse_options(cls, [])
    kimg = cls.default_steps * cls.default_batch_size / 1000
    assert stage_at(kimg, 32, o.start_res, o.stable_kimg, o.fade_kimg) == Stage(32, 1.0, 0.0)
    assert math.isclose(stage_at(kimg * 0.5, 32, 4, o.stable_kimg, o.fade_kimg).res, 16)
