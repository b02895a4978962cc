"""What a training run is: saved as config.json in the run folder and in every checkpoint's metadata."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    model: str  # family name
    data: str  # "mnist", a folder or a .npy array
    data_b: str | None = None  # domain B of translation data, when not inside --data
    direction: str = "AtoB"  # translation direction of the data (BtoA swaps A and B)
    options: dict[str, Any] = field(default_factory=dict)  # the family's options (all, not just -o)
    size: int = 32  # image size in pixels (square)
    steps: int = 3000  # total generator steps (a resumed run continues up to this)
    batch_size: int = 64  # global batch (split across torchrun processes)
    lr: float = 2e-4
    seed: int = 0
    amp: str = "auto"  # mixed precision: auto (CUDA and CPUs with bf16 instructions), on, off
    sample_every: int = 500  # steps between sample grids
    ckpt_every: int = 1000  # steps between full checkpoints
    log_every: int = 10  # steps between metrics.jsonl records
    keep: int = 3  # full checkpoints kept (older ones are deleted); the final one is always kept
    channels_last: bool = True  # memory format of conv activations (faster on CPU and tensor cores)
    load_size: int = 0  # images are stored at this size and randomly cropped to `size` (0: no crop)
    flip: bool = False  # random horizontal flips
    in_memory: bool = False  # copy the data set into RAM instead of memory-mapping the decoded cache
    init: str | None = None  # --init: the checkpoint whose weights the run started from (a record)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def next_run_dir(model: str, root: Path = Path("runs")) -> Path:
    """runs/<model>-NNN with the next free number."""
    taken = [
        int(m.group(1)) for p in root.glob(f"{model}-*") if (m := re.fullmatch(rf"{re.escape(model)}-(\d+)", p.name))
    ]
    return root / f"{model}-{max(taken, default=0) + 1:03d}"


def checkpoints_in(run_dir: Path) -> list[Path]:
    """Full checkpoints of a run, oldest step first."""
    return sorted((run_dir / "checkpoints").glob("step-*.safetensors"))


def newest_run(model: str, root: Path = Path("runs")) -> Path | None:
    runs = [
        p for p in root.glob(f"{model}-*") if re.fullmatch(rf"{re.escape(model)}-\d+", p.name) and checkpoints_in(p)
    ]
    return max(runs, key=lambda p: int(p.name.rsplit("-", 1)[1]), default=None)


def resolve_checkpoint(path: Path | None, model: str | None, flag: str = "--weights") -> tuple[Path, Path | None]:
    """(checkpoint, its run folder or None) from a file, a run folder, or the newest runs/<model>-NNN.

    The one place that turns what a user points at into a checkpoint: sample, translate, eval-fid and
    train --resume / --init all use it. A pretrained name (`gan models --pretrained`) that is not a path
    is downloaded and converted on first use; without a path and without a local run, a family's named
    default is used where it has one.
    """
    from gan_cli import pretrained
    from gan_cli.errors import BadInput

    if path is None:
        if model is None:
            raise BadInput(f"give a MODEL (to use its newest run) or {flag} FILE")
        run = newest_run(model)
        default = pretrained.default_for(model)
        if run is None and default is not None:
            from gan_cli import console

            console.info(f"no runs/{model}-*/ here: using the pretrained {default!r} (gan models --pretrained)")
            return pretrained.resolve(default), None
        if run is None:
            raise BadInput(
                f"no {flag} given and no runs/{model}-*/checkpoints found: train one with "
                f"`gan train {model} --data ...`, convert a published one with `gan convert SRC DST.safetensors`, "
                f"or pass {flag} FILE"
            )
        return checkpoints_in(run)[-1], run
    if path.is_dir():
        found = checkpoints_in(path)
        if not found:
            raise BadInput(f"{flag} {path}: a folder without checkpoints/step-*.safetensors")
        return found[-1], path
    if not path.exists() and pretrained.is_name(str(path)):
        return pretrained.resolve(str(path)), None
    if not path.exists():
        raise BadInput(f"{flag} {path}: no such run folder, checkpoint or pretrained name (gan models --pretrained)")
    run = path.parent.parent if path.parent.name == "checkpoints" else None
    return path, run
