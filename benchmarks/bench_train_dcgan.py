"""Training throughput of `gan train dcgan` (32 px, batch 64) against a plain eager fp32 loop.

img/s counts the real images shown to D: one batch of 64 per step for DCGAN, in both loops (each
step is one D update on 64 real + 64 fake images and one G update on 64 fakes).

The plain loop is the DCGAN training loop written the obvious way (as in the PyTorch examples):
a DataLoader over a TensorDataset with shuffling, Sigmoid + BCELoss, two backward calls for D,
D's weight gradients computed (and discarded) in the G step, default memory format and optimizers.
Both train the same architecture on the same MNIST digits in the same process, one after the other,
alternating rounds so that machine noise hits both alike.

    python benchmarks/bench_train_dcgan.py [--steps 150] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gan_cli.io.datasets import load_data
from gan_cli.models.layers import DCGANDiscriminator, DCGANGenerator, dcgan_init
from gan_cli.train import logs
from gan_cli.train.config import TrainConfig
from gan_cli.train.loop import train
from gan_cli.train.precision import cpu_bf16_native


def plain_loop(images: torch.Tensor, steps: int, batch: int = 64, seed: int = 0) -> float:
    """img/s of the obvious loop (timed after 10 warm-up steps)."""
    torch.manual_seed(seed)
    G, D = DCGANGenerator(100, 1, 32), nn.Sequential(DCGANDiscriminator(1, 32), nn.Sigmoid())
    dcgan_init(G)
    dcgan_init(D)
    crit = nn.BCELoss()
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = TensorDataset(images.float() / 127.5 - 1)
    loader = DataLoader(data, batch_size=batch, shuffle=True, drop_last=True)
    done, t0 = 0, 0.0
    while done < steps + 10:
        for (real,) in loader:
            if done == 10:
                t0 = time.perf_counter()
            D.zero_grad()
            out = D(real).view(-1)
            err_real = crit(out, torch.ones_like(out))
            err_real.backward()
            fake = G(torch.randn(batch, 100, 1, 1))
            out = D(fake.detach()).view(-1)
            err_fake = crit(out, torch.zeros_like(out))
            err_fake.backward()
            optD.step()
            G.zero_grad()
            out = D(fake).view(-1)
            err_g = crit(out, torch.ones_like(out))
            err_g.backward()
            optG.step()
            done += 1
            if done == steps + 10:
                break
    return steps * batch / (time.perf_counter() - t0)


def gan_cli_loop(data, steps: int, **cfg_kw) -> float:
    """img/s of gan-cli's loop: median of its own metrics.jsonl figures, first interval skipped."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model="dcgan",
            data="mnist",
            options={},
            size=32,
            steps=steps + 10,
            batch_size=64,
            lr=2e-4,
            seed=0,
            sample_every=10**9,
            ckpt_every=10**9,
            log_every=10,
            **cfg_kw,
        )
        train(cfg, data, Path(tmp), torch.device("cpu"), quiet=True)
        rows = logs.read(Path(tmp) / "metrics.jsonl")
    return statistics.median(r["img_s"] for r in rows[1:-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", action="store_true", help="also time each speed-up on its own")
    args = ap.parse_args()
    data = load_data("mnist", 32)
    images = torch.from_numpy(data.main.images.copy()).permute(0, 3, 1, 2).contiguous()  # (N, 1, 32, 32) uint8
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(data)} MNIST digits at 32 px, batch 64")
    print(f"default precision on this CPU: {'bf16 autocast' if cpu_bf16_native() else 'fp32'}")
    variants = {"gan-cli (default)": {}}
    if args.variants:
        variants |= {
            "gan-cli, fp32 (--amp off)": {"amp": "off"},
            "gan-cli, fp32, contiguous": {"amp": "off", "channels_last": False},
            "gan-cli, bf16 (--amp on)": {"amp": "on"},
        }
    results: dict[str, list[float]] = {"plain eager fp32": [], **{k: [] for k in variants}}
    for _ in range(args.rounds):
        results["plain eager fp32"].append(plain_loop(images, args.steps))
        for name, kw in variants.items():
            results[name].append(gan_cli_loop(data, args.steps, **kw))
    base = statistics.median(results["plain eager fp32"])
    for name, vals in results.items():
        v = statistics.median(vals)
        print(f"{name:<26} {v:8.1f} img/s   x{v / base:.2f}   (rounds: {', '.join(f'{x:.0f}' for x in vals)})")


if __name__ == "__main__":
    main()
