"""`gan translate`: names, sub-folders and sizes kept in both size modes, stdin, RGBA, 16-bit, EXIF, skipping,
unreadable inputs, refusals, and the same pixels as running the network by hand."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_clean_error
from PIL import Image

from gan_cli.io import images
from gan_cli.registry import get_family, parse_options
from gan_cli.sampling import load_model
from gan_cli.train.state import model_meta, save_generator
from gan_cli.translate import pad_to, plan


def checkpoint(tmp_path: Path, name: str = "pix2pix", in_channels: int = 3, channels: int = 3) -> Path:
    cls = get_family(name)
    opts = parse_options(cls, [f"{k}={v}" for k, v in cls.tiny.items()] + ["norm=instance"])
    fam = cls(opts, 32, channels, 0, in_channels)
    torch.manual_seed(0)
    fam.build()
    return save_generator(tmp_path / f"{name}.safetensors", fam, model_meta(fam, vars(opts), [], 1, "test"))


def noise(h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)
    return arr[:, :, 0] if c == 1 else arr


@pytest.fixture
def ckpt(tmp_path):
    return checkpoint(tmp_path)


@pytest.fixture
def tree(tmp_path):
    """in/odd.png 257x199, in/sub/b.jpg 40x30, in/sub/deeper/c.png 32x32 grey."""
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(noise(199, 257, 3)).save(root / "odd.png")
    Image.fromarray(noise(30, 40, 3, 1)).save(root / "sub" / "b.jpg")
    Image.fromarray(noise(32, 32, 1, 2)).save(root / "sub" / "deeper" / "c.png")
    return root


def sizes(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): Image.open(p).size for p in sorted(folder.rglob("*.png"))}


WANT = {"odd.png": (257, 199), "sub/b.png": (40, 30), "sub/deeper/c.png": (32, 32)}


@pytest.mark.parametrize("mode", [[], ["--keep-size"], ["--size", "64"]])
def test_names_subfolders_and_sizes_are_kept(cli, ckpt, tree, tmp_path, mode):
    r = cli("translate", "--weights", ckpt, tree, tmp_path / "out", *mode)
    assert r.code == 0, r.err
    assert sizes(tmp_path / "out") == WANT
    assert r.out.split() == [str(tmp_path / "out" / k) for k in WANT]
    assert all(Image.open(tmp_path / "out" / k).mode == "RGB" for k in WANT)


def test_keep_size_is_the_network_on_the_padded_image_cropped_back(cli, ckpt, tree, tmp_path):
    assert cli("translate", "--weights", ckpt, tree / "odd.png", tmp_path / "o.png", "--keep-size").code == 0
    model = load_model(ckpt)
    arr, (top, left) = pad_to(np.asarray(Image.open(tree / "odd.png")), 32)
    assert arr.shape == (224, 288, 3) and (top, left) == (12, 15)
    x = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    want = images.tensor_to_uint8(model.translate(x)[0])[top : top + 199, left : left + 257]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")), want)


def test_batching_does_not_change_the_pixels(cli, ckpt, tmp_path):
    folder = tmp_path / "same"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(noise(32, 32, 3, i)).save(folder / f"{i}.png")
    for b in ("1", "4"):
        assert cli("translate", "--weights", ckpt, folder, tmp_path / f"b{b}", "--batch-size", b).code == 0
    for i in range(5):
        a, b = (np.asarray(Image.open(tmp_path / d / f"{i}.png"), dtype=int) for d in ("b1", "b4"))
        assert np.abs(a - b).max() <= 1


def test_paths_on_stdin(cli, ckpt, tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("in/sub/b.jpg\n\nin/sub/deeper/c.png\n"))
    r = cli("translate", "--weights", ckpt, "-", "out", "--ext", "jpg")
    assert r.code == 0, r.err
    assert r.out.split() == ["out/b.jpg", "out/deeper/c.jpg"]  # relative to their deepest common folder
    assert Image.open("out/deeper/c.jpg").size == (32, 32)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert_clean_error(cli("translate", "--weights", ckpt, "-", "out"), 2, "no paths came on stdin")


def test_rgba_in_rgba_out_with_the_same_alpha(cli, ckpt, tmp_path):
    rgba = np.dstack([noise(20, 28, 3), np.linspace(0, 255, 20 * 28).reshape(20, 28).astype(np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(noise(20, 28, 1), "L").convert("LA").save(tmp_path / "la.png")
    for name in ("a", "la"):
        assert cli("translate", "--weights", ckpt, tmp_path / f"{name}.png", tmp_path / f"{name}-out.png").code == 0
    out = Image.open(tmp_path / "a-out.png")
    assert out.mode == "RGBA" and out.size == (28, 20)
    assert np.array_equal(np.asarray(out)[:, :, 3], rgba[:, :, 3])
    assert Image.open(tmp_path / "la-out.png").mode == "RGBA"


def test_grey_16bit_and_exif_inputs(cli, tmp_path):
    ckpt = checkpoint(tmp_path, in_channels=1, channels=1)
    deep = (np.arange(24 * 36, dtype=np.uint16).reshape(24, 36) * 70).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(noise(20, 40, 3)).save(tmp_path / "phone.jpg", exif=exif)
    for name in ("deep.png", "phone.jpg"):
        r = cli("translate", "--weights", ckpt, tmp_path / name, tmp_path / "out")
        assert r.code == 0, r.err
    assert Image.open(tmp_path / "out" / "deep.png").mode == "L"
    assert Image.open(tmp_path / "out" / "deep.png").size == (36, 24)
    assert Image.open(tmp_path / "out" / "phone.png").size == (20, 40)  # upright: width and height swapped


def test_existing_outputs_are_kept_unless_overwrite(cli, ckpt, tree, tmp_path):
    out = tmp_path / "out"
    assert cli("translate", "--weights", ckpt, tree, out).code == 0
    (out / "odd.png").write_bytes(b"mine")
    r = cli("translate", "--weights", ckpt, tree, out)
    assert r.code == 0 and r.out == "" and "3 existing output(s) kept" in r.err
    assert (out / "odd.png").read_bytes() == b"mine"
    r = cli("translate", "--weights", ckpt, tree, out, "--overwrite")
    assert r.code == 0 and len(r.out.split()) == 3 and Image.open(out / "odd.png").size == (257, 199)


def test_an_unreadable_input_is_skipped_and_the_exit_code_is_1(cli, ckpt, tree, tmp_path):
    (tree / "sub" / "broken.png").write_bytes(b"not a png")
    r = cli("translate", "--weights", ckpt, tree, tmp_path / "out")
    assert r.code == 1 and "Traceback" not in r.err
    assert "skipped" in r.err and "broken.png" in r.err and "1 of 4 input(s)" in r.err
    assert sizes(tmp_path / "out") == WANT


def test_never_writes_into_its_input(cli, ckpt, tree, tmp_path):
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tree), 2, "does not write into its input")
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tree / "sub" / "o"), 2, "is inside IN")
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tree, "--overwrite"), 2, "never overwrites an input")
    r = cli("translate", "--weights", ckpt, tree, tree / "x", "--overwrite", "--ext", "webp")  # allowed: new names
    assert r.code == 0 and (tree / "x" / "odd.webp").exists()
    one = tree / "odd.png"
    assert_clean_error(cli("translate", "--weights", ckpt, one, one, "--overwrite"), 2, "never overwrites an input")


def test_plan_refuses_two_inputs_with_one_output(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.png", "a.jpg"):
        Image.fromarray(noise(8, 8, 3)).save(tmp_path / "in" / name)
    with pytest.raises(Exception, match="would both be written to"):
        plan(str(tmp_path / "in"), tmp_path / "out")
    assert [j.dst.name for j in plan(str(tmp_path / "in" / "a.png"), tmp_path / "o")] == ["a.png"]


def test_bad_arguments(cli, ckpt, tree, tmp_path):
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tmp_path / "o", "--size", "40"), 2, "multiple of 32")
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tmp_path / "o", "--direction", "BtoA"), 2, "AtoB")
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tmp_path / "o", "--ext", "gif"), 2, "--ext gif")
    assert_clean_error(cli("translate", "--weights", ckpt, tree / "nope", tmp_path / "o"), 2, "no such file")
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tmp_path / "o", "--test-mode", "x"), 2, "eval")
    assert_clean_error(cli("translate", "--weights", ckpt, tree, tmp_path / "o", "--keep-size", "--size", "32"), 2)
    assert_clean_error(cli("translate", tree, tmp_path / "o"), 2, "MODEL IN OUT")
    assert_clean_error(cli("translate", "cyclegan", tree, tmp_path / "o"), 2, "no --weights given and no runs/cyclegan")


def test_cyclegan_both_directions_and_the_newest_run(cli, tmp_path, monkeypatch, tree):
    ckpt = checkpoint(tmp_path, "cyclegan", in_channels=1, channels=3)
    model = load_model(ckpt)
    img = tree / "sub" / "deeper" / "c.png"
    for direction, net in (("AtoB", "G_A"), ("BtoA", "G_B")):
        r = cli("translate", "--weights", ckpt, img, tmp_path / f"{direction}.png", "--direction", direction)
        assert r.code == 0, r.err
        src = Image.open(img).convert("L" if direction == "AtoB" else "RGB")
        x = images.pil_to_tensor(src)[None]
        want = images.tensor_to_uint8(model.family.translate({net: model.nets[net]}, x, direction).clamp(-1, 1))[0]
        got = np.asarray(Image.open(tmp_path / f"{direction}.png"))
        assert np.array_equal(got.reshape(want.shape), want)
    run = tmp_path / "runs" / "cyclegan-002" / "checkpoints"
    run.mkdir(parents=True)
    (run / "step-0000001.safetensors").write_bytes(ckpt.read_bytes())
    monkeypatch.chdir(tmp_path)
    r = cli("translate", "cyclegan", img, "out.png")
    assert r.code == 0 and "using runs/cyclegan-002" in r.err and Path("out.png").exists()
    assert_clean_error(cli("translate", "pix2pix", img, "o.png", "--weights", ckpt), 2, "is a cyclegan checkpoint")
