"""The one training loop. It knows nothing of any family: it runs the family's phases, step after step.

Per step, for each phase (e.g. D x5 then G x1): take a fresh batch, zero that phase's optimizer,
compute the phase's loss (under autocast when mixed precision is on), backward, average gradients
across torchrun processes, step, run the phase's after-step hook. Around that: fixed-noise sample
grids, metrics.jsonl + losses.png, checkpoints (periodic, at the end, on Ctrl-C/SIGTERM), NaN checks,
a rich progress bar, and exact resume (all random states and the data cursor are saved).
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import time
from pathlib import Path
from typing import Any

import torch

from gan_cli import console
from gan_cli.errors import BadInput, GanError, RuntimeFailure
from gan_cli.io import images
from gan_cli.io.atomic import write_text
from gan_cli.io.datasets import ImageData
from gan_cli.registry import Family, get_family, parse_options
from gan_cli.train import dist as D
from gan_cli.train import logs
from gan_cli.train.config import TrainConfig, checkpoints_in
from gan_cli.train.state import model_meta, restore_full, save_full, save_generator


class Interrupted(GanError):
    exit_code = 130


class Sampler:
    """Shuffled batches, epoch after epoch, from a seed and a cursor (epoch, position) that is saved."""

    def __init__(self, n: int, batch: int, seed: int, d: D.Dist) -> None:
        if n < batch:
            raise BadInput(f"the data set has {n} images, fewer than one batch ({batch}): lower --batch-size")
        self.n, self.batch, self.seed, self.d = n, batch, seed, d
        self.epoch, self.pos = 0, 0
        self._perm: torch.Tensor | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(self.n, generator=g)
        return self._perm

    def next(self) -> torch.Tensor:
        if self.pos + self.batch > self.n:  # drop the ragged tail, start a new epoch
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        idx = self._permutation()[self.pos : self.pos + self.batch]
        self.pos += self.batch
        return idx[self.d.rank :: self.d.world]

    def state(self) -> torch.Tensor:
        return torch.tensor([self.epoch, self.pos], dtype=torch.int64)

    def load(self, t: torch.Tensor) -> None:
        self.epoch, self.pos, self._perm = int(t[0]), int(t[1]), None


class StopFlag:
    """Turns SIGINT/SIGTERM into a request to stop after the current step (and save)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:  # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def cpu_bf16_native() -> bool:
    """Whether this CPU has bf16 dot-product instructions (AVX512-BF16 or AMX).

    There bf16 autocast trains DCGAN 1.6x faster than fp32 with the same sample quality
    (benchmarks/bench_train_dcgan.py; FID check in the README); elsewhere bf16 is emulated and slower.
    """
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:
            pass
    return False


def _autocast(cfg: TrainConfig, device: torch.device) -> tuple[contextlib.AbstractContextManager, Any]:
    """(autocast context factory, GradScaler or None) for --amp: auto is on for CUDA and bf16 CPUs."""
    native = device.type == "cuda" or (device.type == "cpu" and cpu_bf16_native())
    on = cfg.amp == "on" or (cfg.amp == "auto" and native)
    if not on or device.type == "mps":
        return contextlib.nullcontext, None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return (lambda: torch.autocast("cuda", dtype=torch.float16)), torch.amp.GradScaler("cuda")
    return (lambda: torch.autocast(device.type, dtype=torch.bfloat16)), None


