"""Every registered family: builds at its sizes, saves and reloads exactly, and rejects bad options."""

from __future__ import annotations

import pytest
import torch

from gan_cli.errors import BadInput
from gan_cli.io import checkpoint as ckpt
from gan_cli.registry import family_names, get_family, parse_options
from gan_cli.sampling import load_generator
from gan_cli.train.state import model_meta, save_generator

FAMILIES = family_names()


def _build(name: str, size: int = 32, channels: int = 1):
    cls = get_family(name)
    fam = cls(parse_options(cls, ["ngf=8", "ndf=8"]), size, channels, 10 if cls.task == "class" else 0)
    fam.build()
    return fam


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3)])
def test_shapes(name, size, channels):
    fam = _build(name, size, channels)
    z = torch.randn(3, fam.latent_dim())
    y = torch.tensor([0, 1, 2]) if fam.task == "class" else None
    x = fam.generate(fam.nets["G"], z, y)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert fam.D(x, y).shape == (3,)


@pytest.mark.parametrize("name", FAMILIES)
def test_save_reload_gives_identical_outputs(name, tmp_path):
    torch.manual_seed(0)
    fam = _build(name)
    cfg = {"options": vars(fam.opts)}
    meta = model_meta(fam, cfg, [str(i) for i in range(10)] if fam.task == "class" else [], 7, "synthetic")
    path = save_generator(tmp_path / "g.safetensors", fam, meta)
    gen = load_generator(path)
    z = torch.randn(4, fam.latent_dim())
    y = torch.tensor([1, 2, 3, 4]) if fam.task == "class" else None
    fam.nets["G"].eval()
    with torch.no_grad():
        expected = fam.generate(fam.nets["G"], z, y)
    got = next(gen.generate(z, y))
    assert torch.equal(expected, got)
    assert gen.meta["step"] == 7 and gen.family.name == name


def test_strict_options():
    cls = get_family("wgan-gp")
    assert parse_options(cls, ["n_critic=3", "gp-lambda=5"]).n_critic == 3
    with pytest.raises(BadInput, match="valid options: z_dim"):
        parse_options(cls, ["clip=0.1"])
    with pytest.raises(BadInput, match="expected a int"):
        parse_options(cls, ["n_critic=five"])
    with pytest.raises(BadInput, match="key=value"):
        parse_options(cls, ["n_critic"])


def test_truncated_and_foreign_checkpoints(tmp_path):
    fam = _build("dcgan")
    path = save_generator(tmp_path / "g.safetensors", fam, model_meta(fam, {"options": vars(fam.opts)}, [], 1, "x"))
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="truncated"):
        load_generator(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"hello")
    with pytest.raises(BadInput, match="not a safetensors"):
        load_generator(tmp_path / "junk.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(BadInput, match="not a gan-cli checkpoint"):
        load_generator(tmp_path / "plain.safetensors")
    with pytest.raises(BadInput, match="is a dcgan checkpoint, not wgan"):
        load_generator(path, expect="wgan")
    # same family name, different architecture: a clear mismatch, not a traceback
    tensors, meta = ckpt.load(path)
    meta["options"]["ngf"] = 16
    ckpt.save(tmp_path / "wrong.safetensors", tensors, meta)
    with pytest.raises(BadInput, match="do not fit"):
        load_generator(tmp_path / "wrong.safetensors")
