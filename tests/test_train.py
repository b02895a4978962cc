"""Training through the real entry point: run folder contents, exact resume, bad input, signals, DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import SHARED_DATA, assert_clean_error, run_gan
from helpers import TINY, make_class_folders, make_folder
from safetensors.torch import load_file

FAST = ["--batch-size", "16", *TINY, "--quiet"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_CLI_OFFLINE", "1")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if k.startswith(("G.", "D.", "opt."))}


def test_train_writes_a_complete_run_and_prints_the_checkpoint(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=40)
    r = cli("train", "dcgan", "--data", data, "--steps", "6", "--sample-every", "3", "--ckpt-every", "3", *FAST)
    assert r.code == 0, r.err
    final = Path(r.out.strip().splitlines()[-1])
    run = Path("runs/dcgan-001")
    assert final == run / "checkpoints" / "step-0000006.safetensors" and final.exists()
    assert (run / "generator.safetensors").exists() and (run / "losses.png").exists()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-0000003.png", "step-0000006.png"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 6 and {"D/loss", "G/loss", "img_s"} <= set(rows[-1])
    assert json.loads((run / "config.json").read_text())["model"] == "dcgan"
    info = json.loads(cli("info", final, "--json").out)
    assert info["family"] == "dcgan" and info["step"] == 6 and info["channels"] == 3 and info["params"]["D"] > 0
    # the next run gets the next number; sample without --weights takes the newest run
    r2 = cli("sample", "dcgan", "--rows", "2", "--cols", "2", "--out", "g.png")
    assert r2.code == 0 and "runs/dcgan-001/checkpoints/step-0000006" in r2.err


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp", "cgan"])
def test_resume_is_exact(cli, tmp_path, model):
    data = make_class_folders(tmp_path / "data", n=24) if model == "cgan" else make_folder(tmp_path / "data", n=40)
    steps = ["--ckpt-every", "100", "--sample-every", "100"]
    full = cli("train", model, "--data", data, "--steps", "6", "--out", "a", *steps, *FAST)
    assert full.code == 0, full.err
    half = cli("train", model, "--data", data, "--steps", "3", "--out", "b", *steps, *FAST)
    assert half.code == 0, half.err
    rest = cli("train", model, "--resume", "b", "--steps", "6", "--quiet")
    assert rest.code == 0, rest.err
    a, b = _weights(Path(full.out.split()[-1])), _weights(Path(rest.out.split()[-1]))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    steps_logged = [json.loads(x)["step"] for x in Path("b/metrics.jsonl").read_text().splitlines()]
    assert steps_logged == sorted(set(steps_logged)) and steps_logged[-1] == 6


def test_bad_inputs_get_one_line_and_exit_2(cli, tmp_path):
    make_folder(tmp_path / "data", n=20)
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    cases = [
        (["train", "dcgan", "--data", "nowhere"], "no such folder"),
        (["train", "dcgan", "--data", "empty"], "no images found"),
        (["train", "dcgan", "--data", "afile"], "is a file"),
        (["train", "dcgan", "--data", "data", "-o", "depth=3"], "valid options: z_dim"),
        (["train", "dcgan", "--data", "data", "--out", "afile/run"], "cannot"),
        (["train", "dcgan", "--data", "data", "--size", "48"], "supports image sizes"),
        (["train", "cgan", "--data", "data"], "class subfolders"),
        (["train", "dcgan", "--data", "data", "--batch-size", "64"], "fewer than one batch"),
        (["train", "dcgan", "--resume", "nowhere"], "no such run"),
        (["sample", "dcgan", "--rows", "0"], "at least 1"),
        (["sample", "--weights", "afile"], "not a safetensors"),
        (["sample", "dcgan"], "no --weights given"),
        (["info", "missing.safetensors"], "no such checkpoint"),
    ]
    for args, message in cases:
        assert_clean_error(cli(*args), 2, message)


def test_corrupt_image_in_folder_is_skipped_and_counted(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=20)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    r = cli("train", "dcgan", "--data", data, "--steps", "1", *FAST)
    assert r.code == 0, r.err
    assert "broken.png" in r.err and "1 unreadable image(s) skipped" in r.err


def test_nan_loss_stops_with_clear_message_and_keeps_last_checkpoint(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=20)
    r = cli("train", "lsgan", "--data", data, "--steps", "40", "--lr", "1e12", "--ckpt-every", "1", *FAST)
    assert r.code == 1, (r.out, r.err)
    assert "not finite" in r.err and "Traceback" not in r.err
    kept = sorted(Path("runs/lsgan-001/checkpoints").glob("*.safetensors"))
    for p in kept:  # whatever was written before the NaN is intact and finite
        assert all(torch.isfinite(t.float()).all() for t in load_file(str(p)).values())


def test_learns_the_data(cli, tmp_path):
    """On a toy set (a bright square on a fixed dark field), G's mean image moves towards the data's."""
    data = make_folder(tmp_path / "data", n=64, mode="L")
    from gan_cli.io.datasets import load_data
    from gan_cli.sampling import load_model

    rows = torch.from_numpy(load_data(str(data), 32).main.images.copy()).permute(0, 3, 1, 2)
    target = rows.float().div(127.5).sub(1).mean(0)

    def gap(path: str) -> float:
        g = load_model(path)
        x = torch.cat(list(g.generate(g.latents(64, 0))))
        return float((x.mean(0) - target).abs().mean())

    args = ["--data", data, "--lr", "1e-3", "--batch-size", "16", "-o", "ngf=16", "-o", "ndf=16", "--quiet"]
    r0 = cli("train", "dcgan", "--steps", "1", "--out", "r0", *args)
    r1 = cli("train", "dcgan", "--steps", "200", "--out", "r1", *args)
    before, after = gap(r0.out.split()[-1]), gap(r1.out.split()[-1])
    assert after < 0.7 * before, (before, after)


def test_sample_is_reproducible_and_latents_round_trip(cli, tmp_path):
    data = make_class_folders(tmp_path / "data", n=20)
    ckpt = cli("train", "cgan", "--data", data, "--steps", "2", *FAST).out.split()[-1]
    a = cli("sample", "--weights", ckpt, "--seed", "233", "--rows", "2", "--cols", "3", "--out", "a.png")
    b = cli("sample", "cgan", "--weights", ckpt, "--seed", "233", "--rows", "2", "--cols", "3", "--out", "b.png")
    assert a.code == b.code == 0 and Path("a.png").read_bytes() == Path("b.png").read_bytes()
    c = cli("sample", "--weights", ckpt, "--seed", "234", "--rows", "2", "--cols", "3", "--out", "c.png")
    assert Path("c.png").read_bytes() != Path("a.png").read_bytes() and c.code == 0
    r = cli("sample", "--weights", ckpt, "--n", "5", "--out", "many", "--save-latents", "z.npy", "--class", "square")
    assert r.code == 0 and len(r.out.split()) == 5
    r2 = cli("sample", "--weights", ckpt, "--latents", "z.npy", "--n", "5", "--out", "again", "--class", "1")
    assert r2.code == 0
    for name in os.listdir("many"):
        assert (Path("many") / name).read_bytes() == (Path("again") / name).read_bytes()
    assert_clean_error(cli("sample", "--weights", ckpt, "--class", "triangle"), 2, "not a class")
    assert_clean_error(cli("sample", "--weights", ckpt, "--latents", "z.npy", "--rows", "2", "--cols", "2"), 2)
    assert_clean_error(cli("sample", "dcgan", "--weights", ckpt), 2, "is a cgan checkpoint, not dcgan")


def test_mnist_lookup_and_bundled_fallback(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GAN_CLI_DATA", raising=False)
    from gan_cli.io.datasets import load_mnist

    images, labels, where = load_mnist()
    assert len(images) == 5000 and "bundled" in where
    if (SHARED_DATA / "mnist").exists():
        monkeypatch.setenv("GAN_CLI_DATA", str(SHARED_DATA))
        images, labels, where = load_mnist()
        assert len(images) == 60000 and int((labels == 0).sum()) == 5923


def test_sigterm_saves_a_checkpoint_that_resumes(tmp_path):
    data = make_folder(tmp_path / "data", n=40)
    exe = Path(sys.executable).with_name("gan")
    env = {**os.environ, "GAN_CLI_OFFLINE": "1"}
    p = subprocess.Popen(
        [str(exe), "train", "dcgan", "--data", str(data), "--steps", "100000", "--out", "run", *FAST],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 120
    while not metrics.exists() and time.time() < deadline:
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "SIGTERM" in err and "--resume" in err and "Traceback" not in err
    saved = Path(tmp_path / out.split()[-1])
    assert saved.exists() and (tmp_path / "run" / "generator.safetensors").exists()
    step = int(saved.stem.split("-")[1])
    r = run_gan("train", "dcgan", "--resume", "run", "--steps", str(step + 2), "--quiet", cwd=tmp_path, env=env)
    assert r.code == 0, r.err
    assert r.out.strip().endswith(f"step-{step + 2:07d}.safetensors")


def test_torchrun_two_processes_gloo(tmp_path):
    data = make_folder(tmp_path / "data", n=40)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "GAN_CLI_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "gan_cli",
            "train",
            "dcgan",
            "--data",
            str(data),
            "--steps",
            "3",
            "--out",
            "ddp",
            "--device",
            "cpu",
            *FAST,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [x for x in p.stdout.split() if x.endswith(".safetensors")]
    assert lines == ["ddp/checkpoints/step-0000003.safetensors"]  # one rank writes
    w = load_file(str(tmp_path / lines[0]))
    assert all(torch.isfinite(t.float()).all() for t in w.values())
    # every rank's random streams are saved, so each resumes its own
    assert not torch.equal(w["rng.family.0"], w["rng.family.1"]) and "rng.torch.1" in w


def test_export_gives_a_generator_only_file_that_samples_the_same(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=20)
    full = cli("train", "lsgan", "--data", data, "--steps", "2", *FAST).out.split()[-1]
    r = cli("export", full, "small.safetensors")
    assert r.code == 0 and r.out.strip() == "small.safetensors"
    keys = load_file("small.safetensors").keys()
    assert keys and all(k.startswith("G.") for k in keys)
    info = json.loads(cli("info", "small.safetensors", "--json").out)
    assert info["kind"] == "generator" and info["family"] == "lsgan" and "D" not in info["params"]
    cli("sample", "--weights", full, "--out", "a.png")
    cli("sample", "--weights", "small.safetensors", "--out", "b.png")
    assert Path("a.png").read_bytes() == Path("b.png").read_bytes()
    assert_clean_error(cli("export", full, "x.pt"), 2, ".safetensors")
    assert_clean_error(cli("train", "lsgan", "--resume", "small.safetensors", "--steps", "4"), 2, "generator-only")


@pytest.mark.parametrize("model, draws_per_step", [("dcgan", 1), ("wgan-gp", 5)])
def test_epochs_and_img_s_count_the_real_images_shown_to_d(cli, tmp_path, model, draws_per_step):
    """The generator phase draws no data: an epoch is every image shown to D once."""
    data = make_folder(tmp_path / "data", n=48)  # 3 batches of 16 per epoch
    r = cli("train", model, "--data", data, "--epochs", "2", *FAST)
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in Path("runs", f"{model}-001", "metrics.jsonl").read_text().splitlines()]
    expected_steps = -(-6 // draws_per_step)  # 2 epochs = 6 batches
    assert rows[-1]["step"] == expected_steps
    assert rows[-1]["epoch"] == (expected_steps * draws_per_step - 1) // 3


def test_resume_flags_are_applied_and_said_or_refused(cli, tmp_path):
    data = make_folder(tmp_path / "data", n=20)
    assert cli("train", "dcgan", "--data", data, "--steps", "2", "--out", "r", *FAST).code == 0
    assert_clean_error(cli("train", "dcgan", "--resume", "r", "--size", "64", "--steps", "4"), 2, "cannot change")
    assert_clean_error(cli("train", "dcgan", "--resume", "r", "--seed", "3", "--steps", "4"), 2, "cannot change")
    assert_clean_error(cli("train", "dcgan", "--resume", "r", "--out", "other", "--steps", "4"), 2, "differs")
    assert_clean_error(cli("train", "dcgan", "--resume", "r", "-o", "ngf=4", "--steps", "4"), 2, "-o cannot")
    r = cli("train", "dcgan", "--resume", "r", "--lr", "1e-3", "-b", "8", "--amp", "on", "--steps", "4", "--quiet")
    assert r.code == 0, r.err
    assert "lr changes from 0.0002 to 0.001" in r.err and "batch-size changes from 16 to 8" in r.err
    assert "amp changes from auto to on" in r.err
    info = json.loads(cli("info", r.out.split()[-1], "--json").out)
    assert info["train"]["lr"] == 1e-3 and info["train"]["batch_size"] == 8 and info["train"]["amp"] == "on"
    from gan_cli.io import checkpoint as ck

    tensors, meta = ck.load(r.out.split()[-1])
    assert meta["optimizers"]["G"][0]["lr"] == pytest.approx(1e-3)  # the new lr reached the optimizers


def test_failed_validation_leaves_no_run_folder(cli, tmp_path):
    assert cli("train", "dcgan", "--data", "nope", "--out", "never").code == 2
    assert not (tmp_path / "never").exists()
