"""Issue 13, training side: one run per folder (an OS lock), stale temporary files, no empty run folder
left by a failed start, a model too large for memory refused before allocation, a second Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import TINY, make_folder

from gan_cli import memory
from gan_cli.errors import BadInput
from gan_cli.registry import get_family, parse_options
from gan_cli.train import loop

FAST = ["--batch-size", "4", *TINY, "--quiet"]
HOLD_LOCK = """
import fcntl, os, sys, time
for path in sys.argv[1:]:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_CLI_OFFLINE", "1")


@pytest.fixture
def data(tmp_path) -> Path:
    return make_folder(tmp_path / "data", n=8, size=16)


def _files(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


# --- one run per folder ----------------------------------------------------------------------------
def test_a_second_run_into_a_locked_folder_is_refused_until_the_holder_dies(cli, data, tmp_path):
    run = tmp_path / "dup"
    assert cli("train", "dcgan", "--data", data, "--steps", "2", "--out", run, *FAST).code == 0
    fresh = tmp_path / "fresh"  # a run that has not written its first checkpoint yet
    locks = [str(run / ".lock"), str(fresh / ".lock")]
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, *locks], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        before = _files(tmp_path)
        for folder, args in ((run, ["--resume", run, "--steps", "4"]), (fresh, ["--data", data, "--out", fresh])):
            r = cli("train", "dcgan", *args, "--quiet")
            assert r.code == 2 and r.out == "", r.err
            assert f"{folder} is in use by another run (process {holder.pid} is writing there)" in r.err
        assert _files(tmp_path) == before  # not one byte written, not even the lock file's pid
    finally:
        holder.kill()  # as kill -9: the kernel releases the lock
        holder.wait()
    r = cli("train", "dcgan", "--resume", run, "--steps", "4", "--quiet")
    assert r.code == 0, r.err
    assert (run / ".lock").read_text() == f"{os.getpid()}\n"


