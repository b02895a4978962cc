"""Progressive growing (Karras et al. 2018), shared by the `pggan` and `stylegan` families.

Training starts at `start_res` and doubles the resolution up to `--size`. Each resolution first trains
for `stable_kimg` thousand images; then the next one fades in linearly over `fade_kimg` (its new layers
blended by alpha from 0 to 1 with the upsampled output of the previous ones), and so on; the final
resolution stays. As in the official `TrainingSchedule`, everything is a pure function of the images seen
(`stage_at`), expressed as a level of detail `lod` (0 = full size, 1 = half size, 2.5 = half-way through
fading in a quarter size), so a checkpoint saved mid-fade resumes exactly with no extra state. The batch
size and learning rate may differ per resolution (`-o batch_sizes=4:64,8:64,16:32`, `-o lrs=32:0.0015`);
a resolution that is not listed gets --batch-size / --lr.

The nets hold `lod` as a buffer (the official code keeps it as a variable of G and D): the family sets
it from the schedule every step, the EMA copy follows, and a saved generator samples at the stage it
reached. The data set is read at --size; `reals_at` box-filters it down to the stage's resolution
(as the official data sets' lod levels) and blends in its 2x-coarser version during a fade, as the
official `process_reals` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from gan_cli.errors import BadInput
from gan_cli.registry import EMA, Context, Family, Phase, Schedule, option


@dataclass
class ProgressiveOptions:
    start_res: int = option(4, "resolution that training starts at (then doubles up to --size)", min=4, max=1024)
    stable_kimg: float = option(20.0, "thousands of images each resolution trains before the next fades in", min=0)
    fade_kimg: float = option(20.0, "thousands of images over which a new resolution fades in", min=0)
    batch_sizes: str = option("", "batch size per resolution, e.g. 4:64,8:64,16:32 (others: --batch-size)")
    lrs: str = option("", "learning rate per resolution, e.g. 16:0.0015,32:0.002 (others: --lr)")


@dataclass(frozen=True)
class Stage:
    res: int  # the resolution being trained (during a fade: the one fading in)
    alpha: float  # weight of the new resolution's layers: 0 -> 1 during its fade, then 1
    lod: float  # the official level of detail: log2(size / res) + 1 - alpha


def stage_at(kimg: float, size: int, start_res: int, stable_kimg: float, fade_kimg: float) -> Stage:
    """The stage after `kimg` thousand images (the official TrainingSchedule's lod, from images seen)."""
    top, lod = int(math.log2(size)), math.log2(size) - math.log2(start_res)
    period = stable_kimg + fade_kimg
    if period > 0:
        idx = math.floor(kimg / period)
        lod -= idx
        if fade_kimg > 0:
            lod -= max(kimg - idx * period - stable_kimg, 0.0) / fade_kimg
    lod = max(lod, 0.0)
    level = math.floor(lod)
    return Stage(res=2 ** (top - level), alpha=1.0 - (lod - level), lod=lod)


def total_kimg(size: int, start_res: int, stable_kimg: float, fade_kimg: float) -> float:
    """Images (thousands) until the last resolution has faded in and trained stable_kimg."""
    stages = int(math.log2(size) - math.log2(start_res)) + 1
    return stages * stable_kimg + (stages - 1) * fade_kimg


def parse_res_map(text: str, key: str, size: int, start_res: int, kind: type) -> dict[int, Any]:
    """`4:64,8:32` -> {4: 64, 8: 32}; every resolution a power of two within start_res..size."""
    out: dict[int, Any] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        res_s, sep, val_s = item.partition(":")
        try:
            res, value = int(res_s), kind(val_s)
        except ValueError:
            raise BadInput(f"-o {key}={text}: expected entries like 16:{'32' if kind is int else '0.002'}") from None
        if not sep or res < 4 or res & (res - 1):
            raise BadInput(f"-o {key}: {item!r} needs a power-of-two resolution, e.g. 16:{val_s or 32}")
        if res > size:
            raise BadInput(f"-o {key}: {res} px is beyond --size {size}; training grows from {start_res} to {size} px")
        if res < start_res:
            raise BadInput(f"-o {key}: {res} px is below start_res {start_res}; training never runs at {res} px")
        if not value > 0:
            raise BadInput(f"-o {key}: {item!r} must be positive")
        out[res] = value
    return out


def reals_at(x: torch.Tensor, stage: Stage) -> torch.Tensor:
    """Real images box-filtered down to the stage's resolution, faded with their 2x-coarser version."""
    if x.shape[-1] != stage.res:
        x = F.avg_pool2d(x, x.shape[-1] // stage.res)
    if stage.alpha < 1:
        coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0, mode="nearest")
        x = torch.lerp(x, coarse, 1.0 - stage.alpha)
    return x


class ProgressiveFamily(Family):
    """A family whose nets grow: the schedule, its checks, and the stage of a step."""

    sizes = (8, 16, 32, 64, 128, 256, 512, 1024)

    def __init__(self, opts: Any, size: int, channels: int, num_classes: int = 0, in_channels: int | None = None):
        super().__init__(opts, size, channels, num_classes, in_channels)
        start = opts.start_res
        if start & (start - 1):
            raise BadInput(f"-o start_res={start}: must be a power of two (4, 8, 16, ...)")
        if start > size:
            raise BadInput(f"-o start_res={start}: cannot grow past --size {size}")
        if opts.stable_kimg + opts.fade_kimg <= 0:
            raise BadInput("-o stable_kimg and fade_kimg cannot both be 0 (the resolution would never grow)")
        self.batch_sizes = parse_res_map(opts.batch_sizes, "batch_sizes", size, start, int)
        self.lrs = parse_res_map(opts.lrs, "lrs", size, start, float)
        self.base_lr = 0.0  # --lr, set by optimizers(): per-resolution lrs are scales of it

    # One D step then one G step per minibatch, Adam (beta1, beta2, eps 1e-8) on both, G_ema with a half-life of
    # ema_kimg: the two progressive families share this; they define d_loss, g_loss and those three options.
    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        self.base_lr = lr
        betas = (self.opts.beta1, self.opts.beta2)
        return {k: torch.optim.Adam(self.nets[k].parameters(), lr=lr, betas=betas, eps=1e-8) for k in ("D", "G")}

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_loss), Phase("G", self.g_loss, freeze=("D",), data=False)]

    def ema(self) -> EMA | None:
        return EMA("G", self.opts.ema_kimg, None) if self.opts.ema_kimg > 0 else None

    def stage(self, seen: int) -> Stage:
        o = self.opts
        return stage_at(seen / 1000.0, self.size, o.start_res, o.stable_kimg, o.fade_kimg)

    def schedule(self, ctx: Context) -> Schedule:
        s = self.stage(ctx.seen)
        lr = self.lrs.get(s.res)
        return Schedule(
            lr_scale=lr / self.base_lr if lr is not None and self.base_lr > 0 else 1.0,
            batch_size=self.batch_sizes.get(s.res),
            values={"res": float(s.res), "alpha": s.alpha, "lod": s.lod},
        )

    @staticmethod
    def stage_of(ctx: Context) -> Stage:
        """This step's stage, from the schedule values the loop passes to the losses."""
        v = ctx.values
        return Stage(int(v["res"]), float(v["alpha"]), float(v["lod"]))

    @staticmethod
    def check_batch(name: str, n: int, group: int) -> None:
        if n % min(group, n):
            raise BadInput(f"{name}: the batch per process ({n}) must be a multiple of {group} (minibatch stddev)")
