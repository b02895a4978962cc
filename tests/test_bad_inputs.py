"""Bad input, table-driven, through the real CLI entry point: every row is one command line.

Each row must exit with its code and exactly one `error:` line holding its message, print nothing on
stdout, show no traceback, and leave the folder exactly as it was (no file changed, none added, not
even an OUT folder). A new command adds its rows here.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import bomb_png
from helpers import make_folder
from safetensors import safe_open
from safetensors.torch import save_file

from gan_cli.io import checkpoint as ck_io

Setup = Callable[[Path], None]


@dataclass
class Row:
    id: str
    args: list[str]
    message: str  # a substring of the one `error:` line
    setup: Setup | None = None
    code: int = 2
    stdin: str | None = None


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A generator checkpoint from one tiny training step (the real thing, written by `gan train`)."""
    from gan_cli.cli import main

    root = tmp_path_factory.mktemp("trained")
    data = make_folder(root / "data", n=8, size=16, mode="L")
    args = ["train", "dcgan", "--data", data, "--steps", "1", "--batch-size", "8", "--quiet"]
    args += ["-o", "ngf=4", "-o", "ndf=4", "-o", "z_dim=8"]
    args += ["--out", root / "run"]
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()) as err:
        assert main([str(a) for a in args]) == 0, err.getvalue()
    return root / "run" / "generator.safetensors"


# --- what the rows set up in their folder -------------------------------------------------------------
def write(name: str, content: bytes | str) -> Setup:
    def setup(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content.encode() if isinstance(content, str) else content)

    return setup


def images(name: str = "imgs", n: int = 4) -> Setup:
    return lambda root: make_folder(root / name, n=n, size=16) and None


def folder(name: str) -> Setup:
    return lambda root: (root / name).mkdir()


def npz(name: str, **arrays: np.ndarray) -> Setup:
    return lambda root: np.savez(root / name, **arrays)


def tensors(name: str, meta: dict[str, str] | None = None, **values: torch.Tensor) -> Setup:
    return lambda root: save_file(values or {"w": torch.zeros(2)}, str(root / name), metadata=meta)


def ckpt(name: str = "g.safetensors") -> Setup:
    return lambda root: shutil.copy(root.parent / "trained.safetensors", root / name) and None


def truncated_ckpt(root: Path) -> None:
    data = (root.parent / "trained.safetensors").read_bytes()
    (root / "cut.safetensors").write_bytes(data[: len(data) // 2])


def ckpt_without_generator(root: Path) -> None:
    with safe_open(str(root.parent / "trained.safetensors"), framework="pt") as f:
        meta = f.metadata()
        kept = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("G.")}
    save_file(kept or {"D.w": torch.zeros(1)}, str(root / "d.safetensors"), metadata=meta)


def run(name: str = "run") -> Setup:
    """A copy of the trained run folder (checkpoints/step-0000001.safetensors, generator.safetensors, ...)."""
    return lambda root: shutil.copytree(root.parent / "trained-run", root / name) and None


def tampered_run(drop: str = "", **meta_changes: object) -> Setup:
    """The trained run with its checkpoint's metadata changed (None removes a key) or tensors dropped."""

    def setup(root: Path) -> None:
        run()(root)
        path = root / "run" / "checkpoints" / "step-0000001.safetensors"
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["gan_cli"])
            kept = {k: f.get_tensor(k) for k in f.keys() if not (drop and k.startswith(drop))}
        for key, value in meta_changes.items():
            meta.pop(key) if value is None else meta.__setitem__(key, value)
        if "z_dim" in meta_changes:  # a resumed run's options come from its training config
            meta["train"]["options"]["z_dim"] = meta.pop("z_dim")
        if "rng" in meta_changes:
            kept["rng.torch.0"] = kept["rng.torch.0"][:100]
            meta.pop("rng")
        save_file(kept, str(path), metadata={"gan_cli": json.dumps(meta), "family": "dcgan"})

    return setup


def nan_ckpt(root: Path) -> None:
    tensors, meta = ck_io.load(root.parent / "trained.safetensors")
    nan = {k: v * float("nan") if v.is_floating_point() else v for k, v in tensors.items()}
    ck_io.save(root / "g.safetensors", nan, meta)


def array(name: str, arr: np.ndarray) -> Setup:
    return lambda root: np.save(root / name, arr)


def both(*setups: Setup) -> Setup:
    def setup(root: Path) -> None:
        for s in setups:
            s(root)

    return setup


