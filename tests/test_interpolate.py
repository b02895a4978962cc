"""`gan sample --interpolate` for every noise and class family (the course shows it for DCGAN): a GIF or a
folder of frames that starts at the first seed's image, loops back, and keeps one class per walk for cgan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import make_class_folders, make_folder
from PIL import Image

from gan_cli.registry import get_family

FAMILIES = ["gan", "dcgan", "lsgan", "wgan", "wgan-gp", "cgan", "pggan", "stylegan"]


def _tiny(name: str) -> list[str]:
    out: list[str] = []
    for k, v in get_family(name).tiny.items():
        out += ["-o", f"{k}={v}"]
    return out


@pytest.mark.parametrize("name", FAMILIES)
def test_interpolate_walk(cli, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    data = make_class_folders(tmp_path / "data", n=8) if name == "cgan" else make_folder(tmp_path / "data", n=16)
    r = cli("train", name, "--data", data, "--steps", "2", "-b", "4", "--quiet", *_tiny(name))
    assert r.code == 0, r.err
    ckpt = Path(r.out.split()[-1])
    extra = ["--class", "1"] if name == "cgan" else []
    r = cli("sample", "--weights", ckpt, "--interpolate", "3,4,5", "--frames", "4", "--out", "walk.gif", *extra)
    assert r.code == 0, r.err
    gif = Image.open("walk.gif")  # 3 transitions (back to seed 3) of 4 frames at 15 fps; PIL merges equal frames
    durations = []
    for i in range(gif.n_frames):
        gif.seek(i)
        durations.append(gif.info["duration"])
    assert 1 < gif.n_frames <= 12 and abs(sum(durations) - 12 * 1000 / 15) <= 12 * 10  # GIF timing is in 10 ms steps
    r = cli("sample", "--weights", ckpt, "--interpolate", "3,4", "--frames", "3", "--out", "frames", *extra)
    assert r.code == 0 and len(r.out.split()) == 6
    one = cli("sample", "--weights", ckpt, "--seeds", "3", "--out", "one", *extra)
    assert one.code == 0, one.err
    first = np.asarray(Image.open("frames/frame00000.png"), dtype=int)
    assert np.abs(first - np.asarray(Image.open("one/seed0003.png"), dtype=int)).max() <= 1  # starts at seed 3
    assert not np.array_equal(first, np.asarray(Image.open("frames/frame00001.png")))  # and moves
