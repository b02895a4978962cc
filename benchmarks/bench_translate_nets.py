"""Forward speed of the pix2pix / CycleGAN generators at 256 px: fp32, channels-last, TF32 and bf16 autocast.

Nets: resnet_9blocks (CycleGAN: instance norm, ngf 64) and unet_256 (pix2pix: batch norm, dropout,
ngf 64), both in eval mode, at batch 1 and batch 8. Weights are the reference's random init unless
--weights gives junyanz generator files (then those nets are timed instead). Each variant's output
is compared with the strict fp32 one (no TF32): the largest and the mean absolute difference, in
8-bit pixel levels ((y + 1) / 2 * 255, so "1.0" means one grey level). With random weights the differences only
show the order of magnitude; real weights are the ones to trust.

    python benchmarks/bench_translate_nets.py [--device auto|cpu|cuda] [--reps 20] [--batches 1 8]
    python benchmarks/bench_translate_nets.py --weights latest_net_G_A.pth --image photo.png
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from gan_cli.convert.junyanz import convert_junyanz
from gan_cli.nets.junyanz import build_generator, init_weights, set_test_mode

DEFAULT_NETS = [
    dict(name="resnet_9blocks", in_ch=3, out_ch=3, ngf=64, norm="instance", use_dropout=False),
    dict(name="unet_256", in_ch=3, out_ch=3, ngf=64, norm="batch", use_dropout=True),
]


def load_nets(weights: list[Path], calibration: torch.Tensor) -> list[tuple[str, nn.Module]]:
    if not weights:
        torch.manual_seed(0)
        nets = []
        for kwargs in DEFAULT_NETS:
            net = build_generator(**kwargs)
            init_weights(net)
            calibrate_batchnorm(net, calibration)
            nets.append((kwargs["name"], net))
        return nets
    nets = []
    for path in weights:
        conv = convert_junyanz(path)
        net = build_generator(**conv.net_kwargs)
        net.load_state_dict(conv.tensors)
        nets.append((f"{conv.net_kwargs['name']} ({path.name})", net))
    return nets


def calibrate_batchnorm(net: nn.Module, x: torch.Tensor) -> None:
    """BatchNorm running statistics from the input itself: a fresh net's (0, 1) would make eval-mode activations
    unlike a trained net's ones, and the precision comparison meaningless."""
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a plain average over the calls
    with torch.no_grad():
        net.train()(x)
    for m in bns:
        m.momentum = 0.1


def make_input(image: Path | None, size: int, batch: int) -> torch.Tensor:
    """A real photo if given, else smooth stripes; values in [-1, 1] as the reference feeds them."""
    if image:
        rgb = np.asarray(Image.open(image).convert("RGB").resize((size, size), Image.BICUBIC))
        x = torch.from_numpy(rgb).permute(2, 0, 1).float().div(127.5).sub(1)
    else:
        i = torch.linspace(0, 20, size).view(1, size, 1)
        j = torch.linspace(0, 14, size).view(1, 1, size)
        x = torch.sin(i + j * torch.tensor([1.0, 1.5, 2.0]).view(3, 1, 1)) * 0.9
    return x.unsqueeze(0).repeat(batch, 1, 1, 1)


def variants(device: torch.device) -> dict[str, tuple[bool, bool, torch.dtype | None]]:
    """name -> (channels_last, tf32, autocast dtype)."""
    out = {"fp32": (False, False, None), "channels-last": (True, False, None)}
    if device.type == "cuda":
        out["tf32"] = (False, True, None)
    out["bf16"] = (False, False, torch.bfloat16)
    out["bf16 channels-last"] = (True, False, torch.bfloat16)
    return out


def run(net: nn.Module, x: torch.Tensor, channels_last: bool, tf32: bool, amp: torch.dtype | None, reps: int):
    """(images/s, output of the last call as float32)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    autocast = torch.autocast(x.device.type, dtype=amp) if amp else contextlib.nullcontext()
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    with torch.inference_mode(), autocast:
        for _ in range(3 if x.device.type == "cuda" else 1):
            y = net(x)
        sync()
        t0 = time.perf_counter()
        for _ in range(reps):
            y = net(x)
        sync()
        dt = time.perf_counter() - t0
    return x.shape[0] * reps / dt, y.float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--reps", type=int, default=20, help="timed forward calls per measurement")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--weights", type=Path, nargs="*", default=[], help="junyanz *_net_G*.pth files")
    ap.add_argument("--image", type=Path, help="an input photo (default: synthetic stripes)")
    args = ap.parse_args()
    name = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    device = torch.device(name)
    label = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {label}, {args.size} px, {args.reps} reps")
    print(f"{'net':<16} {'batch':>5} {'variant':<20} {'img/s':>9} {'vs fp32':>8} {'max diff':>9} {'mean diff':>9}")
    torch.backends.cudnn.benchmark = True  # as the reference sets it: fixed sizes, fastest algorithms
    for net_name, net in load_nets(args.weights, make_input(args.image, args.size, 4)):
        net = set_test_mode(net, "eval").to(device)
        for batch in args.batches:
            x = make_input(args.image, args.size, batch).to(device)
            base_speed, base = None, None
            for vname, (cl, tf32, amp) in variants(device).items():
                speed, y = run(net, x, cl, tf32, amp, args.reps)
                if base is None:
                    base_speed, base = speed, y
                diff = (y - base).abs() * 127.5
                print(
                    f"{net_name:<16} {batch:>5} {vname:<20} {speed:>9.2f} {speed / base_speed:>7.2f}x "
                    f"{diff.max().item():>9.3f} {diff.mean().item():>9.4f}"
                )


if __name__ == "__main__":
    main()
