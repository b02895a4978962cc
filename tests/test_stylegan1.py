"""The stylegan (v1) family: AdaIN epilogue and blur against hand computations, truncation with its cutoff,
style mixing during training within the stage's layers, and `gan sample` / `gan mix` through the real CLI
(w+ latents, mixing ranges, sizes at the stage reached). Growth and mid-fade resume: tests/test_pggan.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_clean_error
from helpers import make_folder
from PIL import Image

from gan_cli.commands.mix import mix
from gan_cli.nets.stylegan import Epilogue, blur, instance_norm
from gan_cli.registry import Context, get_family, parse_options
from gan_cli.sampling import load_model

OPTS = ["z_dim=8", "style_dim=8", "n_mlp=2", "fmap_base=16", "fmap_max=4", "ema_kimg=0.01"]
GROW = ["stable_kimg=0.008", "fade_kimg=0.008"]  # 4 images a step: 32 px from step 11 on


def family(opts: list[str] = OPTS, size: int = 32):
    cls = get_family("stylegan")
    fam = cls(parse_options(cls, opts), size, 1)
    fam.build()
    fam.prepare_training(torch.device("cpu"))
    return fam


def test_epilogue_blur_and_instance_norm_by_hand():
    epi = Epilogue(2, 3)
    with torch.no_grad():
        epi.noise_strength.copy_(torch.tensor([0.5, -1.0]))
        epi.bias.copy_(torch.tensor([0.1, 0.2]))
        epi.style.weight.normal_()
        epi.style.bias.normal_()
    x, w, noise = torch.randn(2, 2, 3, 3), torch.randn(2, 3), torch.randn(2, 1, 3, 3)
    h = x + noise * torch.tensor([0.5, -1.0]).view(1, 2, 1, 1) + torch.tensor([0.1, 0.2]).view(1, 2, 1, 1)
    h = torch.where(h > 0, h, 0.2 * h)
    h = (h - h.mean((2, 3), keepdim=True)) / (h.var((2, 3), unbiased=False, keepdim=True) + 1e-8).sqrt()
    style = w @ (epi.style.weight / np.sqrt(3)).t() + epi.style.bias  # gain 1, equalized lr
    want = h * (1 + style[:, :2, None, None]) + style[:, 2:, None, None]
    torch.testing.assert_close(epi(x, w, noise), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(instance_norm(x).mean((2, 3)), torch.zeros(2, 2), rtol=0, atol=1e-6)
    img = torch.zeros(1, 1, 5, 5)
    img[0, 0, 2, 2] = 16.0
    k = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]])
    assert torch.equal(blur(img)[0, 0, 1:4, 1:4], k)


def test_truncation_applies_below_the_cutoff_only():
    fam = family(OPTS + ["truncation_cutoff=2"])
    G = fam.nets["G"].eval()
    G.w_avg.normal_()
    z = torch.randn(3, 8)
    with torch.no_grad():
        free, zero = fam.ws(fam.nets, z), fam.ws(fam.nets, z, truncation=0.0)
        half = fam.ws(fam.nets, z, truncation=0.5)
    assert free.shape == (3, fam.num_ws(), 8) == (3, 8, 8)
    assert torch.equal(zero[:, :2], G.w_avg.expand(3, 2, 8)) and torch.equal(zero[:, 2:], free[:, 2:])
    torch.testing.assert_close(half[:, :2], (G.w_avg + free[:, :2]) / 2)


def test_style_mixing_cutoff_stays_within_the_stage_layers():
    fam = family(OPTS + ["mixing=1"])
    G = fam.nets["G"]
    seen_cuts = set()
    captured = {}
    real_synthesis = G.synthesis

    def spy(ws, *a, **k):
        captured["ws"] = ws
        return real_synthesis(ws, *a, **k)

    G.synthesis = spy
    ctx = Context(values={"res": 8.0, "alpha": 1.0, "lod": 2.0})  # 8 px of 32: layers 0-3 in use
    for _ in range(20):
        with torch.no_grad():
            assert fam._fakes(2, ctx).shape == (2, 1, 8, 8)
        ws = captured["ws"]
        first_change = next(i for i in range(1, 8) if not torch.equal(ws[:, i], ws[:, 0]))
        seen_cuts.add(first_change)
    assert seen_cuts == {1, 2, 3}  # the official randint(1, cur_layers): a crossover inside the active layers


@pytest.fixture
def trained(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_folder(tmp_path / "data", n=16, size=32)
    o = [x for kv in OPTS + GROW for x in ("-o", kv)]
    r = cli("train", "stylegan", "--data", data, "--steps", "12", "-b", "4", "--ckpt-every", "4", *o, "--quiet")
    assert r.code == 0, r.err
    return Path(r.out.split()[-1])


def _px(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_sample_mix_and_stage_sizes_through_the_cli(cli, trained):
    r = cli("sample", "stylegan", "--seeds", "1,2", "--space", "w", "--truncation", "0.7", "--save-latents", "w.npy",
            "--out", "a")
    assert r.code == 0, r.err
    assert np.load("w.npy").shape == (2, 8, 8) and Image.open("a/seed0001.png").size == (32, 32)
    assert cli("sample", "stylegan", "--latents", "w.npy", "--n", "2", "--out", "b").code == 0
    assert _px("a/seed0001.png").tobytes() == _px("b/000000.png").tobytes()
    for mode in ("const", "random", "none"):
        assert cli("sample", "stylegan", "--seeds", "1", "--noise-mode", mode, "--out", mode).code == 0
    # an earlier checkpoint samples at its stage: after 8 steps 16 px is half faded in
    early = trained.parent / "step-0000008.safetensors"
    assert cli("sample", "--weights", early, "--seeds", "3", "--out", "e").code == 0
    assert Image.open("e/seed0003.png").size == (16, 16)
    assert_clean_error(cli("sample", "stylegan", "--noise-mode", "loud"), 2, "use one of const, random, none")


@pytest.mark.parametrize(("styles", "same_as"), [("fine", "row"), ("0-7", "col"), ("coarse", None)])
def test_mixing_ranges(cli, trained, styles, same_as):
    r = cli("mix", "stylegan", "--row-seeds", "1,2", "--col-seeds", "3,4,5", "--styles", styles, "--out", "m.png")
    assert r.code == 0, r.err
    g = _px("m.png")
    assert g.shape[:2] == (3 * 34 + 2, 4 * 34 + 2)  # 32 px cells, 2 px padding

    def tile(i, j):
        return g[2 + i * 34 : 34 + i * 34, 2 + j * 34 : 34 + j * 34]

    for i in (1, 2):
        for j in (1, 2, 3):
            if same_as == "row":  # fine: no layer at 32 px, cells are their row's image
                assert np.array_equal(tile(i, j), tile(i, 0))
            elif same_as == "col":  # every layer from the column
                assert np.array_equal(tile(i, j), tile(0, j))
            else:
                assert not np.array_equal(tile(i, j), tile(i, 0)) and not np.array_equal(tile(i, j), tile(0, j))


def test_mix_function_with_loaded_model(trained):
    gen = load_model(trained)
    assert gen.nets["G"].w_center.abs().sum() > 0  # training centred w, and the checkpoint keeps it
    rows, cols = gen.ws(torch.randn(2, 8)), gen.ws(torch.randn(3, 8))
    cells = mix(rows, cols, [0, 1])
    assert cells.shape == (6, 8, 8)
    assert torch.equal(cells[4, :2], cols[1, :2]) and torch.equal(cells[4, 2:], rows[1, 2:])


def test_centred_w_has_zero_mean_and_folds_into_the_style_biases():
    """center_w (the default) subtracts the new mapping's mean w; the same G with w_center folded into each style
    layer's bias (b - A c) and no centring gives the same images: the paper's function class, reparametrised."""
    fam = family()
    G = fam.nets["G"].eval()
    assert G.w_center.abs().sum() > 0
    z = torch.randn(4096, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        w = G.mapping(z)
    assert w.mean(0).abs().max() < 0.1 * w.std(0).mean()
    plain = family(OPTS + ["center_w=false"]).nets["G"].eval()
    assert torch.equal(plain.w_center, torch.zeros(8))
    plain.load_state_dict(G.state_dict())
    c = G.w_center.clone()
    with torch.no_grad():
        plain.w_center.zero_()
        for epi in (m for m in plain.modules() if isinstance(m, Epilogue)):
            epi.style.bias.sub_(F.linear(c, epi.style.weight * epi.style.scale) / epi.style.lr_mul)
        ws, ws_plain = (g.mapping(z[:3]).unsqueeze(1).repeat(1, g.num_ws, 1) for g in (G, plain))
        torch.testing.assert_close(plain.synthesis(ws_plain), G.synthesis(ws), rtol=1e-5, atol=1e-5)


def test_a_checkpoint_without_w_center_loads_uncentred():
    G = family().nets["G"]
    state = {k: v for k, v in G.state_dict().items() if k != "w_center"}
    G.load_state_dict(state)
    assert torch.equal(G.w_center, torch.zeros(8))
