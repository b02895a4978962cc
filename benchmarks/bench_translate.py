"""`gan translate` images/s at 256 px against a plain per-image loop, in the same run, on the same files.

Nets: resnet_9blocks (CycleGAN: instance norm, ngf 64) and unet_256 (pix2pix: batch norm, ngf 64),
random reference init, saved as gan-cli generator checkpoints; eval test mode (deterministic).
Inputs: --n PNG photos-like images (smooth colour patterns + noise), 256 x 256.

- plain loop, per image: PIL open + convert, to tensor, G(x) in fp32 (contiguous, batch 1), to uint8, PIL save;
- gan translate: the library behind the command (gan_cli.translate.Translator), for each --batch-size B
  (default 1 and 4: the command's default is 4, and batching did not pay for resnet_9blocks at 1 thread)
  and --workers W (decode/encode threads; 0: the command's default, up to 4): decode/encode threads
  overlapping the network, batching, the family's layout (channels-last for U-Nets; contiguous for ResNets,
  whose instance norms run ~2.7x slower channels-last); fp32 (bf16 is not within 1/255 for these nets, see
  bench_translate_nets.py).
- network only: the same batches through the same call (model.translate) on tensors already decoded, so
  the gap to the row above is what decoding, encoding and their threads cost or save.
All exclude loading the model; each is warmed up first (the plain loop on one image, gan translate on all: a
model's layout is converted on its first call, once per command).
The outputs are compared: largest difference in 8-bit grey levels.

Roofline (roofline.py, same run): FLOPs per image from PyTorch's FlopCounterMode, this CPU's fp32 convolution
peak, each row's achieved GFLOP/s, and the ceiling peak / plain GFLOP/s: the most any fp32 method can give
over the plain loop. A target above the ceiling cannot be met in fp32 on this CPU.

    OMP_NUM_THREADS=2 python benchmarks/bench_translate.py [--n 8] [--batch-size 1 4] [--workers 0]
        [--nets resnet_9blocks unet_256]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from roofline import conv_peak, flops_per_image, header

from gan_cli.io import images
from gan_cli.nets.junyanz import set_test_mode
from gan_cli.registry import get_family, parse_options
from gan_cli.sampling import LoadedModel, load_model
from gan_cli.train.state import model_meta, save_generator
from gan_cli.translate import Translator, plan

NETS = {
    "resnet_9blocks": ["netG=resnet_9blocks", "norm=instance", "no_dropout=true"],
    "unet_256": ["netG=unet_256", "norm=batch"],
}


def make_images(folder: Path, n: int, size: int) -> None:
    folder.mkdir(parents=True)
    i = np.linspace(0, 1, size)[:, None, None]
    j = np.linspace(0, 1, size)[None, :, None]
    for k in range(n):
        rng = np.random.default_rng(k)
        f = rng.uniform(2, 9, 3)
        base = 0.5 + 0.4 * np.sin(f * 6.28 * (i * rng.uniform() + j * rng.uniform()) + rng.uniform(0, 6, 3))
        arr = np.clip(base * 255 + rng.normal(0, 12, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"{k:04d}.png")


def checkpoint(name: str, path: Path) -> Path:
    cls = get_family("pix2pix")
    opts = parse_options(cls, NETS[name])
    fam = cls(opts, 256, 3, 0, 3)
    torch.manual_seed(0)
    fam.build()
    return save_generator(path, fam, model_meta(fam, vars(opts), [], 0, "benchmark"))


def plain_loop(G: torch.nn.Module, src: Path, dst: Path) -> float:
    """images/s of the simplest correct loop, one image at a time (warmed up on the first image)."""
    paths = sorted(src.glob("*.png"))
    dst.mkdir(parents=True)

    def one(p: Path) -> None:
        x = images.pil_to_tensor(Image.open(p).convert("RGB"))[None]
        with torch.no_grad():
            y = G(x)[0]
        images.tensor_to_pil(y).save(dst / p.name)

    one(paths[0])
    t0 = time.perf_counter()
    for p in paths:
        one(p)
    return len(paths) / (time.perf_counter() - t0)


def translate(model: LoadedModel, src: Path, dst: Path, batch_size: int, workers: int) -> float:
    jobs = plan(str(src), dst)
    t0 = time.perf_counter()
    Translator(model, batch_size=batch_size, workers=workers, opts={"test_mode": "eval"}).run(jobs)
    return len(jobs) / (time.perf_counter() - t0)


def network_only(model: LoadedModel, src: Path, batch_size: int) -> float:
    """images/s of gan translate's network call alone, on the same batches as tensors (decoded beforehand)."""
    x = torch.stack([images.pil_to_tensor(Image.open(p).convert("RGB")) for p in sorted(src.glob("*.png"))])
    t0 = time.perf_counter()
    for b in x.split(batch_size):
        model.translate(b, test_mode="eval")
    return len(x) / (time.perf_counter() - t0)


def max_diff(a: Path, b: Path) -> int:
    return max(
        int(np.abs(np.asarray(Image.open(p), dtype=int) - np.asarray(Image.open(b / p.name), dtype=int)).max())
        for p in sorted(a.glob("*.png"))
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="images per measurement")
    ap.add_argument("--batch-size", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--workers", type=int, default=0, help="gan translate's decode/encode threads (0: its default)")
    ap.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    args = ap.parse_args()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, {os.cpu_count()} cores, load {load}")
    print(f"{args.n} images of 256 px, fp32, gan translate with --workers {args.workers}")
    peak, layout = conv_peak()
    print(header(peak, layout))
    print(f"{'net':<15} {'path':<24} {'img/s':>7} {'GFLOP/s':>8} {'vs plain':>9} {'max diff':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_images(root / "in", args.n, 256)
        for name in args.nets:
            ckpt = checkpoint(name, root / f"{name}.safetensors")
            G = set_test_mode(load_model(ckpt).nets["G"].to(memory_format=torch.contiguous_format), "eval")
            gflop = flops_per_image(G, 256) / 1e9
            plain = plain_loop(G, root / "in", root / f"plain-{name}")
            rows: list[tuple[str, float, int | str]] = [("plain loop", plain, "-")]
            model = load_model(ckpt)
            for b in args.batch_size:  # warmed up once (layout, first-call costs), then timed
                translate(model, root / "in", root / f"warm-{name}-{b}", b, args.workers)
                fast = translate(model, root / "in", root / f"fast-{name}-{b}", b, args.workers)
                diff = max_diff(root / f"plain-{name}", root / f"fast-{name}-{b}")
                net = network_only(model, root / "in", b)
                rows += [(f"gan translate, batch {b}", fast, diff), (f"network only, batch {b}", net, "-")]
            for path, ips, d in rows:
                print(f"{name:<15} {path:<24} {ips:>7.2f} {ips * gflop:>8.1f} {ips / plain:>8.2f}x {d:>9}")
            print(f"{name:<15} {gflop:.1f} GFLOP/image; ceiling over the plain loop: {peak / (plain * gflop):.2f}x")


if __name__ == "__main__":
    main()