def _fixed_labels(family: Family, n: int, cols: int) -> torch.Tensor | None:
    if family.task != "class":
        return None
    return (torch.arange(n) // cols) % family.num_classes  # one row per class


def train(
    cfg: TrainConfig,
    data: ImageData,
    run_dir: Path,
    device: torch.device,
    resume: Path | None = None,
    quiet: bool = False,
) -> Path:
    """Train (or continue) a run in `run_dir`; return the path of the final full checkpoint."""
    d, device = D.setup(device)
    fam_cls = get_family(cfg.model)
    opts = parse_options(fam_cls, None, cfg.options)
    num_classes = len(data.class_names) if data.labels is not None else 0

    torch.manual_seed(cfg.seed)
    family = fam_cls(opts, cfg.size, data.channels, num_classes)
    nets = family.build()
    mem = torch.channels_last if cfg.channels_last else torch.contiguous_format
    for net in nets.values():
        net.to(device=device, memory_format=mem).train()
        D.broadcast_module(net, d)
    optims = family.optimizers(cfg.lr)
    phases = family.phases()
    family.rng = torch.Generator(device=device).manual_seed(cfg.seed * 7919 + 1 + d.rank)
    sampler = Sampler(len(data), cfg.batch_size, cfg.seed, d)

    grid_rows = min(8, family.num_classes) if family.task == "class" else 8
    grid_cols = 8
    fixed_z = family.sample_latents(grid_rows * grid_cols, torch.Generator().manual_seed(cfg.seed + 12345))
    fixed_y = _fixed_labels(family, grid_rows * grid_cols, grid_cols)

    step = 0
    if resume is not None:
        tensors, meta = restore_full(resume, family, optims, device)
        step = int(meta["step"])
        sampler.load(tensors["data.cursor"])
        torch.set_rng_state(tensors["rng.torch"])
        family.rng.set_state(
            tensors[f"rng.family.{d.rank}"] if f"rng.family.{d.rank}" in tensors else tensors["rng.family.0"]
        )
        fixed_z = tensors["fixed_z"]
        if device.type == "cuda" and "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"])
        if d.main:
            logs.truncate(run_dir / "metrics.jsonl", step)
            console.info(f"resuming {run_dir} from step {step} ({resume.name})")

    images_dev = data.images.to(device)
    labels_dev = data.labels.to(device) if data.labels is not None else None
    autocast, scaler = _autocast(cfg, device)
    cfg_dict = cfg.to_dict()
    class_names = data.class_names if family.task == "class" else []
    meta_base = model_meta(family, cfg_dict, class_names, step, data.source)
    if d.main:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.json", json.dumps(cfg_dict, indent=2) + "\n")

    def batch() -> dict[str, torch.Tensor]:
        idx = sampler.next().to(device)
        x = images_dev.index_select(0, idx).float().div_(127.5).sub_(1.0)
        b = {"x": x.contiguous(memory_format=mem)}
        if labels_dev is not None:
            b["y"] = labels_dev.index_select(0, idx)
        return b

    def save(at: int, final: bool = False) -> Path:
        extra = {
            "rng.torch": torch.get_rng_state(),
            "rng.family.0": family.rng.get_state(),
            "data.cursor": sampler.state(),
            "fixed_z": fixed_z,
        }
        if device.type == "cuda":
            extra["rng.cuda"] = torch.cuda.get_rng_state()
        if fixed_y is not None:
            extra["fixed_y"] = fixed_y
        meta = {**meta_base, "step": at, "train": cfg_dict}
        path = save_full(run_dir / "checkpoints" / f"step-{at:07d}.safetensors", family, optims, extra, meta)
        if final:
            save_generator(run_dir / "generator.safetensors", family, meta)
        old = [p for p in checkpoints_in(run_dir) if p != path]
        for p in old[: max(0, len(old) - (cfg.keep - 1))]:
            p.unlink(missing_ok=True)
        return path

    @torch.no_grad()
    def snapshot(at: int) -> None:
        G = family.nets.get("G_ema", family.nets["G"])
        G.eval()
        with autocast():
            out = family.generate(G, fixed_z.to(device), None if fixed_y is None else fixed_y.to(device))
        G.train()
        images.save_grid(out.float(), grid_rows, grid_cols, run_dir / "samples" / f"step-{at:07d}.png")
        logs.plot(run_dir / "metrics.jsonl", run_dir / "losses.png", f"{cfg.model} - {run_dir.name}")

    params = {name: [p for p in family.nets[name].parameters()] for name in optims}
    sums: dict[str, torch.Tensor] = {}
    count, t_last, step_last = 0, time.perf_counter(), step
    imgs_per_step = cfg.batch_size * family.batches_per_step()
    last_ckpt: Path | None = checkpoints_in(run_dir)[-1] if resume is not None else None
    progress = _Progress(cfg, step, quiet or not d.main)
    with StopFlag() as stop, progress:
        while step < cfg.steps:
            cache: dict[str, Any] = {}
            last: dict[str, torch.Tensor] | None = None
            for ph in phases:
                frozen = [p for n in ph.freeze for p in family.nets[n].parameters()]
                for p in frozen:
                    p.requires_grad_(False)
                for _ in range(ph.repeat):
                    opt = optims[ph.name]
                    opt.zero_grad(set_to_none=True)
                    if ph.data or last is None:
                        last = batch()
                    with autocast():
                        losses = ph.loss(last, cache)
                    if scaler is not None:
                        scaler.scale(losses["loss"]).backward()
                        scaler.unscale_(opt)
                    else:
                        losses["loss"].backward()
                    D.average_gradients(params[ph.name], d)
                    if scaler is not None:
                        scaler.step(opt)
                        scaler.update()
                    else:
                        opt.step()
                    if ph.after_step is not None:
                        ph.after_step()
                for p in frozen:
                    p.requires_grad_(True)
                for k, v in losses.items():  # the last repeat's values
                    key = f"{ph.name}/{k}"
                    sums[key] = sums[key] + v.detach().float() if key in sums else v.detach().float()
            cache.clear()
            step += 1
            count += 1
            at_log = step % cfg.log_every == 0 or step == cfg.steps
            at_sample = step % cfg.sample_every == 0 or step == cfg.steps
            at_ckpt = step % cfg.ckpt_every == 0 or step == cfg.steps
            stopping = D.all_true(stop.signal is None, d) is False
            if at_log or at_sample or at_ckpt or stopping:
                means = {k: float(v) / count for k, v in sums.items()}
                if not all(math.isfinite(v) for v in means.values()):
                    bad = ", ".join(f"{k}={v}" for k, v in means.items() if not math.isfinite(v))
                    hint = f"last good checkpoint: {last_ckpt}" if last_ckpt else "no checkpoint was written"
                    raise RuntimeFailure(
                        f"loss is not finite at step {step} ({bad}); stopped, {hint}. Try a lower --lr"
                    )
                now = time.perf_counter()
                img_s = imgs_per_step * (step - step_last) / max(now - t_last, 1e-9)
                if d.main:
                    logs.append(
                        run_dir / "metrics.jsonl",
                        {"step": step, "epoch": sampler.epoch, "img_s": round(img_s, 1), **means},
                    )
                progress.update(step, means, img_s)
                sums, count, t_last, step_last = {}, 0, now, step
            if d.main and at_sample:
                snapshot(step)
            if at_ckpt or stopping:
                if d.main:
                    last_ckpt = save(step, final=step == cfg.steps or stopping)
                D.barrier(d)
            if stopping:
                name = "Ctrl-C" if stop.signal == signal.SIGINT else "SIGTERM"
                if d.main:
                    console.out(str(last_ckpt))
                raise Interrupted(
                    f"{name} at step {step}: saved {last_ckpt}; continue with gan train {cfg.model} --resume {run_dir}"
                )
    D.cleanup(d)
    if last_ckpt is None:  # --steps already reached when resuming
        last_ckpt = checkpoints_in(run_dir)[-1]
    return last_ckpt


class _Progress:
    """A rich progress bar on stderr (step, losses, img/s, ETA); plain lines when stderr is not a terminal."""

    def __init__(self, cfg: TrainConfig, start: int, quiet: bool) -> None:
        self.cfg, self.quiet, self.start = cfg, quiet, start
        self.live = not quiet and console.console().is_terminal
        self._bar: Any = None

    def __enter__(self) -> _Progress:
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
