"""`gan train --init`: a new run from another checkpoint's weights (fresh optimizers, step 0, new data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import assert_clean_error
from helpers import make_folder
from safetensors.torch import load_file

from gan_cli.io.datasets import load_data
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import Trainer

ROSINALITY = Path(__file__).parent / "data" / "stylegan2" / "rosinality_64px.pt"
FAST = ["--batch-size", "4", "--quiet", "--sample-every", "100", "--ckpt-every", "100"]
TINY = ["-o", "ngf=4", "-o", "ndf=4", "-o", "z_dim=8"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_CLI_OFFLINE", "1")


def _base_run(cli, tmp_path: Path) -> Path:
    data = make_folder(tmp_path / "all", n=12)
    r = cli("train", "dcgan", "--data", data, "--steps", "3", "--out", "base", *TINY, *FAST)
    assert r.code == 0, r.err
    return Path(r.out.split()[-1])


def _trainer(model: str, data: Path, options: dict, size: int, run: Path) -> Trainer:
    cfg = TrainConfig(model=model, data=str(data), options=options, size=size, batch_size=2, amp="off")
    dataset = load_data(cfg.data, cfg.size, "noise", None, "AtoB", False)
    return Trainer(cfg, dataset, run, torch.device("cpu"), quiet=True)


def test_init_copies_every_net_and_starts_fresh(cli, tmp_path):
    base = _base_run(cli, tmp_path)
    saved = load_file(str(base))
    meta = json.loads(cli("info", base, "--json").out)
    trainer = _trainer("dcgan", make_folder(tmp_path / "kids", n=6, seed=3), meta["options"], 32, tmp_path / "t")
    trainer.initialize(base)
    for name in ("G", "D"):
        for key, t in trainer.family.nets[name].state_dict().items():
            assert torch.equal(t, saved[f"{name}.{key}"]), f"{name}.{key}"
    assert trainer.step == 0 and trainer.seen == 0
    assert all(not opt.state for opt in trainer.optims.values())  # no moments carried over

    # through the CLI: a new run on the new data, its optimizers counting from 1
    r = cli("train", "dcgan", "--data", "kids", "--init", "base", "--steps", "1", "--out", "kid", *FAST)
    assert r.code == 0, r.err
    assert "initialised G, D from" in r.err
    ckpt = Path(r.out.split()[-1])
    assert ckpt.name == "step-0000001.safetensors"
    cfg = json.loads(Path("kid/config.json").read_text())
    assert cfg["init"] == str(base) and cfg["data"] == "kids" and cfg["options"]["ngf"] == 4
    steps = {k: v for k, v in load_file(str(ckpt)).items() if k.startswith("opt.") and k.endswith(".step")}
    assert steps and all(float(v) == 1.0 for v in steps.values()), steps


def test_init_from_generator_only_leaves_d_fresh(cli, tmp_path):
    base = _base_run(cli, tmp_path)
    gen = Path("base/generator.safetensors")
    saved = load_file(str(gen))
    meta = json.loads(cli("info", base, "--json").out)
    trainer = _trainer("dcgan", Path("all"), meta["options"], 32, tmp_path / "t")
    fresh_d = {k: v.clone() for k, v in trainer.family.nets["D"].state_dict().items()}
    trainer.initialize(gen)
    for key, t in trainer.family.nets["G"].state_dict().items():
        assert torch.equal(t, saved[f"G.{key}"]), key
    for key, t in trainer.family.nets["D"].state_dict().items():
        assert torch.equal(t, fresh_d[key]), key


def test_init_from_a_converted_stylegan2(cli, tmp_path):
    assert cli("convert", ROSINALITY, "ffhq.safetensors").code == 0
    make_folder(tmp_path / "faces", n=4, size=64)
    conv = load_file("ffhq.safetensors")
    meta = json.loads(cli("info", "ffhq.safetensors", "--json").out)
    trainer = _trainer("stylegan2", Path("faces"), meta["options"], 64, tmp_path / "t")
    trainer.initialize(Path("ffhq.safetensors"))
    for name in ("G", "G_ema"):  # the file has no G_ema: it starts as a copy of G, as in any run
        for key, t in trainer.family.nets[name].state_dict().items():
            assert torch.equal(t, conv[f"G.{key}"]), f"{name}.{key}"
    r = cli("train", "stylegan2", "--data", "faces", "--init", "ffhq.safetensors", "--steps", "1", "--out", "ft", *FAST)
    assert r.code == 0, r.err
    assert "initialised G from ffhq.safetensors (G_ema = G; D fresh: not in the file)" in r.err


def test_init_refusals_name_the_problem(cli, tmp_path):
    base = _base_run(cli, tmp_path)
    make_folder(tmp_path / "big", n=4, size=64)
    make_folder(tmp_path / "grey", n=4, mode="L")
    cases = [
        (["train", "lsgan", "--data", "all", "--init", base], "a dcgan checkpoint, not lsgan"),
        (["train", "dcgan", "--data", "all", "--init", base, "-o", "ngf=8"], "G.main.0.weight is [8, 16, 4, 4] in the"),
        (["train", "dcgan", "--data", "all", "--init", base, "-o", "ngf=8"], "checkpoint but [8, 32, 4, 4] here"),
        (["train", "dcgan", "--data", "all", "--init", base, "-o", "ngf=8"], "-o ngf=8 (was 4)"),
        (["train", "dcgan", "--data", "big", "--init", base, "--size", "64"], "trained at 32 px"),
        (["train", "dcgan", "--data", "grey", "--init", base], "3 image channels, the data 1"),
        (["train", "dcgan", "--data", "all", "--init", base, "--resume", "base"], "not both"),
        (["train", "dcgan", "--data", "all", "--init", "nowhere.safetensors"], "no such run folder"),
    ]
    for args, message in cases:
        assert_clean_error(cli(*args, *FAST), 2, message)
    assert not Path("runs").exists()  # nothing was started