def test_two_real_runs_at_once_one_wins(data, tmp_path):
    gan = [str(Path(sys.executable).with_name("gan")), "train", "dcgan", "--data", str(data), "--out", "same"]
    slow = subprocess.Popen([*gan, "--steps", "100000", *FAST], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "same" / "config.json").exists():  # written once the lock is held
            assert time.monotonic() < deadline and slow.poll() is None
            time.sleep(0.05)
        p = subprocess.run([*gan, "--steps", "2", *FAST], capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and p.stdout == ""
        assert (
            p.stderr == f"error: same is in use by another run (process {slow.pid} is writing there): "
            "wait for it to end, or pick another --out\n"
        )
    finally:
        slow.kill()
        slow.wait()


# --- leftovers ---------------------------------------------------------------------------------------
def test_stale_temporary_files_are_removed_on_resume_and_nothing_else(cli, data, tmp_path):
    run = tmp_path / "run"
    assert cli("train", "dcgan", "--data", data, "--steps", "2", "--out", run, *FAST).code == 0
    stale = [
        "checkpoints/.step-0000003.k2j4x_9a.tmp.safetensors",  # a kill during a checkpoint write
        ".losses.a8Bc0_zz.tmp.png",
        ".generator.abcdefgh.tmp.safetensors",
        "samples/.step-0000003.12345678.tmp.png",
    ]
    kept = ["notes.tmp", "checkpoints/.keep", "samples/mine.tmp.png", "sub/.x.abcdefgh.tmp.png"]
    for name in stale + kept:
        (run / name).parent.mkdir(exist_ok=True)
        (run / name).write_bytes(b"")
    r = cli("train", "dcgan", "--resume", run, "--steps", "3", "--quiet")
    assert r.code == 0, r.err
    assert f"removed 4 temporary file(s) left in {run} by an interrupted run" in r.err
    assert not any((run / n).exists() for n in stale) and all((run / n).exists() for n in kept)


@pytest.mark.parametrize(
    "args, message",
    [
        (["stylegan2", "-b", "6", "-o", "channel_max=8"], "must be a multiple of 4"),  # fails in the first step
        (["dcgan", "--data", "nope"], "--data nope: no such folder"),
        (["cgan"], "is class-conditional"),
    ],
)
def test_a_run_that_fails_to_start_leaves_no_folder(cli, data, tmp_path, args, message):
    if "--data" not in args:
        args = [*args, "--data", str(data)]
    for out in ([], ["--out", "deep/er/run"]):
        r = cli("train", *args, "--steps", "1", "--quiet", *out)
        assert r.code == 2 and message in r.err, r.err
        assert not Path("runs").exists() and not Path("deep").exists()
    Path("mine").mkdir()  # a folder the user made is left in place, as it was
    Path("mine/notes.txt").write_text("mine")
    r = cli("train", *args, "--steps", "1", "--quiet", "--out", "mine")
    assert r.code == 2 and os.listdir("mine") == ["notes.txt"]


# --- too large for memory ----------------------------------------------------------------------------
def test_the_meta_estimate_is_the_real_parameter_count():
    cls = get_family("dcgan")
    fam = cls(parse_options(cls, ["ngf=8", "ndf=4"]), 64, 3)
    count, params, buffers = memory.model_size(fam)
    real = fam.build()
    assert count == sum(p.numel() for n in real.values() for p in n.parameters())
    assert params == 4 * count and buffers == sum(
        b.numel() * b.element_size() for n in real.values() for b in n.buffers()
    )


def test_the_largest_dcgan_is_measured_without_allocating_it():
    cls = get_family("dcgan")
    fam = cls(parse_options(cls, ["ngf=1024"]), 128, 3)
    start = time.perf_counter()
    count, params, _ = memory.model_size(fam)
    assert count > 2.8e9 and params > 11e9 and time.perf_counter() - start < 5  # 11 GB, never allocated


def test_a_model_too_large_is_refused_before_allocation_and_before_any_folder(cli, data, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 200_000)  # 0.2 MB free
    built = []
    monkeypatch.setattr(loop.Trainer, "__init__", lambda *a, **k: built.append(a))
    r = cli("train", "dcgan", "--data", data, "--steps", "1", *FAST)
    assert r.code == 2 and not built and not Path("runs").exists()
    assert "dcgan with these options at 32 px has 0.00 billion parameters: training needs about 1.2 MB" in r.err
    assert "cpu has 0.2 MB free" in r.err


def test_sampling_refuses_a_checkpoint_whose_options_claim_a_huge_model(cli, tmp_path, monkeypatch):
    from gan_cli.io import checkpoint as ck

    meta = {
        "kind": "generator",
        "family": "dcgan",
        "task": "noise",
        "size": 128,
        "channels": 3,
        "step": 1,
        "options": {"ngf": 1024},
    }
    path = ck.save(tmp_path / "tiny-file-huge-claim.safetensors", {"G.w": torch.zeros(2)}, meta)
    monkeypatch.setattr(memory, "available_bytes", lambda device: 8 * 1024**3)  # 8 GB free: the weights need 11
    r = cli("sample", "--weights", path, "--out", "x.png")
    assert r.code == 2 and "its weights need about 11.6 GB, and cpu has 8.6 GB free" in r.err, r.err


# --- a second Ctrl-C -----------------------------------------------------------------------------------
def test_a_second_interrupt_during_the_save_says_what_happened(cli, data, monkeypatch):
    """The first SIGINT asks for a stop after the step; a second one arriving while that checkpoint is
    written abandons it: exit 130, one message naming the last checkpoint, no temporary file left."""
    step, save = loop.Trainer.train_step, loop.Trainer.save
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the tests run in a background job (nohup ... &)

    def train_step(self):
        step(self)
        if self.step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    def interrupted_save(self, final):
        if self.step == 5:
            os.kill(os.getpid(), signal.SIGINT)  # the handler raises here, as if the user pressed it again
        save(self, final)

    monkeypatch.setattr(loop.Trainer, "train_step", train_step)
    monkeypatch.setattr(loop.Trainer, "save", interrupted_save)
    r = cli("train", "dcgan", "--data", data, "--steps", "9", "--ckpt-every", "3", "--out", "run", *FAST)
    assert r.code == 130, r.err
    errors = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: second interrupt: exiting without saving; last checkpoint run/checkpoints/step-0000003.safetensors"
    ]
    assert sorted(os.listdir("run/checkpoints")) == ["step-0000003.safetensors"]
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


def test_a_second_interrupt_before_any_checkpoint(cli, data, monkeypatch):
    step = loop.Trainer.train_step

    def train_step(self):
        if self.step == 1:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        step(self)

    monkeypatch.setattr(loop.Trainer, "train_step", train_step)
    r = cli("train", "dcgan", "--data", data, "--steps", "9", "--out", "run", *FAST)
    assert r.code == 130 and "error: second interrupt: exiting without saving; no checkpoint was written" in r.err


def test_check_fits_passes_where_memory_cannot_be_told(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: None)
    cls = get_family("dcgan")
    memory.check_fits(cls(parse_options(cls, ["ngf=1024"]), 128, 3), torch.device("cpu"), training=True)
    monkeypatch.setattr(memory, "available_bytes", lambda device: 10**6)
    with pytest.raises(BadInput, match="billion parameters"):
        memory.check_fits(cls(parse_options(cls, ["ngf=1024"]), 128, 3), torch.device("cpu"), training=True)
