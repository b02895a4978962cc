"""Several processes under `torchrun --nproc_per_node=K`: data parallel with gradient all-reduce.

We average gradients ourselves after each backward (one flat all-reduce per phase) instead of
wrapping nets in DistributedDataParallel: a GAN freezes and unfreezes its nets between phases, which
DDP's reducer does not like. Rank 0 alone writes files and shows progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group if torchrun started us; pick this rank's GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local), device


def average_gradients(params: list[torch.nn.Parameter], d: Dist) -> None:
    if not d.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= d.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_module(module: torch.nn.Module, d: Dist) -> None:
    if d.enabled:
        for t in module.state_dict().values():
            dist.broadcast(t, 0)


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def all_true(flag: bool, d: Dist) -> bool:
    """True on every rank only if it is true on all (used for stop requests and NaN checks)."""
    if not d.enabled:
        return flag
    t = torch.tensor([0 if flag else 1], dtype=torch.int32)
    dist.all_reduce(t)
    return int(t.item()) == 0


def cleanup(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


def gather(t: torch.Tensor, d: Dist, device: torch.device) -> list[torch.Tensor]:
    """Every rank's copy of a same-shaped tensor (e.g. a random-generator state), on the CPU, rank order."""
    if not d.enabled:
        return [t.cpu()]
    src = t.to(device if device.type == "cuda" else "cpu")
    out = [torch.empty_like(src) for _ in range(d.world)]
    dist.all_gather(out, src)
    return [o.cpu() for o in out]
