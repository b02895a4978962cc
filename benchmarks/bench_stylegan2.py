"""StyleGAN2 generator speed on a CPU: gan-cli's network against the reference computation as it runs there.

The reference (`reference_synthesis` below) is rosinality/stylegan2-pytorch's forward as it runs on a
CPU, written out here with the same weights: every FIR resampling through an `upfirdn2d_native`-style
op (reshape to one-channel images, zero-insertion by padding, permute, one-channel conv, slicing),
a grouped transposed conv followed by a separate blur for each up layer, fused_leaky_relu's CPU
fallback as separate ops, grouped convs for the modulation. Both start from the same w, with
const noise; the script checks that their images agree.

The variants are timed in turn in one process, round after round, so that the load of a shared
machine hits them alike; img/s is each one's best round after a warm-up. Peak resident memory
(getrusage ru_maxrss) comes from one forward of each variant in a fresh process.

    python benchmarks/bench_stylegan2.py [--rounds 3] [--sizes 256 1024] [--train64]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from gan_cli.nets.stylegan2 import Discriminator, Generator

BATCH = {256: 4, 1024: 1}


def upfirdn_native(x: torch.Tensor, k: torch.Tensor, up: int, down: int, pad: tuple[int, int]) -> torch.Tensor:
    """upfirdn2d the way rosinality's CPU fallback computes it (one-channel images, pad, permute, slice)."""
    n, c, h, w = x.shape
    p0, p1 = pad
    out = x.reshape(-1, h, 1, w, 1, 1)
    out = F.pad(out, [0, 0, 0, up - 1, 0, 0, 0, up - 1]).view(-1, h * up, w * up, 1)
    out = F.pad(out, [0, 0, max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)])
    out = out.permute(0, 3, 1, 2).reshape(-1, 1, h * up + p0 + p1, w * up + p0 + p1)
    out = F.conv2d(out, torch.flip(k, [0, 1]).view(1, 1, *k.shape))
    oh, ow = out.shape[2:]
    out = out.reshape(-1, 1, oh, ow).permute(0, 2, 3, 1)[:, ::down, ::down, :]
    return out.reshape(n, c, *out.shape[1:3])


