"""`gan translate photo2cartoon`: prep inside, one cartoon per face, paste-back onto the photo, no-face photos.

The model is the golden photo2cartoon file (random weights, made by minivision's code) converted with
`gan convert`: the pictures are noise, but where they go and what stays untouched is what is tested."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gan_cli.facetranslate import cartoonize
from gan_cli.sampling import load_model

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    a = Image.open(DATA / "faces" / "astronaut.png").convert("RGB")
    b = Image.open(DATA / "faces" / "grace_hopper.jpg").convert("RGB").resize(a.size)
    two = Image.new("RGB", (a.width * 2, a.height))
    two.paste(a, (0, 0))
    two.paste(b, (a.width, 0))
    a.save(root / "astronaut.png")
    two.save(root / "two.png")
    a.rotate(25, expand=True, fillcolor=(255, 255, 255)).save(root / "rotated.png")
    Image.new("RGB", (200, 160), (90, 140, 200)).save(root / "sky.png")
    return root


@pytest.fixture
def weights(cli, tmp_path):
    dst = tmp_path / "p2c.safetensors"
    assert cli("convert", DATA / "ugatit" / "p2c_light_params.pt", dst).code == 0
    return dst


def test_one_cartoon_per_face_and_no_face_reported(cli, tmp_path, photos, weights):
    r = cli("translate", "--weights", weights, photos, tmp_path / "out", "--save-prep", tmp_path / "prep")
    assert r.code == 1 and "sky.png: no face found" in r.err and "1 without a face" in r.err
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["astronaut.png", "rotated.png", "two_0.png", "two_1.png"]
    for name in names:
        assert Image.open(tmp_path / "out" / name).size == (256, 256)  # the model's size
    side = json.loads((tmp_path / "prep" / "rotated.json").read_text())
    eyes = side["keypoints"]
    tilt = np.degrees(
        np.arctan2(eyes["left_eye"][1] - eyes["right_eye"][1], eyes["left_eye"][0] - eyes["right_eye"][0])
    )
    assert abs(abs(tilt) - 25) < 8  # the rotated photo's face was found at its angle and aligned upright
    # --no-prep: the prepared faces go straight through the network
    r2 = cli("translate", "--weights", weights, tmp_path / "prep" / "astronaut.png", tmp_path / "np.png", "--no-prep")
    assert r2.code == 0, r2.err


def test_paste_back_changes_only_the_faces(cli, tmp_path, photos, weights):
    r = cli(
        "translate",
        "--weights",
        weights,
        photos / "two.png",
        tmp_path / "out",
        "--paste-back",
        "--save-prep",
        tmp_path / "prep",
    )
    assert r.code == 0, r.err
    before = np.asarray(Image.open(photos / "two.png").convert("RGB"))
    after = np.asarray(Image.open(tmp_path / "out" / "two.png"))
    assert after.shape == before.shape
    changed = (after != before).any(-1)
    footprint = np.zeros(changed.shape, bool)
    for k in (0, 1):
        side = json.loads((tmp_path / "prep" / f"two_{k}.json").read_text())
        x, y, w, h = side["box"]  # the detector's box: x, y, width, height in photo pixels
        m = np.asarray(side["affine"], np.float64)
        square = np.full((side["size"], side["size"]), 255, np.uint8)
        warped = cv2.warpAffine(square, m, changed.shape[::-1], flags=cv2.WARP_INVERSE_MAP)
        footprint |= cv2.dilate(warped, np.ones((5, 5), np.uint8)) > 0  # + the bilinear edge of the warp
        box = changed[int(y) : int(y + h), int(x) : int(x + w)]
        assert box.mean() > 0.5, k  # the detected face box is where the cartoon went
    assert not changed[~footprint].any()  # outside the aligned squares, every pixel is the photo's own
    assert changed.mean() < 0.5


def test_batched_faces_equal_one_by_one(tmp_path, weights):
    model = load_model(weights)
    rng = np.random.default_rng(0)
    faces = [
        np.dstack([rng.integers(0, 255, (64, 64, 3), dtype=np.uint8), np.full((64, 64), 255, np.uint8)])
        for _ in range(3)
    ]
    together = cartoonize(model, faces)
    for face, out in zip(faces, together):
        assert np.abs(cartoonize(model, [face])[0].astype(int) - out.astype(int)).max() <= 1
