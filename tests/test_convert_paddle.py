"""PaddleGAN .pdparams: synthetic files with ppgan's key names and [in, out] Linears, converted by `gan convert`,
must give the same networks as the same weights in the rosinality / minivision / znxlwm layouts."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_clean_error

from gan_cli.io import checkpoint as ckpt
from gan_cli.sampling import load_model

DATA = Path(__file__).parent / "data"


def _pdparams(path: Path, sd: dict[str, torch.Tensor], protocol: int = 4) -> Path:
    """What paddle.save(layer.state_dict()) writes: numpy arrays and Paddle's name table, pickled."""
    obj = {k: v.numpy() for k, v in sd.items()}
    obj["StructuredToParameterName@@"] = {k: f"param_{i}" for i, k in enumerate(sd)}
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


def _paddle_linears(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """paddle.nn.Linear keeps its weight as [in, out]."""
    return {k: v.t().contiguous() if k.endswith(".weight") and v.ndim == 2 else v for k, v in sd.items()}


_P2C_TOP = {  # minivision module -> ppgan ResnetUGATITP2CGenerator Sequential position
    "ConvBlock1.1.": "DownBlock.1.", "HourGlass1.": "DownBlock.4.", "HourGlass2.": "DownBlock.5.",
    "DownBlock1.1.": "DownBlock.7.", "DownBlock2.1.": "DownBlock.11.", "UpBlock1.2.": "UpBlock.2.",
    "UpBlock1.3.": "UpBlock.3.", "UpBlock2.2.": "UpBlock.7.", "UpBlock2.3.": "UpBlock.8.",
    "HourGlass3.": "UpBlock.10.", "HourGlass4.": "UpBlock.11.", "ConvBlock2.1.": "UpBlock.13.",
}  # fmt: skip


def _ppgan_p2c_name(key: str) -> str | None:
    """The name ppgan gives a minivision photo2cartoon tensor (None: ppgan's net has no such tensor)."""
    if re.search(r"\.ConvBlock4\.2\.weight$", key):
        return None  # the unit's skip projection exists in ppgan only when dim_in != dim_out
    for old, new in _P2C_TOP.items():
        if key.startswith(old):
            key = new + key[len(old) :]
            break
    key = re.sub(r"\.ConvBlock(\d)_1\.", r".ConvBlockskip\1.", key)
    key = re.sub(r"\.ConvBlock(\d)_2\.", r".ConvBlock\1.", key)
    return re.sub(r"\.ConvBlock([1-3])\.3\.weight$", r".conv_block\1.3.weight", key)


def _convert(cli, src: Path, dst: str) -> Path:
    r = cli("convert", src, dst)
    assert r.code == 0, r.err
    return Path(dst)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_stylegan2_pdparams_equals_rosinality(cli, tmp_path, monkeypatch, protocol):
    monkeypatch.chdir(tmp_path)
    g_ema = torch.load(DATA / "stylegan2" / "rosinality_64px.pt", weights_only=True)["g_ema"]
    paddle_sd = {k: v for k, v in _paddle_linears(g_ema).items() if not k.endswith("conv.blur.kernel")}
    assert any(k.endswith("upsample.kernel") for k in paddle_sd)  # persistable in ppgan, kept
    src = _pdparams(tmp_path / "stylegan2-tiny.pdparams", paddle_sd, protocol)
    a = _convert(cli, src, "paddle.safetensors")
    b = _convert(cli, DATA / "stylegan2" / "rosinality_64px.pt", "rosinality.safetensors")
    ta, tb = ckpt.load(a)[0], ckpt.load(b)[0]
    assert ta.keys() == tb.keys()
    for k in ta:
        if k != "G.w_avg":  # the .pdparams has no mean w: gan-cli averages 10,000 w, as for a bare state dict
            assert torch.equal(ta[k], tb[k]), k
    ga, gb = load_model(a), load_model(b)
    z = torch.randn(2, ga.family.latent_dim(), generator=torch.Generator().manual_seed(0))
    out_a, out_b = next(ga.generate(z)), next(gb.generate(z))
    assert (out_a - out_b).abs().max() <= 1e-5
    assert ckpt.read_meta(a)["source"]["format"] == "paddle"


def test_photo2cartoon_pdparams_equals_minivision(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sd = torch.load(DATA / "ugatit" / "p2c_light_params.pt", weights_only=True)["genA2B"]
    linear_biases = [k for k in sd if k.endswith(".bias") and sd[k[:-4] + "weight"].ndim == 2]
    assert len(linear_biases) == 2 + 2 + 4 * 2 * 6  # gap/gmp, FC, and 6 per Soft-AdaLIN
    sd = {k: torch.zeros_like(v) if k in linear_biases else v for k, v in sd.items()}  # ppgan has none
    torch.save({"genA2B": sd}, tmp_path / "minivision.pt")
    paddle_sd = {}
    for k, v in _paddle_linears(sd).items():
        name = _ppgan_p2c_name(k)
        if name is not None and k not in linear_biases:
            paddle_sd[name] = v
    assert "DownBlock.4.HG.0.ConvBlockskip1.conv_block1.3.weight" in paddle_sd
    assert "UpBlock.11.HG.0.ConvBlock9.conv_block3.3.weight" in paddle_sd and "UpBlock.3.rho" in paddle_sd
    src = _pdparams(tmp_path / "photo2cartoon_genA2B_weight.pdparams", paddle_sd)
    a = _convert(cli, src, "paddle.safetensors")
    b = _convert(cli, tmp_path / "minivision.pt", "minivision.safetensors")
    ma, mb = load_model(a), load_model(b)
    assert ma.family.name == mb.family.name == "photo2cartoon"
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    diff = (ma.translate(x) - mb.translate(x)).abs().max()
    assert diff <= 1e-5, diff


def test_ugatit_pdparams_equals_znxlwm(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sd = torch.load(DATA / "ugatit" / "ugatit_light_params.pt", weights_only=True)["genA2B"]
    torch.save({"genA2B": sd}, tmp_path / "znxlwm.pt")
    src = _pdparams(tmp_path / "ugatit.pdparams", _paddle_linears(sd))  # ppgan keeps U-GAT-IT's names
    ma = load_model(_convert(cli, src, "a.safetensors"))
    mb = load_model(_convert(cli, tmp_path / "znxlwm.pt", "b.safetensors"))
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    assert (ma.translate(x) - mb.translate(x)).abs().max() <= 1e-5


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", ["reduce", "object_array", "eval"])
def test_malicious_pdparams_is_refused_and_never_runs(cli, tmp_path, payload):
    marker = tmp_path / "ran"
    good = {"style.1.weight": np.zeros((4, 4), np.float32)}
    bad = {
        "reduce": {**good, "evil": _RunsCommand(marker)},
        "object_array": {**good, "evil": np.array([1, "x"], dtype=object)},
        "eval": {**good, "evil": _Eval(marker)},
    }[payload]
    src = tmp_path / "evil.pdparams"
    src.write_bytes(pickle.dumps(bad, protocol=4))
    r = cli("convert", src, tmp_path / "out.safetensors")
    assert_clean_error(r, 2, "refusing to load the .pdparams")
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()


class _Eval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


def test_pdparams_of_another_net_is_named(cli, tmp_path):
    src = _pdparams(tmp_path / "x.pdparams", {"backbone.conv.weight": torch.zeros(2, 2, 1, 1)})
    assert_clean_error(cli("convert", src, tmp_path / "o.safetensors"), 2, "not a PaddleGAN StyleGANv2Generator")
    (tmp_path / "t.pdparams").write_bytes(b"\x80\x04not a pickle")
    assert_clean_error(cli("convert", tmp_path / "t.pdparams", tmp_path / "o.safetensors"), 2, "not a readable")
