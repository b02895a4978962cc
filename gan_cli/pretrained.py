"""Named pretrained weights: `--weights ffhq-1024` downloads an official file once, converts it, caches the result.

The table lists official downloads only (the URLs their projects' READMEs and apps give), each with the
`gan convert` format that reads it, its licence and its approximate size. On first use of a name:
1. a non-commercial licence is said on stderr before anything is downloaded;
2. the file is downloaded (urllib, a progress bar on stderr) into `~/.cache/gan-cli/pretrained/`;
3. its sha256 is checked against the published one where the source publishes one (none of these
   does), else recorded in `sha256.json` there on the first download and checked on every later one;
4. it is converted by `gan convert` into `<name>.safetensors` (whose sha256 is recorded as well and
   checked on each use), and the download is deleted.
Offline ($GAN_CLI_OFFLINE, or the download fails): one error naming the URL to fetch by hand and the
`gan convert` command to run on it.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gan_cli import console
from gan_cli.convert import sha256
from gan_cli.errors import BadInput, OfflineError, RuntimeFailure
from gan_cli.io.atomic import atomic_path, write_text
from gan_cli.io.imagecache import cache_dir

urlopen = urllib.request.urlopen  # tests swap in a fake opener
TIMEOUT_S = 30.0

NVIDIA_NC = "NVIDIA Source Code License-NC: non-commercial (research and evaluation) use only"
NVLABS = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
SIZE_NOTE = "about 360 MB (G, D and G_ema in float32)"


@dataclass(frozen=True)
class Pretrained:
    name: str
    family: str  # the gan-cli family of the converted checkpoint
    url: str
    fmt: str  # `gan convert --from` format
    licence: str
    noncommercial: bool
    size: str  # approximate download size
    about: str
    sha256: str | None = None  # the checksum the source publishes, where it publishes one


TABLE: dict[str, Pretrained] = {
    p.name: p
    for p in (
        Pretrained("ffhq-1024", "stylegan2", NVLABS + "ffhq.pkl", "nvlabs", NVIDIA_NC, True, SIZE_NOTE,
                   "NVlabs StyleGAN2 (config F) on FFHQ faces, 1024 px"),
        Pretrained("metfaces-1024", "stylegan2", NVLABS + "metfaces.pkl", "nvlabs", NVIDIA_NC, True, SIZE_NOTE,
                   "NVlabs StyleGAN2-ADA on MetFaces (art portraits), 1024 px, transfer from FFHQ"),
        Pretrained("afhqcat-512", "stylegan2", NVLABS + "afhqcat.pkl", "nvlabs", NVIDIA_NC, True, SIZE_NOTE,
                   "NVlabs StyleGAN2-ADA on AFHQ cats, 512 px"),
        Pretrained("afhqdog-512", "stylegan2", NVLABS + "afhqdog.pkl", "nvlabs", NVIDIA_NC, True, SIZE_NOTE,
                   "NVlabs StyleGAN2-ADA on AFHQ dogs, 512 px"),
        Pretrained("afhqwild-512", "stylegan2", NVLABS + "afhqwild.pkl", "nvlabs", NVIDIA_NC, True, SIZE_NOTE,
                   "NVlabs StyleGAN2-ADA on AFHQ wild animals, 512 px"),
        Pretrained("photo2cartoon", "photo2cartoon",
                   "https://paddlegan.bj.bcebos.com/models/photo2cartoon_genA2B_weight.pdparams", "paddle",
                   "MIT (minivision-ai/photo2cartoon), distributed by PaddleGAN (Apache-2.0)", False,
                   "about 15 MB (genA2B, ngf 32, float32)",
                   "minivision's photo2cartoon generator as PaddleGAN's Photo2CartoonPredictor downloads it"),
    )
}  # fmt: skip
DEFAULTS = {"stylegan2": "ffhq-1024", "photo2cartoon": "photo2cartoon"}  # used when a family has no local run


def folder() -> Path:
    return cache_dir() / "pretrained"


def is_name(text: str) -> bool:
    return text in TABLE


def default_for(family: str) -> str | None:
    return DEFAULTS.get(family)


def resolve(name: str) -> Path:
    """The converted checkpoint of a table entry, downloading and converting it on first use."""
    if name not in TABLE:
        raise BadInput(f"unknown pretrained weights {name!r}; known: {', '.join(TABLE)} (gan models --pretrained)")
    entry = TABLE[name]
    target = folder() / f"{name}.safetensors"
    sums = _sums()
    if target.is_file():
        _check(target, sums.get(name, {}).get("converted"), f"cached {target}", f"delete it to download {name} again")
        return target
    download = folder() / "downloads" / entry.url.rsplit("/", 1)[1]
    _fetch(entry, download, target)
    first = sums.get(name, {}).get("download")
    _check(download, entry.sha256 or first, f"{entry.url} (downloaded to {download})", "not converted")
    from gan_cli.commands.convert import convert

    with atomic_path(target) as tmp:  # a failed conversion leaves no file that would be taken for the cache
        convert(download, tmp, entry.fmt)
    sums[name] = {"download": first or sha256(download), "converted": sha256(target)}
    write_text(folder() / "sha256.json", json.dumps(sums, indent=2) + "\n")
    download.unlink(missing_ok=True)
    console.info(f"{name}: converted to {target}")
    return target


def _sums() -> dict:
    path = folder() / "sha256.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        raise BadInput(f"{path}: not valid JSON; delete it (the checksums are recorded again)") from None


def _check(path: Path, expected: str | None, what: str, then: str) -> None:
    if expected is not None and sha256(path) != expected:
        raise RuntimeFailure(f"{what}: sha256 differs from the one recorded on first download ({then})")


def _fetch(entry: Pretrained, download: Path, target: Path) -> None:
    """Download entry.url to `download`, with a progress bar; offline, one error saying what to do by hand."""
    by_hand = (
        f"fetch {entry.url} by hand, then run: gan convert {download.name} {target} --from {entry.fmt} "
        f"(or pass --weights {target.name} after converting it anywhere)"
    )
    if entry.noncommercial:
        console.warn(f"{entry.name}: {entry.licence}")
    if os.environ.get("GAN_CLI_OFFLINE"):
        raise OfflineError(f"{entry.name} is not in {folder()} and $GAN_CLI_OFFLINE is set: {by_hand}")
    console.info(f"downloading {entry.name} ({entry.size}) from {entry.url}")
    try:
        with urlopen(entry.url, timeout=TIMEOUT_S) as r, atomic_path(download) as tmp:
            total = int(r.headers.get("Content-Length") or 0) or None
            from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

            err = console.console()
            columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
            bar = Progress(*columns, console=err, transient=True, disable=not err.is_terminal)
            with open(tmp, "wb") as f, bar:
                task = bar.add_task(entry.name, total=total)
                while chunk := r.read(1 << 20):
                    f.write(chunk)
                    bar.advance(task, len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
        raise OfflineError(f"downloading {entry.name} failed ({getattr(e, 'reason', e)}): {by_hand}") from None
