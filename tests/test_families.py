"""What every registered family must pass, from its declared `tiny` options alone: build, shapes, one
training step with finite losses, save -> reload -> the same outputs, and bit-identical resume.
A new family gets these tests for free by being registered."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_class_folders, make_folder
from safetensors.torch import load_file

from gan_cli.errors import BadInput
from gan_cli.io import checkpoint as ckpt
from gan_cli.io.datasets import load_data
from gan_cli.registry import TRANSLATION, family_names, get_family, parse_options
from gan_cli.sampling import load_model
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import Trainer
from gan_cli.train.state import model_meta, save_generator

FAMILIES = family_names()


def _data(tmp_path: Path, task: str, size: int):
    if task == "class":
        return load_data(str(make_class_folders(tmp_path / "c", n=6, size=size)), size, task)
    if task in TRANSLATION:
        a = make_folder(tmp_path / "A", n=6, size=size, mode="L")
        b = make_folder(tmp_path / "B", n=6, size=size, seed=1)
        return load_data(str(a), size, task, str(b))
    return load_data(str(make_folder(tmp_path / "x", n=8, size=size)), size, task)


def _build(name: str, size: int | None = None, channels: int = 1):
    cls = get_family(name)
    size = size or cls.sizes[0]
    fam = cls(
        parse_options(cls, [f"{k}={v}" for k, v in cls.tiny.items()]), size, channels, 10 if cls.task == "class" else 0
    )
    fam.build()
    return fam


def _trainer(tmp_path: Path, name: str, run: str, steps: int) -> Trainer:
    cls = get_family(name)
    size = cls.sizes[0]
    opts = parse_options(cls, [f"{k}={v}" for k, v in cls.tiny.items()])
    cfg = TrainConfig(
        model=name,
        data="synthetic",
        options=vars(opts),
        size=size,
        steps=steps,
        batch_size=2,
        lr=1e-3,
        amp="off",
        sample_every=steps,
        ckpt_every=1000,
        log_every=1,
    )
    return Trainer(cfg, _data(tmp_path, cls.task, size), tmp_path / run, torch.device("cpu"), quiet=True)


def _inputs(fam, n: int = 3):
    torch.manual_seed(1)
    if fam.task in TRANSLATION:
        return {"x": torch.rand(n, fam.in_channels, fam.size, fam.size) * 2 - 1}
    y = torch.arange(n) % fam.num_classes if fam.task == "class" else None
    return {"z": torch.randn(n, fam.latent_dim()), "y": y}


def _run(fam, nets, inputs):
    with torch.no_grad():
        if "x" in inputs:
            return fam.translate(nets, inputs["x"], "AtoB")
        return fam.generate(nets, inputs["z"], inputs["y"])


@pytest.mark.parametrize("name", FAMILIES)
def test_declares_what_the_contract_needs(name):
    cls = get_family(name)
    assert cls.summary and cls.sizes and cls.inference
    parse_options(cls, [f"{k}={v}" for k, v in cls.tiny.items()])  # tiny options are valid options


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size(name, channels):
    for size in get_family(name).sizes[:2]:
        fam = _build(name, size, channels)
        out = _run(fam, fam.inference_nets(), _inputs(fam))
        assert out.shape == (3, channels, size, size)
        assert torch.isfinite(out).all()  # images in about [-1, 1]; inference clamps (StyleGAN2 has no tanh)


@pytest.mark.parametrize("name", FAMILIES)
def test_one_step_then_reload_gives_the_same_outputs(name, tmp_path):
    t = _trainer(tmp_path, name, "run", 1)
    path = t.run()
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert rows and "nan" not in rows[-1].lower() and (tmp_path / "run" / "samples" / "step-0000001.png").exists()
    fam = t.family
    meta = model_meta(fam, vars(fam.opts), [str(i) for i in range(fam.num_classes)], 1, "synthetic")
    gen_path = save_generator(tmp_path / "g.safetensors", fam, meta)
    nets = fam.inference_nets()
    for m in nets.values():
        m.eval()
    inputs = _inputs(fam)
    expected = _run(fam, nets, inputs)
    for source in (gen_path, path):  # generator-only and full checkpoints load the same nets
        loaded = load_model(source)
        assert torch.equal(expected, _run(loaded.family, loaded.nets, inputs)), source


@pytest.mark.parametrize("name", FAMILIES)
def test_resume_is_bit_identical(name, tmp_path):
    full = _trainer(tmp_path, name, "full", 4)
    full.run()
    half = _trainer(tmp_path, name, "half", 4)
    for _ in range(2):
        half.train_step()
    half.save(final=False)
    rest = _trainer(tmp_path, name, "half", 4)
    rest.restore(tmp_path / "half" / "checkpoints" / "step-0000002.safetensors")
    rest.run()
    a = load_file(str(tmp_path / "full" / "checkpoints" / "step-0000004.safetensors"))
    b = load_file(str(tmp_path / "half" / "checkpoints" / "step-0000004.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_strict_and_ranged_options():
    cls = get_family("wgan-gp")
    assert parse_options(cls, ["n_critic=3", "gp-lambda=5"]).n_critic == 3
    with pytest.raises(BadInput, match="valid options: z_dim"):
        parse_options(cls, ["clip=0.1"])
    with pytest.raises(BadInput, match="expected a int"):
        parse_options(cls, ["n_critic=five"])
    with pytest.raises(BadInput, match="key=value"):
        parse_options(cls, ["n_critic"])
    with pytest.raises(BadInput, match="must be 1 to 1024"):
        parse_options(cls, ["ngf=-4"])
    with pytest.raises(BadInput, match="must be 0 to 1"):
        parse_options(cls, ["beta1=5"])
    with pytest.raises(BadInput, match="checkpoint option z_dim"):
        parse_options(cls, None, {"z_dim": -5})


def test_truncated_and_foreign_checkpoints(tmp_path):
    fam = _build("dcgan")
    path = save_generator(tmp_path / "g.safetensors", fam, model_meta(fam, vars(fam.opts), [], 1, "x"))
    data = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInput, match="truncated"):
        load_model(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"hello")
    with pytest.raises(BadInput, match="not a safetensors"):
        load_model(tmp_path / "junk.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(BadInput, match="not a gan-cli checkpoint"):
        load_model(tmp_path / "plain.safetensors")
    with pytest.raises(BadInput, match="is a dcgan checkpoint, not wgan"):
        load_model(path, expect="wgan")
    # same family name, different architecture: a clear mismatch, not a traceback
    tensors, meta = ckpt.load(path)
    meta["options"]["ngf"] = 16
    ckpt.save(tmp_path / "wrong.safetensors", tensors, meta)
    with pytest.raises(BadInput, match="do not fit"):
        load_model(tmp_path / "wrong.safetensors")


def test_checkpoint_format_versions(tmp_path):
    fam = _build("dcgan")
    path = save_generator(tmp_path / "g.safetensors", fam, model_meta(fam, vars(fam.opts), [], 1, "x"))
    tensors, meta = ckpt.load(path)
    assert meta["format"] == "gan-cli/2"
    ckpt.save(tmp_path / "v1.safetensors", tensors, {**meta, "format": "gan-cli/1"})
    ckpt.read_meta(tmp_path / "v1.safetensors")  # older files still read
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "v99.safetensors"), {"gan_cli": '{"format": "gan-cli/99"}'})
    with pytest.raises(BadInput, match="written by a newer gan-cli"):
        ckpt.read_meta(tmp_path / "v99.safetensors")
    save_file({"w": torch.zeros(1)}, str(tmp_path / "list.safetensors"), {"gan_cli": "[1, 2]"})
    with pytest.raises(BadInput, match="unknown checkpoint format"):
        ckpt.read_meta(tmp_path / "list.safetensors")


def test_non_finite_weights_are_refused_by_sample_and_export(cli, tmp_path):
    fam = _build("dcgan")
    path = save_generator(tmp_path / "g.safetensors", fam, model_meta(fam, vars(fam.opts), [], 1, "x"))
    tensors, meta = ckpt.load(path)
    tensors["G.main.0.weight"][0, 0, 0, 0] = float("nan")
    ckpt.save(tmp_path / "nan.safetensors", tensors, meta)
    with pytest.raises(BadInput, match="G.main.0.weight holds NaN"):
        load_model(tmp_path / "nan.safetensors")
    r = cli("export", tmp_path / "nan.safetensors", tmp_path / "out.safetensors")
    assert r.code == 2 and "holds NaN" in r.err and not (tmp_path / "out.safetensors").exists()
