"""The one training loop. It knows nothing of any family: it runs the family's phases, step after step.

Per step: ask the family's schedule for this step's lr scale, batch size and values; then for each phase
that is due (`step % every == 0`), `repeat` times: draw a fresh batch if the phase takes data, zero its
optimizer, compute its loss (under autocast when mixed precision is on), backward, average gradients across
torchrun processes, step, run its after-step hook; then update the EMA nets. Around that: preview grids from
fixed inputs, metrics.jsonl + losses.png, checkpoints (periodic, at the end, on Ctrl-C/SIGTERM), NaN checks,
a progress bar and exact resume (every random state, cursor, EMA and family state is saved).
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
from gan_cli.io.datasets import TrainData
from gan_cli.registry import Augment, Context, Phase, ema_name, get_family, parse_options
from gan_cli.train import dist as D
from gan_cli.train import ema as E
from gan_cli.train import logs, precision
from gan_cli.train.batches import Batcher
from gan_cli.train.config import TrainConfig, checkpoints_in
from gan_cli.train.finetune import load_init
from gan_cli.train.progress import Progress
from gan_cli.train.state import check_finite, model_meta, restore_full, save_full, save_generator
from gan_cli.train.tensorboard import Board


class Interrupted(GanError):
    exit_code = 130


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


class Trainer:
    """One run: the family, its nets and optimizers, the data, and the step/images-seen counters."""

    def __init__(
        self,
        cfg: TrainConfig,
        data: TrainData,
        run_dir: Path,
        device: torch.device,
        quiet: bool,
        tensorboard: bool = False,
    ) -> None:
        self.d, self.device = D.setup(device)
        self.cfg, self.run_dir, self.quiet = cfg, run_dir, quiet
        fam_cls = get_family(cfg.model)
        torch.manual_seed(cfg.seed)
        num_classes = len(data.class_names) if fam_cls.task == "class" else 0
        opts = parse_options(fam_cls, None, cfg.options)
        self.family = fam = fam_cls(opts, cfg.size, data.channels, num_classes, data.in_channels)
        for net in fam.build().values():
            net.to(device=self.device).train()
            if cfg.channels_last:  # conv kernels in NHWC order; not 5-D (StyleGAN2) or (1, C, 1, 1) scales (AdaLIN)
                for t in (*net.parameters(), *net.buffers()):
                    if t.dim() == 4 and t.shape[2] * t.shape[3] > 1:
                        t.data = t.data.contiguous(memory_format=torch.channels_last)
            D.broadcast_module(net, self.d)
        fam.prepare_training(self.device)
        self.ema = fam.ema()
        if self.ema is not None:
            fam.nets[ema_name(self.ema.net)] = E.create(fam.nets[self.ema.net])
        self.optims = fam.optimizers(cfg.lr)
        for opt in self.optims.values():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.phases = fam.phases()
        self._check_phases(self.phases)
        self.params = {k: [p for g in o.param_groups for p in g["params"]] for k, o in self.optims.items()}
        fam.rng = torch.Generator(device=self.device).manual_seed(cfg.seed * 7919 + 1 + self.d.rank)
        augment = Augment(cfg.load_size / cfg.size if cfg.load_size else 1.0, cfg.flip)
        self.batcher = Batcher(data, fam.task, cfg.size, augment, cfg.seed, self.d, self.device, cfg.channels_last)
        self.fixed = fam.preview_inputs(
            self._preview_batch(data), self._preview_count(data), torch.Generator().manual_seed(cfg.seed + 12345)
        )
        self.autocast, self.scaler = precision.autocast(cfg.amp, self.device)
        self.step, self.seen = 0, 0
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.values: dict[str, float] = {}
        self.last_ckpt: Path | None = None
        self.board = Board(run_dir, None) if tensorboard and self.d.main else None
        class_names = data.class_names if fam.task == "class" else []
        self.meta = model_meta(fam, cfg.options, class_names, 0, data.source)
        if self.d.main:
            (run_dir / "samples").mkdir(parents=True, exist_ok=True)
            (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)

    def _check_phases(self, phases: list[Phase]) -> None:
        for ph in phases:
            if ph.opt not in self.optims:
                raise ValueError(f"{self.cfg.model}: phase {ph.name} uses optimizer {ph.opt!r}, not in optimizers()")
            missing = [n for n in ph.freeze if n not in self.family.nets]
            if missing:
                raise ValueError(f"{self.cfg.model}: phase {ph.name} freezes unknown nets {missing}")

    def _preview_count(self, data: TrainData) -> int:
        if self.family.task == "class":
            return 8 * min(8, self.family.num_classes)
        return min(8, len(data)) if "A" in data.domains else 64

    def _preview_batch(self, data: TrainData) -> dict[str, torch.Tensor] | None:
        """The first images of each domain, centre-cropped: the fixed inputs of translation previews."""
        if "A" not in data.domains:
            return None
        out = {}
        for key in ("A", "B"):
            rows = torch.from_numpy(data.domains[key].images[: self._preview_count(data)].copy())
            off = (rows.shape[1] - self.cfg.size) // 2
            rows = rows[:, off : off + self.cfg.size, off : off + self.cfg.size]
            out[key] = rows.permute(0, 3, 1, 2).float().div(127.5).sub(1)
        return out

    # --- resume ----------------------------------------------------------------------------------
    def restore(self, path: Path) -> None:
        tensors, meta = restore_full(path, self.family, self.optims)
        self.step, self.seen = int(meta["step"]), int(meta.get("seen", 0))
        old_lr = float(meta.get("train", {}).get("lr", self.cfg.lr))
        if old_lr != self.cfg.lr:  # --lr given on resume: rescale every group's base lr
            for opt in self.optims.values():
                for group in opt.param_groups:
                    group["initial_lr"] = group["initial_lr"] * self.cfg.lr / old_lr if old_lr else self.cfg.lr
        self.batcher.load(tensors)
        rank = self.d.rank
        for which, setter in (("torch", torch.set_rng_state), ("family", self.family.rng.set_state)):
            key = f"rng.{which}.{rank}"
            if key not in tensors:
                raise BadInput(f"{path}: no random state {key} (was it written by a run with fewer processes?)")
            try:
                setter(tensors[key])
            except RuntimeError:
                raise BadInput(f"{path}: random state {key} is damaged") from None
        if self.device.type == "cuda" and f"rng.cuda.{rank}" in tensors:
            torch.cuda.set_rng_state(tensors[f"rng.cuda.{rank}"])
        self.fixed = {k[len("fixed.") :]: v for k, v in tensors.items() if k.startswith("fixed.")}
        self.last_ckpt = path
        if self.board is not None:
            self.board.resumed_at = self.step + 1  # events logged after the checkpoint by the stopped run are purged
        if self.d.main:
            logs.truncate(self.run_dir / "metrics.jsonl", self.step)
            console.info(f"resuming {self.run_dir} from step {self.step} ({path.name})")

    def initialize(self, path: Path) -> None:
        """--init: the networks' weights from another checkpoint; optimizers, step and data stay fresh."""
        source = self.ema.net if self.ema is not None else None
        loaded = load_init(path, self.family, source)
        if self.d.main:
            avg = ema_name(source) if source else None
            fresh = [n for n in self.family.nets if n not in loaded and n != avg]
            notes = [f"{avg} = {source}"] if avg and avg not in loaded else []
            notes += [f"{', '.join(fresh)} fresh: not in the file"] if fresh else []
            console.info(
                f"initialised {', '.join(loaded)} from {path}" + (f" ({'; '.join(notes)})" if notes else "")
                + "; new optimizers, step 0"
            )

    # --- one step --------------------------------------------------------------------------------
    def train_step(self) -> None:
        fam, cfg = self.family, self.cfg
        ctx = Context(self.step, self.seen, cfg.steps, cfg.batch_size, self.device)
        sched = fam.schedule(ctx)
        ctx.batch_size = sched.batch_size or cfg.batch_size
        ctx.values = self.values = dict(sched.values)
        for key, opt in self.optims.items():
            scale = sched.lr_scale.get(key, 1.0) if isinstance(sched.lr_scale, dict) else sched.lr_scale
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * scale
        last = None
        for ph in self.phases:
            if not ph.runs_at(self.step):
                continue
            ctx.phase = ph
            frozen = [p for n in ph.freeze for p in fam.nets[n].parameters() if p.requires_grad]
            for p in frozen:
                p.requires_grad_(False)
            for _ in range(ph.repeat):
                if ph.data or last is None:
                    last = self.batcher.next(ctx.batch_size)
                    self.seen += ctx.batch_size
                losses = self._run_phase(ph, last, ctx)
            for p in frozen:
                p.requires_grad_(True)
            self.counts[ph.name] = self.counts.get(ph.name, 0) + 1
            for k, v in losses.items():  # the last repeat's values
                key = f"{ph.name}/{k}"
                self.sums[key] = self.sums[key] + v.detach().float() if key in self.sums else v.detach().float()
        if self.ema is not None:
            b = E.beta(self.ema, ctx.batch_size, ctx.seen)
            E.update(fam.nets[ema_name(self.ema.net)], fam.nets[self.ema.net], b)
        self.step += 1

    def _run_phase(self, ph: Phase, batch: dict[str, torch.Tensor], ctx: Context) -> dict[str, torch.Tensor]:
        opt = self.optims[ph.opt]
        opt.zero_grad(set_to_none=True)
        with self.autocast():
            losses = ph.loss(batch, ctx)
        if self.scaler is not None:
            self.scaler.scale(losses["loss"]).backward()
            self.scaler.unscale_(opt)
        else:
            losses["loss"].backward()
        D.average_gradients(self.params[ph.opt], self.d)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()
        if ph.after_step is not None:
            ph.after_step()
        return losses

    # --- logs, previews, checkpoints -------------------------------------------------------------
    def log(self, elapsed: float, seen_since: int) -> tuple[dict[str, float], float]:
        means = {k: float(v) / self.counts[k.split("/", 1)[0]] for k, v in self.sums.items()}
        if not all(math.isfinite(v) for v in means.values()):
            bad = ", ".join(f"{k}={v}" for k, v in means.items() if not math.isfinite(v))
            hint = f"last good checkpoint: {self.last_ckpt}" if self.last_ckpt else "no checkpoint was written"
            raise RuntimeFailure(f"loss is not finite at step {self.step} ({bad}); stopped, {hint}. Try a lower --lr")
        img_s = seen_since / max(elapsed, 1e-9)
        if self.d.main:
            record = {
                "step": self.step,
                "epoch": self.batcher.epoch,
                "kimg": round(self.seen / 1000, 3),
                "img_s": round(img_s, 1),
                **means,
                **{f"sched/{k}": v for k, v in self.values.items()},
            }
            logs.append(self.run_dir / "metrics.jsonl", record)
            if self.board is not None:
                self.board.scalars(record)
        self.sums, self.counts = {}, {}
        return means, img_s

    @torch.no_grad()
    def snapshot(self) -> None:
        nets = self.family.inference_nets()
        modes = {n: m.training for n, m in nets.items()}
        for m in nets.values():
            m.eval()
        fixed = {k: v.to(self.device) for k, v in self.fixed.items()}
        with self.autocast():
            out, cols = self.family.preview(nets, fixed)
        for n, m in nets.items():
            m.train(modes[n])
        grid = images.make_grid(out.float(), -(-out.shape[0] // cols), cols)
        images.save_image(images.tensor_to_pil(grid), self.run_dir / "samples" / f"step-{self.step:07d}.png")
        if self.board is not None:
            self.board.grid(grid, self.step)
        logs.plot(
            self.run_dir / "metrics.jsonl", self.run_dir / "losses.png", f"{self.cfg.model} - {self.run_dir.name}"
        )

    def save(self, final: bool) -> None:
        """Write a full checkpoint (rank 0; every rank contributes its random states)."""
        try:
            check_finite(self.family)
        except RuntimeFailure as e:
            hint = f"last good checkpoint: {self.last_ckpt}" if self.last_ckpt else "no checkpoint was written"
            raise RuntimeFailure(
                f"weights are not finite at step {self.step} ({e}); stopped, {hint}. Try a lower --lr"
            ) from None
        extra = {f"fixed.{k}": v for k, v in self.fixed.items()}
        extra.update(self.batcher.state())
        states = [("torch", torch.get_rng_state()), ("family", self.family.rng.get_state())]
        if self.device.type == "cuda":
            states.append(("cuda", torch.cuda.get_rng_state(self.device)))
        for which, t in states:
            for rank, s in enumerate(D.gather(t, self.d, self.device)):
                extra[f"rng.{which}.{rank}"] = s
        if self.d.main:
            meta = {**self.meta, "step": self.step, "seen": self.seen, "train": self.cfg.to_dict()}
            meta["schedule"] = self.values  # the last step's values (a growing net's res and alpha: gan info)
            path = self.run_dir / "checkpoints" / f"step-{self.step:07d}.safetensors"
            self.last_ckpt = save_full(path, self.family, self.optims, extra, meta)
            if final:
                save_generator(self.run_dir / "generator.safetensors", self.family, meta)
            old = [p for p in checkpoints_in(self.run_dir) if p != path]
            for p in old[: max(0, len(old) - (self.cfg.keep - 1))]:
                p.unlink(missing_ok=True)
        D.barrier(self.d)

    # --- the run ---------------------------------------------------------------------------------
    def _board_open(self) -> contextlib.AbstractContextManager:
        return contextlib.closing(self.board) if self.board is not None else contextlib.nullcontext()

    def run(self) -> Path:
        cfg, d = self.cfg, self.d
        if d.main:
            write_text(self.run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
        t_last, seen_last = time.perf_counter(), self.seen
        progress = Progress(cfg, self.step, self.quiet or not d.main)
        with StopFlag() as stop, progress, self._board_open():
            try:
                while self.step < cfg.steps:
                    self.train_step()
                    at_log = self.step % cfg.log_every == 0 or self.step == cfg.steps
                    at_sample = self.step % cfg.sample_every == 0 or self.step == cfg.steps
                    at_ckpt = self.step % cfg.ckpt_every == 0 or self.step == cfg.steps
                    stopping = D.all_true(stop.signal is None, d) is False
                    if at_log or at_sample or at_ckpt or stopping:
                        now = time.perf_counter()
                        progress.update(self.step, *self.log(now - t_last, self.seen - seen_last))
                        t_last, seen_last = now, self.seen
                    if d.main and at_sample:
                        self.snapshot()
                    if at_ckpt or stopping:
                        self.save(final=self.step == cfg.steps or stopping)
                    if stopping:
                        name = "Ctrl-C" if stop.signal == signal.SIGINT else "SIGTERM"
                        if d.main:
                            console.out(str(self.last_ckpt))
                        raise Interrupted(
                            f"{name} at step {self.step}: saved {self.last_ckpt}; continue with "
                            f"gan train {cfg.model} --resume {self.run_dir}"
                        )
            except KeyboardInterrupt:
                last = f"last checkpoint {self.last_ckpt}" if self.last_ckpt else "no checkpoint was written"
                raise Interrupted(f"second interrupt: exiting without saving; {last}") from None
        D.cleanup(d)
        return self.last_ckpt or checkpoints_in(self.run_dir)[-1]


def train(
    cfg: TrainConfig,
    data: TrainData,
    run_dir: Path,
    device: torch.device,
    resume: Path | None = None,
    quiet: bool = False,
    init: Path | None = None,
    tensorboard: bool = False,
) -> Path:
    """Train (or continue) a run in `run_dir`, new runs from `init`'s weights if given; return the final checkpoint.

    `tensorboard`: also write the metrics and preview grids as TensorBoard event files in `run_dir`.
    """
    trainer = Trainer(cfg, data, run_dir, device, quiet, tensorboard)
    if resume is not None:
        trainer.restore(resume)
    elif init is not None:
        trainer.initialize(init)
    return trainer.run()
