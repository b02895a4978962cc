"""What each side of `gan eval-fid A B` is: an image folder, a .npz of statistics, or a checkpoint.

`open_source` checks everything cheap up front (so a bad B fails before A's minutes of work);
`Source.stats` then computes, or reads, the statistics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gan_cli.errors import BadInput
from gan_cli.io.images import list_images
from gan_cli.metrics.extract import FeatureExtractor, accumulate
from gan_cli.metrics.preprocess import iter_folder_batches, iter_pixel_batches
from gan_cli.metrics.stats import Stats, load_stats


@dataclass
class SampleOptions:
    """How to draw images from a checkpoint: as `gan sample CKPT --n N --seed S` would."""

    n: int = 10_000
    seed: int = 0
    truncation: float | None = None


@dataclass
class Source:
    kind: str  # "folder", "stats" or "checkpoint"
    path: Path
    images: list[Path] = field(default_factory=list)
    loaded: Stats | None = None

    @property
    def needs_network(self) -> bool:
        return self.kind != "stats"

    def count(self, samples: SampleOptions) -> int | None:
        if self.kind == "folder":
            return len(self.images)
        if self.kind == "checkpoint":
            return samples.n
        return self.loaded.n if self.loaded else None

    def describe(self, samples: SampleOptions, used: int | None = None) -> str:
        """One line for stderr: what this side is and how many images were used."""
        if self.kind == "folder":
            used = len(self.images) if used is None else used
            skipped = len(self.images) - used
            return f"{self.path}: {used} images" + (f" ({skipped} unreadable, skipped)" if skipped else "")
        if self.kind == "checkpoint":
            return f"{self.path}: {samples.n} samples, seed {samples.seed}"
        return f"{self.path}: statistics" + (f" of {self.loaded.n} images" if self.loaded and self.loaded.n else "")

    def stats(
        self,
        extractor: FeatureExtractor | None,
        resize: str,
        keep_features: bool,
        samples: SampleOptions,
        workers: int,
        progress: Callable[[int], None] | None = None,
    ) -> Stats:
        if self.kind == "stats":
            assert self.loaded is not None
            return self.loaded
        assert extractor is not None
        if self.kind == "folder":
            skipped: list[str] = []
            batches = iter_folder_batches(self.images, extractor.batch_size, resize, workers, skipped)
            try:
                return accumulate(batches, extractor, keep_features, progress)
            except BadInput as e:
                raise BadInput(f"{self.path}: {e} ({len(skipped)} unreadable files skipped)") from None
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fid-prep") as pool:
            pixels = _checkpoint_pixels(self.path, samples, extractor.batch_size, extractor.device)
            return accumulate(iter_pixel_batches(pixels, resize, pool), extractor, keep_features, progress)


def check_checkpoint(path: Path, samples: SampleOptions) -> None:
    """Draw one sample now, so a checkpoint that cannot be sampled (or a --truncation its family
    lacks) fails before the other side's minutes of work."""
    from gan_cli.sampling import iter_samples

    next(iter(iter_samples(path, 1, samples.seed, 1, "cpu", samples.truncation)), None)


def _checkpoint_pixels(path: Path, samples: SampleOptions, batch_size: int, device: torch.device) -> Iterator:
    """uint8 (N, H, W, C) batches: the generated images quantised exactly as the PNG writer does."""
    from gan_cli.io.images import tensor_to_uint8
    from gan_cli.sampling import iter_samples

    for batch in iter_samples(path, samples.n, samples.seed, batch_size, device, samples.truncation):
        yield tensor_to_uint8(batch)


def _is_inception_weights(path: Path) -> bool:
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return "Conv2d_1a_3x3.conv.weight" in f.keys()
    except Exception:  # not readable as safetensors: the checkpoint check will say so
        return False


def open_source(arg: str | os.PathLike, label: str, min_images: int = 2) -> Source:
    """Classify one side (`label` is "A" or "B") and validate it; BadInput with a clear line if unusable."""
    path = Path(arg)
    from gan_cli import pretrained

    if not path.exists() and pretrained.is_name(str(arg)):
        path = pretrained.resolve(str(arg))  # a pretrained name: its converted checkpoint
    if not path.exists():
        raise BadInput(f"{label}: {path}: no such file or folder")
    if path.is_dir():
        try:
            images = list_images(path)
        except BadInput as e:
            raise BadInput(f"{label}: {e}") from None
        if len(images) < min_images:
            raise BadInput(
                f"{label}: {path} holds {len(images)} image; FID needs at least {min_images} per side "
                "(a covariance of one image is undefined)"
            )
        return Source("folder", path, images=images)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return Source("stats", path, loaded=load_stats(path))
    if suffix == ".safetensors":
        if _is_inception_weights(path):
            raise BadInput(f"{label}: {path} is the Inception network itself; pass it with --inception {path}")
        from gan_cli.sampling import is_checkpoint

        if not is_checkpoint(path):
            raise BadInput(f"{label}: {path} is not a gan-cli checkpoint (no gan-cli metadata, or not readable)")
        return Source("checkpoint", path)
    raise BadInput(
        f"{label}: {path}: expected an image folder, a .npz of FID statistics (mu, sigma) "
        "or a gan-cli .safetensors checkpoint"
    )
