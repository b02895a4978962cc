"""`gan train --tensorboard`: the run's metrics and preview grids as TensorBoard event files.

metrics.jsonl stays the source of truth; this is a view of the same records for people who watch
training in TensorBoard (`tensorboard --logdir runs/`): every value of a metrics record (losses, img/s,
kimg, schedule values) as a scalar at its step, and each preview grid as an image. The event files go in
the run folder itself, so each run shows under its folder's name.

The `tensorboard` package is an optional extra (`pip install "gan-cli[tensorboard]"`); PyTorch's own
`torch.utils.tensorboard.SummaryWriter` writes the files. On resume, events from the steps after the
checkpoint (a killed run logged them, the resumed run logs them again) are purged, as metrics.jsonl is
truncated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gan_cli.errors import BadInput

INSTALL = "pip install 'gan-cli[tensorboard]'"


def check_available() -> None:
    """BadInput, before anything is written, if --tensorboard cannot work here."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401  (needs the tensorboard package)
    except ImportError:
        raise BadInput(f"--tensorboard needs the tensorboard package: {INSTALL}") from None


class Board:
    """A SummaryWriter opened at the first record (a run that fails to start leaves no event file)."""

    def __init__(self, run_dir: Path, resumed_at: int | None) -> None:
        # resumed_at: the first step the resumed run logs again; the reader drops older events from that step on
        self.run_dir = run_dir
        self.resumed_at = resumed_at
        self._writer: Any = None

    def _open(self) -> Any:
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.run_dir), purge_step=self.resumed_at)
        return self._writer

    def scalars(self, record: dict[str, Any]) -> None:
        """One metrics.jsonl record: each numeric value but the step, at that step."""
        w, step = self._open(), int(record["step"])
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)):
                w.add_scalar(key, value, step)
        w.flush()

    def grid(self, image: torch.Tensor, step: int) -> None:
        """A preview grid (C, H, W) in [-1, 1]."""
        w = self._open()
        w.add_image("samples", image.float().clamp(-1, 1).add(1).div(2), step)
        w.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
