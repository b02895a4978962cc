"""The inference half of the family contract: rebuild the nets from a checkpoint file alone and run them.

Every command that runs a trained model goes through here (sample, eval-fid's checkpoint input, export,
and the coming mix and translate): the family named in the metadata is rebuilt with its saved options,
the nets it lists in `inference` are loaded (their EMA averages where the checkpoint has them) in eval mode,
and per-family sampling options (truncation, noise mode, ...) are checked against what the family declares.

Latents come from a CPU torch.Generator seeded with --seed, drawn in fixed chunks of LATENT_CHUNK so that
image i of `--n N` is the same whatever N and whatever the batch size. Same seed + same weights = the same
images (byte-identical PNGs on the same machine).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_cli.errors import BadInput
from gan_cli.io import checkpoint as ckpt
from gan_cli.memory import check_fits
from gan_cli.registry import Family, StyleBased, get_family, inference_prefix, parse_options

LATENT_CHUNK = 256


def check_sample_options(family: Family, given: dict[str, Any]) -> dict[str, Any]:
    """The family's sampling options with the user's values (None = not given); an error for ones it lacks."""
    declared = family.sample_options
    out = {k: o.default for k, o in declared.items()}
    for key, value in given.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key not in declared:
            have = ", ".join("--" + k.replace("_", "-") for k in declared) or "none"
            raise BadInput(f"{family.name} has no {flag} (its sampling options: {have})")
        choices = declared[key].choices
        if choices and value not in choices:
            raise BadInput(f"{flag} {value}: use one of {', '.join(map(str, choices))}")
        out[key] = value
    return out


@dataclass
class LoadedModel:
    family: Family
    nets: dict[str, nn.Module]  # the inference nets, in eval mode, by their training names ("G", ...)
    meta: dict
    path: Path
    device: torch.device

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("class_names") or [])

    def latent_chunks(self, n: int, seed: int) -> Iterator[torch.Tensor]:
        """The latents of images 0..n-1 for `seed`, LATENT_CHUNK at a time."""
        g = torch.Generator().manual_seed(seed)
        for i in range(0, n, LATENT_CHUNK):
            yield self.family.sample_latents(min(LATENT_CHUNK, n - i), g)

    def latents(self, n: int, seed: int) -> torch.Tensor:
        return torch.cat(list(self.latent_chunks(n, seed)) or [torch.empty(0, self.family.latent_dim())])

    def class_index(self, value: str) -> int:
        names = self.class_names
        if value in names:
            return names.index(value)
        try:
            k = int(value)
        except ValueError:
            raise BadInput(f"--class {value}: not a class of this model ({', '.join(names)})") from None
        if not 0 <= k < self.family.num_classes:
            raise BadInput(f"--class {value}: this model has classes 0..{self.family.num_classes - 1}")
        return k

    def labels(self, n: int, cls: int | None = None, cols: int | None = None) -> torch.Tensor | None:
        """Class labels for n images: all `cls`, one class per grid row, or cycling through classes."""
        if self.family.task != "class":
            return None
        if cls is not None:
            return torch.full((n,), cls, dtype=torch.long)
        idx = torch.arange(n)
        return (idx // cols if cols else idx) % self.family.num_classes

    @torch.no_grad()
    def generate(
        self, z: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 64, **opts: Any
    ) -> Iterator[torch.Tensor]:
        """Yield float CPU batches (B, C, H, W) in [-1, 1]; `opts` are checked sampling options."""
        for i in range(0, z.shape[0], batch_size):
            zb = z[i : i + batch_size].to(self.device)
            yb = None if y is None else y[i : i + batch_size].to(self.device)
            yield self.family.generate(self.nets, zb, yb, **opts).float().clamp_(-1, 1).cpu()

    @property
    def style_based(self) -> bool:
        return isinstance(self.family, StyleBased)

    @torch.no_grad()
    def ws(self, z: torch.Tensor, truncation: float = 1.0, batch_size: int = 64) -> torch.Tensor:
        """w+ latents [N, num_ws, w_dim] (CPU) of z, truncated towards the tracked mean of w."""
        parts = [
            self.family.ws(self.nets, z[i : i + batch_size].to(self.device), truncation).float().cpu()
            for i in range(0, z.shape[0], batch_size)
        ]
        return torch.cat(parts)

    @torch.no_grad()
    def synthesize(self, ws: torch.Tensor, batch_size: int = 64, noise_mode: str = "const") -> Iterator[torch.Tensor]:
        """Images from w+ latents, as float CPU batches in [-1, 1]."""
        for i in range(0, ws.shape[0], batch_size):
            out = self.family.synthesize(self.nets, ws[i : i + batch_size].to(self.device), noise_mode)
            yield out.float().clamp_(-1, 1).cpu()

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB", **opts: Any) -> torch.Tensor:
        if direction not in self.family.directions():
            raise BadInput(f"{self.family.name} translates {' and '.join(self.family.directions())}, not {direction}")
        try:
            return self._translate(x, direction, **opts)
        except KeyError as e:
            raise BadInput(f"{self.path} has no generator for {direction} ({e.args[0]} is not in the file)") from None

    def _translate(self, x: torch.Tensor, direction: str, **opts: Any) -> torch.Tensor:
        return self.family.translate(self.nets, x.to(self.device), direction, **opts).float().clamp_(-1, 1).cpu()


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu", expect: str | None = None) -> LoadedModel:
    """Rebuild the family and its inference nets from a checkpoint (full or generator-only)."""
    path = Path(path)
    meta = ckpt.read_meta(path)
    fam_name = meta.get("family", "?")
    if expect is not None:
        want = get_family(expect).name
        if fam_name != want:
            raise BadInput(f"{path} is a {fam_name} checkpoint, not {want} (drop the model name or pick another file)")
    fam_cls = get_family(fam_name)
    try:
        opts = parse_options(fam_cls, None, meta["options"])
        family = fam_cls(
            opts,
            int(meta["size"]),
            int(meta["channels"]),
            int(meta.get("num_classes", 0)),
            int(meta.get("in_channels") or meta["channels"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise BadInput(f"{path}: checkpoint metadata is incomplete ({e})") from None
    check_fits(family, torch.device(device), training=False)  # options are read from the file: check first
    built = family.build()
    tensors, _ = ckpt.load(path)
    nets = {}
    for name in family.inference:
        prefix = inference_prefix(name, tensors)
        if family.task in ("paired", "unpaired") and not any(k.startswith(prefix + ".") for k in tensors):
            continue  # a translation checkpoint may hold one direction only (photo2cartoon's genA2B)
        ckpt.load_module(prefix, built[name], tensors, path)
        for key, t in built[name].state_dict().items():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise BadInput(f"{path}: {prefix}.{key} holds NaN or inf values (a diverged run?)")
        nets[name] = built[name].to(device).eval()
    if not nets:
        raise BadInput(f"{path}: has no weights for any of {', '.join(family.inference)}")
    return LoadedModel(family, nets, meta, path, torch.device(device))


def iter_samples(
    ckpt_path: str | os.PathLike,
    n: int,
    seed: int,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    truncation: float | None = None,
) -> Iterator[torch.Tensor]:
    """The n images that `gan sample CKPT --n n --seed seed` writes, as float batches in [-1, 1]."""
    model = load_model(ckpt_path, device)
    if model.family.task not in ("noise", "class"):
        raise BadInput(f"{ckpt_path}: a {model.family.name} checkpoint translates images; it does not sample noise")
    opts = check_sample_options(model.family, {"truncation": truncation})
    y = model.labels(n)
    for k, z in enumerate(model.latent_chunks(n, seed)):
        start = k * LATENT_CHUNK
        yield from model.generate(z, None if y is None else y[start : start + z.shape[0]], batch_size, **opts)


def is_checkpoint(path: str | os.PathLike) -> bool:
    return ckpt.is_checkpoint(path)
