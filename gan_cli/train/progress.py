"""A rich progress bar on stderr for training: step, losses, img/s, ETA (plain lines when not a terminal)."""

from __future__ import annotations

from typing import Any

from gan_cli import console
from gan_cli.train.config import TrainConfig


class Progress:
    """A rich progress bar on stderr (step, losses, img/s, ETA); plain lines when stderr is not a terminal."""

    def __init__(self, cfg: TrainConfig, start: int, quiet: bool) -> None:
        self.cfg, self.quiet, self.start = cfg, quiet, start
        self.live = not quiet and console.console().is_terminal
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn(f"[bold]{self.cfg.model}[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                console=console.console(),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("train", total=self.cfg.steps, completed=self.start, info="")
        return self

    def update(self, step: int, means: dict[str, float], img_s: float) -> None:
        info = "  ".join(f"{k}={v:.3f}" for k, v in means.items() if k.endswith("/loss")) + f"  {img_s:.0f} img/s"
        if self.live:
            self._bar.update(self._task, completed=step, info=info)
        elif not self.quiet and (step % self.cfg.sample_every == 0 or step == self.cfg.steps):
            console.info(f"step {step}/{self.cfg.steps}  {info}")

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
