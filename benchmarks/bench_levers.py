"""The levers left for the translation speed targets (issues 10 and 11), each against the plain loop, same run.

`bench_translate.py` and `bench_photo2cartoon.py` time what gan-cli ships. This one times what it does not
ship, to say how far each remaining lever goes on this CPU. Network only (no file decode/encode), 256 px,
random weights (time does not depend on values), fp32 unless named:

- plain: one image at a time, standard layout (the baseline of both issues);
- batch 4 eager: what `gan translate` runs (channels-last for the U-Net);
- bf16: weights and input in bfloat16, batch 1 (this CPU has AVX-512 but no AVX512-BF16 / AMX);
- 2 workers x 1 thread: two Python threads, each one image at a time, torch.set_num_threads(1);
- compiled: torch.compile (inductor, weights frozen), batch 4. It generates and builds C++ at run time,
  which gan-cli's "pure PyTorch ops, nothing to compile" rule keeps out of the product;
- compiled Winograd (ResNet only): `winograd.WinogradResnet`, F(4x4, 3x3) in the residual blocks, batch 4.

Each row: images/s, the ratio to plain, the largest output difference from plain in 8-bit levels, and the
compile seconds (first call). The photo2cartoon compile takes ~5 min; skip it with --nets resnet_9blocks unet_256.

    OMP_NUM_THREADS=2 python benchmarks/bench_levers.py [--nets resnet_9blocks unet_256 photo2cartoon]
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import torch
import torch._inductor.config as inductor_config
from torch import nn
from winograd import WinogradResnet

from gan_cli.nets.junyanz import build_generator, init_weights
from gan_cli.nets.photo2cartoon import ResnetGenerator

SIZE, BATCH, N = 256, 4, 8


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "photo2cartoon":
        net = ResnetGenerator(ngf=32, img_size=SIZE, light=True)
        return _FirstOutput(net).eval()
    net = build_generator(name, 3, 3, 64, "instance" if name.startswith("resnet") else "batch", False)
    init_weights(net)
    return net.eval()


class _FirstOutput(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]


def per_image(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return torch.cat([f(x[i : i + 1]) for i in range(len(x))])


def batched(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return torch.cat([f(x[i : i + BATCH]) for i in range(0, len(x), BATCH)])


def two_workers(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out: list[torch.Tensor | None] = [None] * len(x)
    threads = torch.get_num_threads()

    def work(idx: range) -> None:
        with torch.inference_mode():
            for i in idx:
                out[i] = net(x[i : i + 1])

    torch.set_num_threads(1)
    try:
        ts = [threading.Thread(target=work, args=(range(k, len(x), 2),)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        torch.set_num_threads(threads)
    return torch.cat(out)  # type: ignore[arg-type]


def timed(run: Callable[[], torch.Tensor], repeats: int) -> tuple[float, torch.Tensor, float]:
    """(best seconds of `repeats` after a first call, output, seconds of the first call)."""
    t0 = time.perf_counter()
    y = run()
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        y = run()
        best = min(best, time.perf_counter() - t0)
    return best, y, first


def paths(name: str, net: nn.Module) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    cl = torch.channels_last if name.startswith("unet") else torch.contiguous_format
    net_cl = build(name).to(memory_format=cl)
    net_bf16 = build(name).to(torch.bfloat16)
    out = {
        "plain": lambda x: per_image(net, x),
        "batch 4 eager": lambda x: batched(net_cl, x.contiguous(memory_format=cl)),
        "bf16": lambda x: per_image(net_bf16, x.bfloat16()).float(),
        "2 workers x 1 thread": lambda x: two_workers(net, x),
    }
    compiled = torch.compile(build(name).to(memory_format=cl))
    out["compiled"] = lambda x: batched(compiled, x.contiguous(memory_format=cl))
    if name.startswith("resnet"):
        wino = WinogradResnet(build(name))
        out["compiled Winograd"] = lambda x: batched(wino, x)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["resnet_9blocks", "unet_256", "photo2cartoon"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    inductor_config.freezing = True
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {N} images of {SIZE} px, network only")
    x = torch.rand(N, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    print(f"{'net':15} {'path':22} {'img/s':>7} {'vs plain':>9} {'max diff':>9} {'first call':>11}")
    for name in args.nets:
        net = build(name)
        ref = None
        with torch.inference_mode():
            for path, f in paths(name, net).items():
                secs, y, first = timed(lambda f=f: f(x), args.repeats)
                if ref is None:
                    ref, plain = y, secs
                diff = (y.float() - ref).abs().max().item() * 127.5
                row = f"{name:15} {path:22} {N / secs:7.2f} {plain / secs:8.2f}x {diff:9.3f} {first:10.1f}s"
                print(row, flush=True)


if __name__ == "__main__":
    main()
