"""The stylegan2 family and its commands through the real CLI: seeds, truncation, w+ latents, mixing, walks,
lazy regularisation intervals, and exact resume of the path-length mean and G_ema."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_clean_error
from helpers import make_folder
from PIL import Image
from safetensors.torch import load_file

from gan_cli.commands.mix import mix
from gan_cli.sampling import load_model

TINY = ["-o", "style_dim=8", "-o", "n_mlp=1", "-o", "channel_base=64", "-o", "channel_max=4", "-b", "4", "--quiet"]


@pytest.fixture
def trained(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_folder(tmp_path / "data", n=16, size=32)
    r = cli("train", "stylegan2", "--data", data, "--steps", "2", *TINY)
    assert r.code == 0, r.err
    return Path(r.out.split()[-1])


def _px(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_seeds_truncation_and_noise_modes(cli, trained):
    r = cli("sample", "stylegan2", "--seeds", "0-2,7", "--out", "s")
    assert r.code == 0 and r.out.split() == ["s/seed0000.png", "s/seed0001.png", "s/seed0002.png", "s/seed0007.png"]
    # --seeds 7 shows the image a one-image grid of --seed 7 shows
    cli("sample", "stylegan2", "--seed", "7", "--rows", "1", "--cols", "1", "--out", "g7.png")
    assert np.array_equal(_px("g7.png")[2:-2, 2:-2], _px("s/seed0007.png"))
    cli("sample", "stylegan2", "--seeds", "1-3", "--truncation", "0", "--out", "t0")
    assert np.array_equal(_px("t0/seed0001.png"), _px("t0/seed0002.png"))
    assert np.array_equal(_px("t0/seed0001.png"), _px("t0/seed0003.png"))
    assert not np.array_equal(_px("s/seed0001.png"), _px("s/seed0002.png"))
    for mode in ("const", "random", "none"):
        assert cli("sample", "stylegan2", "--seeds", "1", "--noise-mode", mode, "--out", mode).code == 0
    assert_clean_error(cli("sample", "stylegan2", "--noise-mode", "loud"), 2, "use one of const, random, none")
    assert_clean_error(cli("sample", "stylegan2", "--seeds", "5-2"), 2, "runs backwards")


def test_wplus_latents_round_trip(cli, trained):
    r = cli("sample", "stylegan2", "--seeds", "3,4", "--space", "w", "--truncation", "0.5", "--save-latents", "w.npy",
            "--out", "a")
    assert r.code == 0, r.err
    w = np.load("w.npy")
    assert w.shape == (2, 8, 8)  # [N, num_ws at 32 px, w_dim]
    assert cli("sample", "stylegan2", "--latents", "w.npy", "--n", "2", "--out", "b").code == 0
    assert _px("a/seed0003.png").tobytes() == _px("b/000000.png").tobytes()
    np.save("bad.npy", np.zeros((2, 7, 8), np.float32))
    assert_clean_error(cli("sample", "stylegan2", "--latents", "bad.npy"), 2, "w+ (N, 8, 8)")
    assert_clean_error(cli("sample", "dcgan", "--space", "w"), 2)


def test_mixing_ranges_equal_their_sources(cli, trained):
    gen = load_model(trained)
    rows = gen.ws(torch.randn(2, 8))
    cols = gen.ws(torch.randn(3, 8))
    assert torch.equal(mix(rows, cols, []), rows.repeat_interleave(3, 0))  # no layers: each cell is its row
    assert torch.equal(mix(rows, cols, list(range(8))), cols.repeat(2, 1, 1))  # all layers: its column
    coarse = mix(rows, cols, list(range(*gen.family.style_ranges()["coarse"])))
    assert torch.equal(coarse[4, :4], cols[1, :4]) and torch.equal(coarse[4, 4:], rows[1, 4:])
    r = cli("mix", "stylegan2", "--row-seeds", "1,2", "--col-seeds", "3,4,5", "--styles", "0-7", "--out", "all.png")
    assert r.code == 0, r.err
    grid = _px("all.png")
    assert grid.shape[:2] == (3 * 34 + 2, 4 * 34 + 2)
    cell = grid[36:68, 70:102]  # row 1, column 2: with every layer from column 2, it is column 2's image
    assert np.abs(cell.astype(int) - grid[2:34, 70:102].astype(int)).max() <= 1
    assert_clean_error(cli("mix", "stylegan2", "--row-seeds", "1", "--col-seeds", "2", "--styles", "huge"), 2, "coarse")


def test_interpolation_walk(cli, trained):
    r = cli("sample", "stylegan2", "--interpolate", "1,2,3", "--frames", "4", "--out", "walk.gif")
    assert r.code == 0 and Image.open("walk.gif").n_frames == 12
    r = cli("sample", "stylegan2", "--interpolate", "1,2", "--frames", "3", "--space", "w", "--out", "frames")
    assert len(r.out.split()) == 6
    # the walk starts at the first seed's image
    cli("sample", "stylegan2", "--seeds", "1", "--out", "one")
    assert np.array_equal(_px("frames/frame00000.png"), _px("one/seed0001.png"))


def test_lazy_regularisation_intervals_and_resume(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_folder(tmp_path / "data", n=16, size=32)
    args = ["--data", data, *TINY, "--ckpt-every", "100", "--sample-every", "100"]
    full = cli("train", "stylegan2", "--steps", "10", "--out", "a", *args)
    assert full.code == 0, full.err
    rows = [json.loads(x) for x in Path("a/metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1  # one record at step 10: Greg ran at steps 0, 4, 8 and Dreg at step 0
    assert {"D/loss", "Dreg/r1", "G/loss", "Greg/pl", "Greg/pl_mean"} <= rows[0].keys()
    half = cli("train", "stylegan2", "--steps", "10", "--out", "b", *args[:-4], "--ckpt-every", "6",
               "--sample-every", "100")
    assert half.code == 0
    for p in Path("b/checkpoints").glob("step-0000010*"):
        p.unlink()
    rest = cli("train", "stylegan2", "--resume", "b/checkpoints/step-0000006.safetensors", "--quiet")
    assert rest.code == 0, rest.err
    a = load_file("a/checkpoints/step-0000010.safetensors")
    b = load_file("b/checkpoints/step-0000010.safetensors")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert float(a["state.pl_mean"]) > 0 and "G_ema.w_avg" in a


@pytest.mark.parametrize("name, out_key", [("rosinality_64px.pt", "img_trunc"), ("nvlabs_32px.pkl", "img_trunc")])
def test_gan_convert_reproduces_the_reference_through_sample(cli, tmp_path, name, out_key):
    """gan convert, then the inference path every command uses: the reference's image for the same z,
    truncation 0.7 about the source's mean w, and its stored noise maps (--noise-mode const)."""
    data = Path(__file__).parent / "data" / "stylegan2"
    dst = tmp_path / "converted.safetensors"
    r = cli("convert", data / name, dst)
    assert r.code == 0, r.err
    golden = load_file(str(data / name.replace(".pt", "_outputs.safetensors").replace(".pkl", "_outputs.safetensors")))
    gen = load_model(dst)
    got = torch.cat(list(gen.generate(golden["z"], truncation=0.7, noise_mode="const")))
    want = golden[out_key].float().clamp(-1, 1)
    assert (got - want).abs().max() < 1e-4
    info = json.loads(cli("info", dst, "--json").out)
    assert info["family"] == "stylegan2" and info["kind"] == "generator"
    assert cli("mix", "--weights", dst, "--row-seeds", "1", "--col-seeds", "2", "--out", tmp_path / "m.png").code == 0


def test_minibatch_stddev_group_option():
    """-o mbstd_group sets D's minibatch-stddev group (NVlabs' CIFAR config: 32) and the batch must divide by it."""
    from gan_cli.errors import BadInput
    from gan_cli.registry import get_family, parse_options

    cls = get_family("stylegan2")
    tiny = [f"{k}={v}" for k, v in cls.tiny.items()]
    torch.manual_seed(0)
    fam4 = cls(parse_options(cls, tiny), 32, 3, 0, 3)
    fam8 = cls(parse_options(cls, [*tiny, "mbstd_group=8"]), 32, 3, 0, 3)
    D4, D8 = fam4.build()["D"], fam8.build()["D"]
    D8.load_state_dict(D4.state_dict())  # the group size is not a weight: same parameters
    x = torch.randn(8, 3, 32, 32)
    x[4:] = x[:4]  # with groups of 4 (samples i, i+2, i+4, i+6) and of 8 (all) the stddevs differ
    assert D4.stddev_group == 4 and D8.stddev_group == 8
    assert not torch.allclose(D4(x), D8(x))
    with pytest.raises(BadInput, match="multiple of 8"):
        fam8._check_batch(12)
    fam8._check_batch(16)
