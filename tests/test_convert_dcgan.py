"""`gan convert netG.pth`: DCGAN generators of pytorch/examples (dcgan/main.py) and the PyTorch DCGAN tutorial.

The state dicts here are built by hand with the official key names and shapes (`main.<i>.*`, a transposed
convolution at i = 0, 3, ..., a BatchNorm after each but the last), and the expected images are computed
from those tensors with plain torch.nn.functional calls, in eval mode: no gan-cli module in the reference.
(Against the real pytorch/examples Generator class, random weights and BatchNorm statistics: max abs
diff 0, float and uint8; see the report of the branch that added this converter.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors import safe_open

from gan_cli.sampling import load_model


def official_state_dict(nz: int = 100, ngf: int = 64, nc: int = 3, size: int = 64, seed: int = 0) -> dict:
    """netG.state_dict() as pytorch/examples saves it, with random weights and trained-like BN statistics."""
    g = torch.Generator().manual_seed(seed)
    levels = int(np.log2(size)) - 2
    widths = [nz] + [ngf * 2 ** (levels - 1 - i) for i in range(levels)] + [nc]
    sd = {}
    for k, (cin, cout) in enumerate(zip(widths[:-1], widths[1:])):
        sd[f"main.{3 * k}.weight"] = torch.randn(cin, cout, 4, 4, generator=g) * 0.05
        if k < levels:
            bn = f"main.{3 * k + 1}"
            sd[f"{bn}.weight"] = 1 + 0.1 * torch.randn(cout, generator=g)
            sd[f"{bn}.bias"] = 0.1 * torch.randn(cout, generator=g)
            sd[f"{bn}.running_mean"] = 0.5 * torch.randn(cout, generator=g)
            sd[f"{bn}.running_var"] = 0.5 + 1.5 * torch.rand(cout, generator=g)
            sd[f"{bn}.num_batches_tracked"] = torch.tensor(1234)
    return sd


def reference_forward(sd: dict, z: torch.Tensor) -> torch.Tensor:
    """The official generator, eval mode, written out: (ConvT, BN, ReLU) x L, ConvT, Tanh."""
    x = z.view(z.shape[0], -1, 1, 1)
    convs = sorted(int(k.split(".")[1]) for k in sd if k.endswith(".weight") and sd[k].dim() == 4)
    for i in convs:
        x = F.conv_transpose2d(x, sd[f"main.{i}.weight"], stride=1 if i == 0 else 2, padding=0 if i == 0 else 1)
        if i != convs[-1]:
            bn = f"main.{i + 1}"
            x = F.batch_norm(x, sd[f"{bn}.running_mean"], sd[f"{bn}.running_var"], sd[f"{bn}.weight"],
                             sd[f"{bn}.bias"], training=False, eps=1e-5)  # fmt: skip
            x = F.relu(x)
    return torch.tanh(x)


@pytest.mark.parametrize("nc, size, ngf", [(3, 64, 8), (1, 64, 4), (3, 32, 4)])
def test_a_netG_converts_key_for_key_and_samples_the_same_images(cli, tmp_path, nc, size, ngf):
    sd = official_state_dict(nz=100, ngf=ngf, nc=nc, size=size)
    torch.save(sd, tmp_path / "netG_epoch_24.pth")
    r = cli("convert", tmp_path / "netG_epoch_24.pth", tmp_path / "g.safetensors")
    assert r.code == 0 and r.out.strip() == str(tmp_path / "g.safetensors"), r.err
    assert f"DCGAN generator {size} px, nz 100, ngf {ngf}, nc {nc} -> dcgan" in r.err
    with safe_open(str(tmp_path / "g.safetensors"), "pt") as f:
        assert set(f.keys()) == {f"G.{k}" for k in sd}  # every key consumed, nothing added
        assert all(torch.equal(f.get_tensor(f"G.{k}"), v) for k, v in sd.items())
    model = load_model(tmp_path / "g.safetensors")
    z = torch.randn(6, 100, generator=torch.Generator().manual_seed(1))
    out = torch.cat(list(model.generate(z)))
    ref = reference_forward(sd, z)
    assert out.shape == (6, nc, size, size) and (out - ref).abs().max() < 1e-5
    # gan sample with the same z writes those images (uint8 within 1)
    np.save(tmp_path / "z.npy", z.numpy())
    r = cli("sample", "--weights", tmp_path / "g.safetensors", "--latents", tmp_path / "z.npy", "--n", "6",
            "--out", tmp_path / "png")  # fmt: skip
    assert r.code == 0, r.err
    pngs = np.stack([np.asarray(Image.open(p)) for p in sorted((tmp_path / "png").glob("*.png"))]).astype(int)
    want = ((ref.clamp(-1, 1) + 1) * 127.5).round().permute(0, 2, 3, 1).numpy().astype(int)
    assert np.abs(pngs.reshape(want.shape) - want).max() <= 1


def test_dataparallel_prefix_and_explicit_format(cli, tmp_path):
    sd = {f"module.{k}": v for k, v in official_state_dict(ngf=4).items()}
    torch.save(sd, tmp_path / "netG.pth")
    r = cli("convert", tmp_path / "netG.pth", tmp_path / "g.safetensors", "--from", "dcgan")
    assert r.code == 0, r.err
    assert load_model(tmp_path / "g.safetensors").family.opts.ngf == 4


def _refused(cli, tmp_path: Path, sd: object, message: str) -> None:
    torch.save(sd, tmp_path / "netG.pth")
    r = cli("convert", tmp_path / "netG.pth", tmp_path / "g.safetensors")
    assert r.code == 2 and r.out == "" and not (tmp_path / "g.safetensors").exists(), r.err
    assert len(r.err.splitlines()) == 1 and message in r.err, r.err


def test_a_wrong_shape_says_what_it_found(cli, tmp_path):
    sd = official_state_dict(ngf=4)
    sd["main.3.weight"] = torch.zeros(32, 8, 3, 3)
    _refused(cli, tmp_path, sd, "wrong shapes main.3.weight (32, 8, 3, 3) (expected (32, 16, 4, 4))")


def test_missing_and_extra_keys_are_named(cli, tmp_path):
    sd = official_state_dict(ngf=4)
    del sd["main.4.running_var"]
    sd["main.2.weight"] = torch.zeros(3)
    _refused(cli, tmp_path, sd, "missing main.4.running_var; unexpected main.2.weight")


def test_a_discriminator_file_is_named(cli, tmp_path):
    netd = {"main.0.weight": torch.zeros(4, 3, 4, 4), "main.2.weight": torch.zeros(8, 4, 4, 4),
            "main.3.weight": torch.ones(8), "main.3.bias": torch.zeros(8)}  # fmt: skip
    _refused(cli, tmp_path, netd, "a DCGAN discriminator (netD): convert the generator file (netG) instead")


def test_an_unsupported_size_or_channel_count(cli, tmp_path):
    _refused(cli, tmp_path, official_state_dict(ngf=2, nc=4), "gan-cli's dcgan runs 32, 64 or 128 px with 1 or 3")
    _refused(cli, tmp_path, official_state_dict(ngf=2, size=16), "16 px")