# One row a line where it fits: a table.
# fmt: off
INFO = [
    Row("info-missing", ["info", "nope.safetensors"], "nope.safetensors: no such checkpoint"),
    Row("info-folder", ["info", "d"], "is a folder", folder("d")),
    Row("info-empty", ["info", "e.safetensors"], "too short", write("e.safetensors", b"")),
    Row("info-text", ["info", "t.safetensors"], "not a valid safetensors file", write("t.safetensors", "hello world")),
    Row("info-truncated", ["info", "cut.safetensors"], "truncated", truncated_ckpt),
    Row("info-png", ["info", "x.safetensors"], "not a valid safetensors file", lambda r: make_folder(r, n=1)
        and (r / "img000.png").rename(r / "x.safetensors")),
    Row("info-no-metadata", ["info", "w.safetensors"], "not a gan-cli checkpoint", tensors("w.safetensors")),
    Row("info-bad-json", ["info", "j.safetensors"], "not valid JSON", tensors("j.safetensors", {"gan_cli": "{no"})),
    Row("info-format", ["info", "f.safetensors"], "unknown checkpoint format",
        tensors("f.safetensors", {"gan_cli": json.dumps({"format": "other/1"})})),
    Row("info-escape", ["info", "x\x1b]0;t\x07.safetensors"], "x\\x1b]0;t\\x07.safetensors: no such checkpoint"),
    Row("info-no-arg", ["info", "--json"], "Missing argument"),
    Row("info-two-args", ["info", "a", "b"], "unexpected extra argument"),
    Row("info-option", ["info", "--bogus", "x"], "No such option: --bogus"),
]

EXPORT = [
    Row("export-suffix", ["export", "g.safetensors", "out.pt"], "use a .safetensors file name", ckpt()),
    Row("export-same", ["export", "g.safetensors", "g.safetensors"], "OUT must differ from CKPT", ckpt()),
    Row("export-same-resolved", ["export", "g.safetensors", "s/../g.safetensors"], "must differ",
        both(ckpt(), folder("s"))),
    Row("export-missing", ["export", "nope.safetensors", "o.safetensors"], "no such checkpoint"),
    Row("export-no-generator", ["export", "d.safetensors", "o.safetensors"], "no generator weights",
        ckpt_without_generator),
    Row("export-junk", ["export", "j.safetensors", "o.safetensors"], "not a valid safetensors file",
        write("j.safetensors", "x" * 64)),
    Row("export-no-metadata", ["export", "w.safetensors", "o.safetensors"], "not a gan-cli checkpoint",
        tensors("w.safetensors")),
    Row("export-no-out", ["export", "g.safetensors"], "Missing argument", ckpt()),
]

