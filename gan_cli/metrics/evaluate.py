"""The work behind `gan eval-fid`: both sides' statistics, the FID, optionally KID and saved stats."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_cli import console
from gan_cli.device import resolve_device
from gan_cli.errors import BadInput
from gan_cli.metrics.extract import FeatureExtractor
from gan_cli.metrics.fid import frechet_distance
from gan_cli.metrics.inception import FEATURE_DIMS
from gan_cli.metrics.sources import SampleOptions, Source, check_checkpoint, open_source
from gan_cli.metrics.stats import Stats, save_stats


@dataclass
class EvalOptions:
    kid: bool = False
    save_stats: Path | None = None
    batch_size: int | None = None  # None: the extractor's default for the device
    device: str = "auto"
    inception: str | os.PathLike | None = None
    resize: str = "legacy"
    n: int = 10_000
    seed: int = 0
    truncation: float | None = None
    workers: int = 4


def evaluate(a: str | os.PathLike, b: str | os.PathLike, opts: EvalOptions) -> dict[str, Any]:
    """{"fid", "kid_mean", "kid_std", "n_a", "n_b", "dims"} for the two inputs."""
    samples = SampleOptions(opts.n, opts.seed, opts.truncation)
    src_a, src_b = open_source(a, "A"), open_source(b, "B")
    if opts.save_stats is not None and Path(opts.save_stats).suffix.lower() != ".npz":
        raise BadInput(f"--save-stats {opts.save_stats}: use a .npz file name (pytorch-fid's format)")
    if opts.kid:
        for label, src in (("A", src_a), ("B", src_b)):
            if not src.needs_network:
                raise BadInput(f"--kid needs image features, but {label} ({src.path}) holds only mu and sigma")
    for src in (src_a, src_b):
        if src.kind == "checkpoint":
            check_checkpoint(src.path, samples)
    extractor = _extractor(opts) if (src_a.needs_network or src_b.needs_network) else None
    stats_a = _stats(src_a, "A", extractor, opts, samples)
    if opts.save_stats is not None:
        save_stats(opts.save_stats, stats_a)
        console.info(f"statistics of A saved to {opts.save_stats}")
    stats_b = _stats(src_b, "B", extractor, opts, samples)
    if stats_a.dims != stats_b.dims:
        raise BadInput(f"A has {stats_a.dims}-d statistics, B {stats_b.dims}-d: they cannot be compared")
    result: dict[str, Any] = {
        "fid": frechet_distance(stats_a.mu, stats_a.sigma, stats_b.mu, stats_b.sigma),
        "kid_mean": None,
        "kid_std": None,
        "n_a": stats_a.n,
        "n_b": stats_b.n,
        "dims": stats_a.dims,
    }
    if opts.kid:
        from gan_cli.metrics.kid import kernel_inception_distance

        assert stats_a.features is not None and stats_b.features is not None
        result["kid_mean"], result["kid_std"] = kernel_inception_distance(stats_a.features, stats_b.features)
    return result


def _extractor(opts: EvalOptions) -> FeatureExtractor:
    from gan_cli.metrics.weights import find_weights, load_inception

    path = find_weights(opts.inception)
    return FeatureExtractor(load_inception(path), resolve_device(opts.device), opts.batch_size)


def _stats(
    src: Source, label: str, extractor: FeatureExtractor | None, opts: EvalOptions, samples: SampleOptions
) -> Stats:
    if not src.needs_network:
        stats = src.stats(None, opts.resize, False, samples, opts.workers)
        if stats.dims != FEATURE_DIMS:
            console.warn(f"{label}: {src.path} holds {stats.dims}-d statistics (pool3 is {FEATURE_DIMS}-d)")
        return stats
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    total = src.count(samples)
    columns = (TextColumn(f"{label}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    err = console.console()
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        stats = src.stats(extractor, opts.resize, opts.kid, samples, opts.workers, lambda k: bar.advance(task, k))
    console.info(f"{label}: {src.describe(samples, stats.n)}")
    return stats
