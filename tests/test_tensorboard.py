"""`gan train --tensorboard`: the metrics.jsonl records and preview grids as TensorBoard events."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import TINY, make_folder

FAST = ["--batch-size", "4", *TINY, "--quiet", "--sample-every", "10", "--ckpt-every", "10"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_CLI_OFFLINE", "1")


def _events(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_events_hold_the_metrics_records_and_the_preview_grids(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=8, size=16)
    r = cli("train", "dcgan", "--data", data, "--steps", "20", "--out", "run", "--tensorboard", *FAST)
    assert r.code == 0, r.err
    acc = _events(Path("run"))
    records = _metrics(Path("run"))
    for key in ("D/loss", "G/loss", "D/D(x)", "img_s", "kimg"):
        events = acc.Scalars(key)
        assert [e.step for e in events] == [rec["step"] for rec in records] == [10, 20]
        assert [e.value for e in events] == pytest.approx([rec[key] for rec in records], rel=1e-6)
    grids = acc.Images("samples")
    assert [g.step for g in grids] == [10, 20]
    from PIL import Image

    png = Image.open(Path("run/samples/step-0000020.png"))
    assert (grids[-1].width, grids[-1].height) == png.size


def test_resume_purges_the_events_logged_after_the_checkpoint(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=8, size=16)
    assert cli("train", "dcgan", "--data", data, "--steps", "20", "--out", "run", "--tensorboard", *FAST).code == 0
    first = _events(Path("run")).Scalars("D/loss")[-1].value
    Path("run/checkpoints/step-0000020.safetensors").unlink()  # as if killed after logging step 20
    r = cli("train", "dcgan", "--resume", "run", "--seed", "0", "--tensorboard", "--quiet", "--lr", "1e-3")
    assert r.code == 0, r.err
    events = _events(Path("run")).Scalars("D/loss")
    assert [e.step for e in events] == [10, 20]  # step 20 once: the stopped run's value purged
    assert events[-1].value == pytest.approx(_metrics(Path("run"))[-1]["D/loss"], rel=1e-6) != first


def test_without_the_package_the_flag_is_one_clear_error_before_any_folder(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails, as without tensorboard
    data = make_folder(tmp_path / "data", n=8, size=16)
    r = cli("train", "dcgan", "--data", data, "--steps", "2", "--tensorboard", *FAST)
    assert r.code == 2 and not Path("runs").exists()
    assert r.err.strip() == "error: --tensorboard needs the tensorboard package: pip install 'gan-cli[tensorboard]'"


def test_no_event_files_without_the_flag(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=8, size=16)
    assert cli("train", "dcgan", "--data", data, "--steps", "2", "--out", "run", *FAST).code == 0
    assert not list(Path("run").glob("events.out.tfevents.*"))
