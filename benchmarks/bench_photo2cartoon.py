"""Photos/s of photo2cartoon end to end at 256 px (prep + generator + composite), with the split, on this CPU.

Inputs: the two portraits of tests/data/faces repeated to --n photos (one face each). The generator is
minivision's released architecture (ngf 32, light, 256 px) with random weights: the time does not depend
on the values. Both ways below share one FacePrep (models created once) and leave file writing out.

- plain, per photo: prep, then the generator on that photo's face (batch 1, standard layout), then
  photo2cartoon's composite onto white; warmed up on one photo first, like the others;
- batched, contiguous / channels-last: prep in a background thread (overlapping the network), faces
  gathered into batches of --batch-size, the generator in that layout, the same composite;
- gan translate: the command's library path (gan_cli.facetranslate.FaceTranslator) on the photos saved as
  PNG files, with the same weights in a photo2cartoon checkpoint: decode + prep one photo ahead in a
  thread, each photo's faces as one batch, the standard layout; the cartoons are written as PNGs (so its
  end-to-end time includes file decode and encode, which the others leave out).

The cartoons are compared with the plain loop's (largest difference in 8-bit levels). bf16 is not tried:
this CPU has no native bf16. Prep time is reported as measured in the plain run (the others overlap it).

Roofline of the network side (roofline.py, same run): FLOPs per face from PyTorch's FlopCounterMode, this
CPU's fp32 convolution peak, each path's network faces/s and achieved GFLOP/s ("gan translate" times the
network and the composite together), and the ceiling peak / plain GFLOP/s: the most any fp32 method can
give the network over the plain loop.

    OMP_NUM_THREADS=2 python benchmarks/bench_photo2cartoon.py [--n 8] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from roofline import conv_peak, flops_per_image, header

from gan_cli.faces.prep import FacePrep
from gan_cli.nets.photo2cartoon import ResnetGenerator, output_to_cartoon, photo_to_input

FACES = Path(__file__).resolve().parents[1] / "tests" / "data" / "faces"
SIZE = 256


def photos(n: int) -> list[np.ndarray]:
    base = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(FACES.glob("*.*")) if p.suffix != ".md"]
    return [base[i % len(base)] for i in range(n)]


def prep_faces(prep: FacePrep, photo: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(r.image) for r in prep.process(photo)]


def plain(G: torch.nn.Module, prep: FacePrep, items: list[np.ndarray]) -> tuple[list[np.ndarray], dict[str, float]]:
    """Per photo: prep, G at batch 1 per face, composite. Returns the cartoons and seconds per stage."""
    secs = {"prep": 0.0, "net": 0.0, "composite": 0.0}
    out = []
    for photo in items:
        t0 = time.perf_counter()
        faces = prep_faces(prep, photo)
        t1 = time.perf_counter()
        inputs = [photo_to_input(f, SIZE) for f in faces]
        with torch.inference_mode():
            ys = [G(x)[0] for x, _ in inputs]
        t2 = time.perf_counter()
        out += [output_to_cartoon(y, mask) for y, (_, mask) in zip(ys, inputs)]
        secs["prep"] += t1 - t0
        secs["net"] += t2 - t1
        secs["composite"] += time.perf_counter() - t2
    return out, secs


def batched(
    G: torch.nn.Module, prep: FacePrep, items: list[np.ndarray], batch_size: int, fmt: torch.memory_format
) -> tuple[list[np.ndarray], dict[str, float]]:
    """Prep in a thread, faces in batches through G (its weights and input in layout `fmt`), composite.
    Seconds: the network and composite stages, and the time the network waited for prep."""
    secs = {"wait for prep": 0.0, "net": 0.0, "composite": 0.0}
    out: list[np.ndarray] = []
    pending: list[tuple[torch.Tensor, np.ndarray]] = []

    def flush() -> None:
        t0 = time.perf_counter()
        x = torch.cat([x for x, _ in pending]).contiguous(memory_format=fmt)
        with torch.inference_mode():
            y = G(x)[0]
        t1 = time.perf_counter()
        out.extend(output_to_cartoon(o, mask) for o, (_, mask) in zip(y, pending))
        secs["net"] += t1 - t0
        secs["composite"] += time.perf_counter() - t1
        pending.clear()

    with ThreadPoolExecutor(max_workers=1) as pool:
        results = pool.map(lambda p: prep_faces(prep, p), items)  # runs ahead of the network
        while True:
            t0 = time.perf_counter()
            faces = next(results, None)
            secs["wait for prep"] += time.perf_counter() - t0
            if faces is None:
                break
            pending += [photo_to_input(f, SIZE) for f in faces]
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
    return out, secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=8, help="photos (the two test portraits, repeated)")
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()
    torch.manual_seed(0)
    G = ResnetGenerator(32, SIZE, light=True).eval()
    G_cl = ResnetGenerator(32, SIZE, light=True).eval()
    G_cl.load_state_dict(G.state_dict())
    G_cl = G_cl.to(memory_format=torch.channels_last)
    items = photos(args.n)
    n = args.n
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads, {os.cpu_count()} cores, load {load}")
    print(f"{n} photos -> {SIZE} px faces; photo2cartoon ngf 32 light (random weights); batch {args.batch_size}")
    peak, layout = conv_peak()
    print(header(peak, layout))
    gflop = flops_per_image(G, SIZE) / 1e9
    runs: dict[str, tuple[list[np.ndarray], float, dict[str, float]]] = {}
    with FacePrep(size=SIZE, bg="transparent", all_faces=True) as prep:
        for name, run in (
            ("plain", lambda items: plain(G, prep, items)),
            ("batched, contiguous", lambda items: batched(G, prep, items, args.batch_size, torch.contiguous_format)),
            ("batched, channels-last", lambda items: batched(G_cl, prep, items, args.batch_size, torch.channels_last)),
        ):
            run(items[:1])  # first-call costs (models, allocator, kernels) out of the way
            t0 = time.perf_counter()
            out, secs = run(items)
            runs[name] = out, time.perf_counter() - t0, secs
        with tempfile.TemporaryDirectory() as tmp:
            runs["gan translate"] = command(G, items, Path(tmp))
    ref, t_plain, _ = runs["plain"]
    print(f"{'path':<24} {'photos/s':>8} {'vs plain':>8} {'net faces/s':>11} {'GFLOP/s':>8} {'vs plain':>8} diff")
    net_plain = n / runs["plain"][2]["net"]
    for name, (out, seconds, secs) in runs.items():
        assert len(out) == n, (name, len(out))
        diff = max(int(np.abs(a.astype(int) - b.astype(int)).max()) for a, b in zip(ref, out))
        net = n / secs.get("net", secs.get("net + composite", 0.0))
        print(
            f"{name:<24} {n / seconds:>8.3f} {t_plain / seconds:>7.2f}x {net:>11.3f} {net * gflop:>8.1f} "
            f"{net / net_plain:>7.2f}x {diff:>4}"
        )
    for name, (_, _, secs) in runs.items():
        print(f"  {name}: " + _split(secs, n))
    print(f"{gflop:.1f} GFLOP/face; network ceiling over the plain loop: {peak / (net_plain * gflop):.2f}x")


def command(G: torch.nn.Module, items: list[np.ndarray], tmp: Path) -> tuple[list[np.ndarray], float, dict]:
    """`gan translate photo2cartoon IN OUT --no-paste-back`'s library path over files; (cartoons, seconds, split)."""
    from gan_cli.facetranslate import FaceTranslator
    from gan_cli.registry import get_family, parse_options
    from gan_cli.sampling import load_model
    from gan_cli.train.state import model_meta, save_generator
    from gan_cli.translate import plan

    cls = get_family("photo2cartoon")
    opts = parse_options(cls, None)
    fam = cls(opts, SIZE, 3, 0, 3)
    fam.build()["genA2B"].load_state_dict(G.state_dict())
    ckpt = save_generator(tmp / "p2c.safetensors", fam, model_meta(fam, vars(opts), [], 0, "benchmark"))
    (tmp / "in").mkdir()
    for i, photo in enumerate(items):
        Image.fromarray(photo).save(tmp / "in" / f"{i:04d}.png")
    translator = FaceTranslator(load_model(ckpt), "AtoB", paste_back=False, save_prep=None)
    try:
        jobs = plan(str(tmp / "in"), tmp / "out", overwrite=True)
        translator.run(jobs[:1], True, lambda p: None)  # warm-up, as the other paths
        t0 = time.perf_counter()
        report = translator.run(jobs, True, lambda p: None)
        seconds = time.perf_counter() - t0
    finally:
        translator.close()
    out = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(report.written)]
    return out, seconds, {"prep (in its thread)": report.seconds_prep, "net + composite": report.seconds_net}


def _split(secs: dict[str, float], n: int) -> str:
    return ", ".join(f"{k} {v / n:.2f} s/photo" for k, v in secs.items())


if __name__ == "__main__":
    main()
