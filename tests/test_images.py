"""Image io: every mode converted, folders walked recursively, bad files skipped and counted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.errors import BadInput
from gan_cli.io import images


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16", "CMYK", "LA", "1"])
def test_every_mode_is_converted(tmp_path, mode):
    base = Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    else:
        img = base.convert(mode)
    ext = "tiff" if mode in ("CMYK",) else "png"
    path = tmp_path / f"x.{ext}"
    img.save(path)
    rgb = images.load_image(path, "RGB")
    assert rgb.mode == "RGB" and rgb.size == (8, 8)
    gray = images.load_image(path, "L")
    assert gray.mode == "L"
    if mode == "I;16":  # 16-bit scaled, not clipped: the brightest pixel is near white
        assert np.asarray(gray).max() >= 200


def test_rgba_is_composited_on_white(tmp_path):
    arr = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    Image.fromarray(arr, "RGBA").save(tmp_path / "t.png")
    assert np.asarray(images.load_image(tmp_path / "t.png")).min() == 255


def test_list_images_recursive_sorted_and_errors(tmp_path):
    (tmp_path / "b" / "c").mkdir(parents=True)
    for p in ["z.png", "b/a.jpg", "b/c/d.webp", "b/notes.txt", ".hidden.png"]:
        if p.endswith(".txt"):
            (tmp_path / p).write_text("x")
        else:
            Image.new("RGB", (4, 4)).save(tmp_path / p)
    found = [p.relative_to(tmp_path).as_posix() for p in images.list_images(tmp_path)]
    assert found == ["b/a.jpg", "b/c/d.webp", "z.png"]
    with pytest.raises(BadInput, match="no images"):
        images.list_images(_empty(tmp_path))
    with pytest.raises(BadInput, match="no such"):
        images.list_images(tmp_path / "missing")


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_corrupt_file_is_skipped_and_counted(tmp_path, capsys):
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    report = images.LoadReport()
    got = list(images.load_images(images.list_images(tmp_path), report=report))
    assert [p.name for p, _ in got] == ["ok.png"]
    assert (report.loaded, report.skipped) == (1, 1)
    assert "bad.png" in capsys.readouterr().err


def test_tensor_round_trip_and_grid(tmp_path):
    x = torch.rand(6, 3, 8, 8) * 2 - 1
    path = images.save_grid(x, 2, 3, tmp_path / "g.png")
    grid = np.asarray(Image.open(path))
    assert grid.shape == (2 * 10 + 2, 3 * 10 + 2, 3)
    back = images.pil_to_tensor(images.tensor_to_pil(x[0]))
    assert torch.allclose(back, x[0], atol=1 / 127.5)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    from gan_cli.io.atomic import atomic_path

    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_write_gives_normal_permissions(tmp_path):
    import os

    from gan_cli.io.atomic import write_text

    old = os.umask(0o022)
    try:
        write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