EVAL_FID = [
    Row("fid-missing", ["eval-fid", "nowhere", "imgs"], "no such file or folder", images()),
    Row("fid-empty", ["eval-fid", "empty", "imgs"], "no images", both(folder("empty"), images())),
    Row("fid-one-image", ["eval-fid", "one", "imgs"], "at least 2", both(images("one", 1), images())),
    Row("fid-npz-no-mu", ["eval-fid", "s.npz", "imgs"], "'mu'", both(npz("s.npz", sigma=np.eye(2)), images())),
    Row("fid-npz-shapes", ["eval-fid", "s.npz", "s.npz"], "do not fit", npz("s.npz", mu=np.zeros(3), sigma=np.eye(4))),
    Row("fid-npz-nan", ["eval-fid", "s.npz", "s.npz"], "NaN",
        npz("s.npz", mu=np.array([0.0, np.nan]), sigma=np.eye(2))),
    Row("fid-npz-not-zip", ["eval-fid", "s.npz", "s.npz"], "not a .npz file", write("s.npz", "plain text")),
    Row("fid-dims", ["eval-fid", "a.npz", "b.npz"], "cannot be compared",
        both(npz("a.npz", mu=np.zeros(3), sigma=np.eye(3)),
             npz("b.npz", mu=np.zeros(4), sigma=np.eye(4)))),
    Row("fid-image-file", ["eval-fid", "imgs/img000.png", "imgs"], "expected an image folder", images()),
    Row("fid-not-checkpoint", ["eval-fid", "w.safetensors", "imgs"], "not a gan-cli checkpoint",
        both(tensors("w.safetensors"), images())),
    Row("fid-inception-as-side", ["eval-fid", "n.safetensors", "imgs"], "is the Inception network itself",
        both(tensors("n.safetensors", **{"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}), images())),
    Row("fid-kid-stats", ["eval-fid", "s.npz", "imgs", "--kid"], "--kid needs image features",
        both(npz("s.npz", mu=np.zeros(2048), sigma=np.eye(2048)), images())),
    Row("fid-save-stats", ["eval-fid", "imgs", "imgs", "--save-stats", "stats.txt"], "use a .npz", images()),
    Row("fid-resize", ["eval-fid", "imgs", "imgs", "--resize", "lanczos"], "--resize lanczos", images()),
    Row("fid-n", ["eval-fid", "imgs", "g.safetensors", "--n", "1"], "at least 2 samples", both(images(), ckpt())),
    Row("fid-n-not-int", ["eval-fid", "imgs", "imgs", "--n", "ten"], "Invalid value for '--n'", images()),
    Row("fid-batch-size", ["eval-fid", "imgs", "imgs", "--batch-size", "0"], "Invalid value for '--batch-size'",
        images()),
    Row("fid-workers", ["eval-fid", "imgs", "imgs", "--workers", "0"], "Invalid value for '--workers'", images()),
    Row("fid-no-b", ["eval-fid", "imgs"], "Missing argument 'B'", images()),
    Row("fid-no-weights", ["eval-fid", "imgs", "imgs"], "--inception PATH", images()),
    Row("fid-inception-missing", ["eval-fid", "imgs", "imgs", "--inception", "nope.pth"], "no such file", images()),
    Row("fid-inception-junk", ["eval-fid", "imgs", "imgs", "--inception", "junk.pth"], "cannot read Inception weights",
        both(images(), write("junk.pth", "not a zip"))),
]

PREP = [
    Row("prep-missing", ["prep", "nope.jpg", "out"], "no such file"),
    Row("prep-empty", ["prep", "empty", "out"], "no images", folder("empty")),
    Row("prep-unreadable", ["prep", "broken.jpg", "out"], "not a readable image", write("broken.jpg", "not a jpeg")),
    Row("prep-bomb", ["prep", "bomb.png", "out"], "too large to read safely",
        lambda r: bomb_png(r / "bomb.png") and None),
    Row("prep-out-is-in", ["prep", "imgs", "imgs"], "inside", images()),
    Row("prep-out-inside-in", ["prep", "imgs", "imgs/faces"], "inside", images()),
    Row("prep-out-is-image", ["prep", "imgs/img000.png", "imgs/img000.png"], "must be a folder", images()),
    Row("prep-out-is-file", ["prep", "imgs", "taken.txt"], "exists and is not a folder",
        both(images(), write("taken.txt", "x"))),
    Row("prep-clash", ["prep", "imgs", "out"], "would both become",
        both(images(), lambda r: shutil.copy(r / "imgs/img000.png", r / "imgs/img000.jpg") and None)),
    Row("prep-stdin-empty", ["prep", "-", "out"], "no paths came on stdin", stdin="\n\n"),
    Row("prep-bad-model", ["prep", "imgs", "out", "--detector-model", "m.tflite"], "not a usable face detection model",
        both(images(), write("m.tflite", "not a model"))),
    Row("prep-bg", ["prep", "imgs", "out", "--bg", "green"], "Invalid value for '--bg'", images()),
    Row("prep-size", ["prep", "imgs", "out", "--size", "16"], "Invalid value for '--size'", images()),
    Row("prep-size-huge", ["prep", "imgs", "out", "--size", "100000"], "Invalid value for '--size'", images()),
    Row("prep-margin", ["prep", "imgs", "out", "--margin", "9"], "Invalid value for '--margin'", images()),
    Row("prep-min-score", ["prep", "imgs", "out", "--min-score", "2"], "Invalid value for '--min-score'", images()),
    Row("prep-no-out", ["prep", "imgs"], "Missing argument 'OUT'", images()),
]

MODELS_AND_USAGE = [
    Row("models-option", ["models", "--frobnicate"], "No such option: --frobnicate (see gan models --help)"),
    Row("models-extra", ["models", "dcgan"], "unexpected extra argument"),
    Row("root-option", ["--bogus"], "No such option: --bogus (see gan --help)"),
    Row("root-command", ["nosuchcommand"], "No such command 'nosuchcommand'"),
    Row("train-option", ["train", "dcgan", "--frobnicate"], "No such option: --frobnicate (see gan train --help)"),
    Row("train-steps", ["train", "dcgan", "--steps", "abc"], "Invalid value for '--steps'"),
    Row("train-no-model", ["train", "--steps", "3"], "Missing argument"),
    Row("sample-rows", ["sample", "--rows", "x"], "Invalid value for '--rows'"),
    Row("sample-option", ["sample", "--qwertz"], "No such option: --qwertz (see gan sample --help)"),
]

T = ["train", "dcgan", "--data", "imgs", "--steps", "1", "--quiet"]  # a valid start: rows add one bad flag
TRAIN = [
    Row("train-data-missing", ["train", "dcgan", "--data", "nope"], "--data nope: no such folder"),
    Row("train-unknown-model", ["train", "dcgn", "--data", "imgs"], "did you mean dcgan?", images()),
    Row("train-ngf-negative", [*T, "-o", "ngf=-4"], "-o ngf=-4: must be 1 to 1024", images()),
    Row("train-ngf-huge", [*T, "-o", "ngf=100000000"], "-o ngf=100000000: must be 1 to 1024", images()),
    Row("train-z-dim-0", [*T, "-o", "z_dim=0"], "-o z_dim=0: must be 1 to 4096", images()),
    Row("train-beta1", [*T, "-o", "beta1=5"], "-o beta1=5.0: must be 0 to 1", images()),
    Row("train-option-type", [*T, "-o", "ngf=wide"], "-o ngf=wide: expected a int", images()),
    Row("train-option-unknown", [*T, "-o", "depth=3"], "unknown option 'depth' for dcgan", images()),
    Row("train-option-no-equals", [*T, "-o", "ngf"], "-o ngf: expected key=value", images()),
    Row("train-size-negative", [*T, "--size", "-32"], "supports image sizes 32, 64, 128, not -32", images()),
    Row("train-size-0", [*T, "--size", "0"], "not 0", images()),
    Row("train-epochs-0", ["train", "dcgan", "--data", "imgs", "--epochs", "0"], "--epochs must be more than 0",
        images()),
    Row("train-steps-and-epochs", [*T, "--epochs", "2"], "give --steps or --epochs, not both", images()),
    Row("train-steps-0", [*T, "--steps", "0"], "Invalid value for '--steps'", images()),
    Row("train-amp", [*T, "--amp", "maybe"], "--amp maybe: use auto, on or off", images()),
    Row("train-direction", [*T, "--direction", "up"], "--direction up: use AtoB or BtoA", images()),
    Row("train-load-size", [*T, "--load-size", "16"], "--load-size 16 is smaller than --size 32", images()),
    Row("train-cgan-flat", ["train", "cgan", "--data", "imgs", "--steps", "1"], "is class-conditional", images()),
    Row("train-npz-as-npy", ["train", "dcgan", "--data", "x.npy"], "a .npz archive, not a .npy array",
        lambda r: np.savez(r / "x.npz", x=np.zeros((2, 8, 8), np.uint8)) or (r / "x.npz").rename(r / "x.npy")),
    Row("train-npy-float", ["train", "dcgan", "--data", "x.npy"], "expected uint8 images",
        array("x.npy", np.zeros((2, 8, 8), np.float32))),
    Row("train-out-is-file", [*T, "--out", "taken.txt"], "--out taken.txt: cannot write there",
        both(images(), write("taken.txt", "x"))),
    Row("train-out-holds-run", [*T, "--out", "run"], "run already holds a run", both(images(), run())),
    Row("train-stylegan2-batch", ["train", "stylegan2", "--data", "imgs", "--steps", "1", "-b", "6", "-o",
        "channel_max=8", "--quiet"], "must be a multiple of 4", images(n=8)),
    Row("train-no-data", ["train", "dcgan", "--steps", "1"], "--data is required"),
]

R = ["train", "dcgan", "--resume", "run", "--steps", "3", "--quiet"]
RESUME = [
    Row("resume-missing", ["train", "dcgan", "--resume", "nope"], "--resume nope: no such run folder"),
    Row("resume-empty-folder", ["train", "dcgan", "--resume", "e"], "a folder without checkpoints", folder("e")),
    Row("resume-other-family", ["train", "lsgan", "--resume", "run"], "is a dcgan checkpoint, not lsgan", run()),
    Row("resume-generator-only", ["train", "dcgan", "--resume", "run/generator.safetensors"],
        "a generator-only checkpoint cannot be resumed", run()),
    Row("resume-option", [*R, "-o", "ngf=8"], "-o cannot change a resumed run's options", run()),
    Row("resume-size", [*R, "--size", "64"], "it cannot change on resume", run()),
    Row("resume-seed", [*R, "--seed", "3"], "--seed 3: the run was trained with 0", run()),
    Row("resume-out", [*R, "--out", "elsewhere"], "--out elsewhere differs from the resumed run's folder", run()),
    Row("resume-step-negative", R, "metadata step -7 is not a step count", tampered_run(step=-7)),
    Row("resume-step-float", R, "metadata step 1000000.0 is not a step count", tampered_run(step=1e6)),
    Row("resume-format-newer", R, "written by a newer gan-cli (format gan-cli/99", tampered_run(format="gan-cli/99")),
    Row("resume-no-optimizer", R, "optimizer 'D' has 0 state tensors", tampered_run(drop="opt.")),
    Row("resume-no-optimizer-record", R, "no optimizer_tensors record",
        tampered_run(drop="opt.", optimizer_tensors=None)),
    Row("resume-rng", R, "random state rng.torch.0 is damaged", tampered_run(rng=True)),
    Row("resume-no-config", R, "no usable training config", tampered_run(train=None)),
    Row("resume-options-range", R, "checkpoint option z_dim=-5: must be 1 to 4096",
        tampered_run(z_dim=-5)),
]

S = ["sample", "--weights", "g.safetensors"]
SAMPLE = [
    Row("sample-rows-0", [*S, "--rows", "0"], "--rows must be at least 1 (got 0)", ckpt()),
    Row("sample-cols-negative", [*S, "--cols", "-3"], "--cols must be at least 1 (got -3)", ckpt()),
    Row("sample-latents-empty", [*S, "--latents", "z.npy"], "expected a non-empty float array",
        both(ckpt(), array("z.npy", np.zeros((0, 8), np.float32)))),
    Row("sample-latents-npz", [*S, "--latents", "z.npy"], "a .npz archive, not a .npy array",
        both(ckpt(), lambda r: np.savez(r / "z.npz", z=np.zeros((2, 8))) or (r / "z.npz").rename(r / "z.npy"))),
    Row("sample-latents-shape", [*S, "--latents", "z.npy"], "expected z (N, 8), got (2, 5)",
        both(ckpt(), array("z.npy", np.zeros((2, 5), np.float32)))),
    Row("sample-truncation", [*S, "--truncation", "0.5"], "dcgan has no --truncation", ckpt()),
    Row("sample-out-suffix", [*S, "--out", "x.txt"], "unsupported image extension", ckpt()),
    Row("sample-nonfinite", [*S], "G.main.0.weight holds NaN or inf values", nan_ckpt),
    Row("sample-meta-list", [*S], "unknown checkpoint format", tensors("g.safetensors", {"gan_cli": "[1, 2]"})),
]

FID_COVARIANCE = [
    Row("fid-sigma-negative", ["eval-fid", "s.npz", "s.npz"], "sigma has a negative variance",
        npz("s.npz", mu=np.zeros(4), sigma=-np.eye(4))),
    Row("fid-sigma-asymmetric", ["eval-fid", "s.npz", "s.npz"], "sigma is not symmetric",
        npz("s.npz", mu=np.zeros(3), sigma=np.eye(3) + np.triu(np.ones((3, 3)), 1) * 5)),
    Row("fid-sigma-indefinite", ["eval-fid", "s.npz", "s.npz"], "negative eigenvalues",
        npz("s.npz", mu=np.zeros(2), sigma=np.array([[1.0, 2.0], [2.0, 1.0]]))),
]

# fmt: on

ROWS = INFO + EXPORT + EVAL_FID + FID_COVARIANCE + PREP + MODELS_AND_USAGE + TRAIN + RESUME + SAMPLE


def snapshot(root: Path) -> dict[str, str]:
    """Every path below root: a file's SHA-256, or "dir"."""
    return {
        p.relative_to(root).as_posix(): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def test_the_table_is_large_and_ids_are_unique():
    assert len(ROWS) >= 120
    assert len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(cli, row, tmp_path, trained, monkeypatch):
    shutil.copy(trained, tmp_path / "trained.safetensors")
    shutil.copytree(trained.parent, tmp_path / "trained-run")
    root = tmp_path / "cwd"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("GAN_CLI_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GAN_CLI_INCEPTION", raising=False)
    if row.stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(row.stdin))
    if row.setup is not None:
        row.setup(root)
    before = snapshot(root)
    r = cli(*row.args)
    errors = [line for line in r.err.splitlines() if line.startswith("error:")]
    assert r.code == row.code, (r.code, r.err)
    assert len(errors) == 1 and row.message in errors[0], r.err
    assert "Traceback" not in r.err and "internal error" not in r.err and r.out == ""
    assert snapshot(root) == before  # nothing changed, nothing written