def reference_synthesis(sd: dict[str, torch.Tensor], g: Generator, ws: torch.Tensor) -> torch.Tensor:
    """rosinality's Generator.forward after the mapping, randomize_noise=False, on a CPU."""
    n = ws.shape[0]

    def modconv(x, p, w, demod=True, up=False):
        weight = sd[f"{p}.weight"]
        _, c_out, c_in, k, _ = weight.shape
        s = F.linear(w, sd[f"{p}.modulation.weight"] / math.sqrt(w.shape[1]), sd[f"{p}.modulation.bias"])
        wt = weight / math.sqrt(c_in * k * k) * s.view(n, 1, c_in, 1, 1)
        if demod:
            wt = wt * torch.rsqrt(wt.pow(2).sum([2, 3, 4]) + 1e-8).view(n, c_out, 1, 1, 1)
        h, wd = x.shape[2:]
        if up:
            wt = wt.transpose(1, 2).reshape(n * c_in, c_out, k, k)
            out = F.conv_transpose2d(x.reshape(1, n * c_in, h, wd), wt, stride=2, groups=n)
            out = out.view(n, c_out, *out.shape[2:])
            return upfirdn_native(out, sd[f"{p}.blur.kernel"], 1, 1, (1, 1))
        out = F.conv2d(x.reshape(1, n * c_in, h, wd), wt.view(n * c_out, c_in, k, k), padding=k // 2, groups=n)
        return out.view(n, c_out, *out.shape[2:])

    def styled(x, p, w, noise, up=False):
        out = modconv(x, f"{p}.conv", w, up=up)
        out = out + sd[f"{p}.noise.weight"] * noise
        return F.leaky_relu(out + sd[f"{p}.activate.bias"].view(1, -1, 1, 1), 0.2) * math.sqrt(2)

    def to_rgb(x, p, w, skip):
        out = modconv(x, f"{p}.conv", w, demod=False) + sd[f"{p}.bias"]
        return out if skip is None else out + upfirdn_native(skip, sd[f"{p}.upsample.kernel"], 2, 1, (2, 1))

    noise = [sd[f"noises.noise_{i}"] for i in range(g.num_layers)]
    x = sd["input.input"].repeat(n, 1, 1, 1)
    x = styled(x, "conv1", ws[:, 0], noise[0])
    skip = to_rgb(x, "to_rgb1", ws[:, 1], None)
    for j in range(len(g.to_rgbs)):
        i = 2 * j + 1
        x = styled(x, f"convs.{2 * j}", ws[:, i], noise[i], up=True)
        x = styled(x, f"convs.{2 * j + 1}", ws[:, i + 1], noise[i + 1])
        skip = to_rgb(x, f"to_rgbs.{j}", ws[:, i + 2], skip)
    return skip


def build(size: int) -> tuple[Generator, torch.Tensor]:
    torch.manual_seed(0)
    g = Generator(size, channel_multiplier=2).eval()
    with torch.no_grad():
        for name, p in g.named_parameters():
            if name.endswith("noise.weight") or name.endswith("bias"):
                p.normal_(0, 0.1)
        ws = g.mapping(torch.randn(BATCH[size], 512)).unsqueeze(1).expand(-1, g.num_ws, -1).contiguous()
    return g, ws


def variants(g: Generator, ws: torch.Tensor) -> dict:
    sd = dict(g.state_dict())

    def bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return g.synthesis(ws).float()

    return {"reference": lambda: reference_synthesis(sd, g, ws), "gan-cli": lambda: g.synthesis(ws),
            "gan-cli-bf16": bf16}


def peak_child(variant: str, size: int) -> None:
    """One forward of one variant in a fresh process: its peak resident memory."""
    g, ws = build(size)
    with torch.no_grad():
        variants(g, ws)[variant]()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def peaks(size: int) -> dict[str, float]:
    """Peak RSS (MB) per variant. Call before any benchmark: a child forked from a big parent reports
    the parent's size as its own peak."""
    out = {}
    for k in ("reference", "gan-cli", "gan-cli-bf16"):
        cmd = [sys.executable, __file__, "--peak", k, str(size)]
        out[k] = float(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return out


def bench(size: int, rounds: int, peaks: dict[str, float]) -> None:
    """Variants timed in turn, round after round (machine noise hits all alike); best round each."""
    g, ws = build(size)
    fns = variants(g, ws)
    best = dict.fromkeys(fns, math.inf)
    with torch.no_grad():
        outs = {k: fn() for k, fn in fns.items()}  # warm-up
        for _ in range(rounds):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - t0)
    ref, n = outs["reference"], ws.shape[0]
    for k in fns:
        diff = (outs[k] - ref).abs().max().item()
        print(f"{size:5d} px batch {n}  {k:13s} {n / best[k]:7.3f} img/s  x{best['reference'] / best[k]:.2f}  "
              f"peak RSS {peaks[k]:6.0f} MB  max |diff| vs reference {diff:.2e} (image range +-{ref.abs().max():.1f})",
              flush=True)


def train64(rounds: int) -> None:
    """One G and one D forward/backward at 64 px, batch 8 (non-saturating loss), full-size channels."""
    torch.manual_seed(0)
    g, d = Generator(64), Discriminator(64)
    z = torch.randn(8, 512)

    def step():
        fake = g(z, noise_mode="random")
        F.softplus(-d(fake)).mean().backward()
        F.softplus(d(fake.detach())).mean().backward()

    step()
    sec = math.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        step()
        sec = min(sec, time.perf_counter() - t0)
    print(f"64 px G+D forward/backward, batch 8: {sec:.2f} s/step ({8 / sec:.1f} img/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--train64", action="store_true", help="also time a 64 px G+D forward/backward")
    ap.add_argument("--peak", nargs=2, metavar=("VARIANT", "SIZE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peak:
        peak_child(args.peak[0], int(args.peak[1]))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()}")
    memory = {size: peaks(size) for size in args.sizes}
    for size in args.sizes:
        bench(size, args.rounds, memory[size])
    if args.train64:
        train64(args.rounds)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
