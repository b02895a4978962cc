"""gan_cli.faces: detection, alignment, segmentation and compositing on the two real photos.

The MediaPipe objects are created once per module (fixtures), as `gan prep` creates them once
per run. Alignment is checked the way a user would: by running the detector again on the output.
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import pytest
from conftest import FACES
from PIL import Image

from gan_cli.faces.align import Template, transform_points
from gan_cli.faces.composite import composite, cutout, paste_back
from gan_cli.faces.detect import Face, FaceFinder, merge_faces, tiles
from gan_cli.faces.prep import FacePrep
from gan_cli.faces.quiet import native_quiet

SIZE = 256
PHOTOS = ("astronaut.png", "grace_hopper.jpg")


def photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(FACES / name).convert("RGB"))


@pytest.fixture(scope="module")
def white():
    with FacePrep(size=SIZE, bg="white") as prep:
        yield prep


@pytest.fixture(scope="module")
def finder(white):
    return white.finder


# --- transformed copies of the photos --------------------------------------------------------


def rotated(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre on a canvas large enough for the whole photo, grey outside."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(w * cos + h * sin), int(w * sin + h * cos)
    m[:, 2] += ((nw - w) / 2, (nh - h) / 2)
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_CUBIC, borderValue=(128, 128, 128))


def scaled(img: np.ndarray, f: float) -> np.ndarray:
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, None, fx=f, fy=f, interpolation=interp)


def on_canvas(img: np.ndarray, width: int, height: int, x: int, y: int) -> np.ndarray:
    """Paste onto a larger grey gradient canvas with its top-left corner at (x, y)."""
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = np.linspace(70, 190, width, dtype=np.float32)[None, :, None].astype(np.uint8)
    h, w = min(img.shape[0], height - y), min(img.shape[1], width - x)
    canvas[y : y + h, x : x + w] = img[:h, :w]
    return canvas


VARIANTS = {
    "as-is": lambda im: im,
    "rot-30": lambda im: rotated(im, -30),
    "rot-15": lambda im: rotated(im, -15),
    "rot+15": lambda im: rotated(im, 15),
    "rot+30": lambda im: rotated(im, 30),
    "scale0.5": lambda im: scaled(im, 0.5),
    "scale2": lambda im: scaled(im, 2.0),
    "flipped": lambda im: np.ascontiguousarray(im[:, ::-1]),
    "off-centre": lambda im: on_canvas(im, im.shape[1] * 5 // 2, im.shape[0] * 2, 40, im.shape[0] - 20),
}


# --- measuring an output ---------------------------------------------------------------------

# BlazeFace's eye keypoints jitter by about a degree between near-identical images, so an output
# is measured on five copies (as-is, then moved by sub-pixel shifts, +-2% scale and +-0.6 degrees)
# and the eye positions, mapped back, are averaged.
MEASURE_JITTERS = ((0.0, 1.0, 0.0, 0.0), (0.6, 0.98, 0.3, -0.3), (-0.6, 1.02, -0.3, 0.3),
                   (0.6, 1.0, 0.3, 0.3), (-0.6, 1.0, -0.3, -0.3))  # fmt: skip


def measure_eyes(finder: FaceFinder, rgb: np.ndarray) -> np.ndarray:
    """(2, 2): the picture-left eye, then the picture-right eye, in the output's pixels."""
    h, w = rgb.shape[:2]
    found = []
    for degrees, scale, dx, dy in MEASURE_JITTERS:
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, scale)
        m[:, 2] += (dx, dy)
        faces = finder.detect(cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE), ("short_range",))
        if faces:
            found.append(transform_points(cv2.invertAffineTransform(m), faces[0].eyes))
    assert found, "no face found in the aligned output"
    return np.mean(found, axis=0)


def assert_aligned(finder: FaceFinder, out: Image.Image, template: Template = Template()) -> None:
    rgb = np.asarray(out.convert("RGB"))
    size = rgb.shape[0]
    (x0, y0), (x1, y1) = eyes = measure_eyes(finder, rgb)
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    assert abs(angle) <= 1.5, f"eye line tilted by {angle:.2f} degrees"
    want = template.points(size)
    for eye, name in zip(eyes, ("right_eye", "left_eye"), strict=True):
        off = math.dist(eye, want[name]) / size
        assert off <= 0.03, f"{name} {eye.round(1)} is {off:.1%} of the size from {want[name]}"


def assert_white_corners_and_face(out: Image.Image, template: Template = Template()) -> None:
    rgb = np.asarray(out.convert("RGB")).astype(int)
    size = rgb.shape[0]
    assert rgb[:6, :6].min() >= 250 and rgb[:6, -6:].min() >= 250, "top corners are not white"
    pts = template.points(size)
    cx = round((pts["right_eye"][0] + pts["left_eye"][0]) / 2)
    cy = round((pts["right_eye"][1] + pts["mouth_center"][1]) / 2)
    patch = rgb[cy - 4 : cy + 5, cx - 4 : cx + 5]
    assert patch.mean() < 235, f"the face centre is white-ish ({patch.mean():.0f})"


# --- the real photos and their transformed copies --------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", PHOTOS)
def test_aligned_output_has_level_eyes_on_the_template(white, finder, name, variant):
    results = white.process(VARIANTS[variant](photo(name)))
    assert len(results) == 1
    out = results[0].image
    assert out.size == (SIZE, SIZE) and out.mode == "RGB"
    assert_aligned(finder, out)
    assert_white_corners_and_face(out)


def test_small_face_in_a_large_photo_is_found(white, finder):
    img = photo("astronaut.png")
    face_width = finder.find(img)[0].box[2]
    width = round(face_width * 20)  # the face is 1/20 of the photo's width
    canvas = on_canvas(img, width, width * 3 // 5, width * 3 // 5, width // 6)
    results = white.process(canvas)
    assert len(results) == 1
    x, y, w, _ = results[0].face.box
    assert 0.8 / 20 < w / width < 1.25 / 20
    assert width * 3 // 5 < x < width * 3 // 5 + img.shape[1]
    assert_aligned(finder, results[0].image)


def test_short_range_model_alone_misses_that_small_face(finder):
    img = photo("astronaut.png")
    width = round(finder.find(img)[0].box[2] * 20)
    canvas = on_canvas(img, width, width * 3 // 5, width * 3 // 5, width // 6)
    assert finder.detect(canvas, ("short_range",)) == []


def test_photo_without_a_face_gives_no_result(white):
    gradient = np.repeat(np.linspace(0, 255, 400, dtype=np.float32)[None, :, None], 300, axis=0)
    assert white.process(np.repeat(gradient, 3, axis=2).astype(np.uint8)) == []


def test_all_faces_largest_first():
    big, small = photo("astronaut.png"), scaled(photo("grace_hopper.jpg"), 0.4)
    canvas = on_canvas(big, 1200, 640, 20, 100)
    canvas[320 : 320 + small.shape[0], 850 : 850 + small.shape[1]] = small
    with FacePrep(size=128, bg="keep", all_faces=True) as prep:
        results = prep.process(canvas)
    assert [r.index for r in results] == [0, 1]
    assert results[0].face.area > results[1].face.area
    assert results[0].face.box[0] < 600 < results[1].face.box[0]


# --- backgrounds, sidecar, paste-back --------------------------------------------------------


def test_transparent_and_keep_backgrounds():
    img = photo("astronaut.png")
    edge = np.ascontiguousarray(img[50:])  # the head touches the top edge: the crop leaves the photo
    with FacePrep(size=SIZE, bg="transparent") as prep:
        out = np.asarray(prep.process(img)[0].image)
        assert out.shape == (SIZE, SIZE, 4)
        assert out[:6, :6, 3].max() == 0 and out[:6, -6:, 3].max() == 0
        assert out[150:160, 123:133, 3].min() == 255
    with FacePrep(size=SIZE, bg="keep") as prep:
        out = np.asarray(prep.process(img)[0].image).astype(int)
        assert out.shape == (SIZE, SIZE, 3) and out[:6, :6].min() < 250  # the photo's own background
        padded = np.asarray(prep.process(edge)[0].image).astype(int)
        assert padded[:3].min() == 255  # above the photo: padded with white


def test_sidecar_affine_puts_the_keypoints_on_the_template(white):
    import json

    result = white.process(rotated(photo("grace_hopper.jpg"), 20))[0]
    side = json.loads(json.dumps(result.sidecar()))  # JSON-serialisable
    assert {"score", "keypoints", "affine", "box", "template", "size", "bg"} <= set(side)
    affine = np.array(side["affine"])
    assert affine.shape == (2, 3)
    kp = side["keypoints"]
    eyes = transform_points(affine, np.array([kp["right_eye"], kp["left_eye"]]))
    assert abs(eyes[0, 1] - eyes[1, 1]) < 0.05
    want = side["template"]
    assert np.allclose(eyes.mean(axis=0), np.mean([want["right_eye"], want["left_eye"]], axis=0), atol=0.05)
    assert 0.5 < side["score"] <= 1.0


def test_paste_back_restores_the_photo():
    img = photo("grace_hopper.jpg")
    with FacePrep(size=512, bg="keep") as prep:  # enlarges the face a little: the round trip loses little
        result = prep.process(img)[0]
    back = paste_back(img, np.asarray(result.image), result.affine)
    x, y, w, h = (int(v) for v in result.face.box)
    diff = np.abs(back[y : y + h, x : x + w].astype(int) - img[y : y + h, x : x + w]).mean()
    assert diff < 5, diff  # two interpolations soften the fine texture a little (about 3 levels)


def test_margin_zooms_out_around_the_centre(finder):
    with FacePrep(size=SIZE, bg="keep", margin=1.5) as prep:
        result = prep.process(photo("astronaut.png"))[0]
    assert_aligned(finder, result.image, Template(margin=1.5))
    assert result.sidecar()["template"]["left_eye"][0] - result.sidecar()["template"]["right_eye"][0] == (
        pytest.approx(0.2 / 1.5 * SIZE, abs=0.02)
    )


def test_cutout_leaves_no_halo_from_a_mask_that_bleeds():
    """A red disc on green, and a soft mask 3 px too large (as segmentation masks are)."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    r = np.hypot(xx - 128, yy - 128)
    img = np.zeros((SIZE, SIZE, 3), np.uint8)
    img[:] = (0, 200, 0)
    img[r < 60] = (220, 30, 30)
    conf = cv2.GaussianBlur((r < 63).astype(np.float32), (0, 0), 2)

    def greenest(rgb: np.ndarray) -> int:  # green tint over white or red: G above both R and B
        rgb = rgb.astype(int)
        return int((rgb[..., 1] - np.maximum(rgb[..., 0], rgb[..., 2])).max())

    assert greenest(composite(img, conf)) > 100  # the naive blend has a green rim
    fg, alpha = cutout(conf, img)
    out = composite(fg, alpha)
    assert greenest(out) < 10
    assert 0 < alpha[128, 128 + 59] < 1 or 0 < alpha[128, 128 + 60] < 1  # soft, not a hard step
    assert (out[128, 128] == (220, 30, 30)).all() and (out[128, 250] == 255).all()


# --- small units -----------------------------------------------------------------------------


def test_tiles_cover_small_faces_whole():
    assert tiles(700, 500) == []  # small photos: the whole-photo pass is enough
    ts = tiles(2000, 1000)
    assert len(ts) == 4
    for fx in range(0, 2000 - 200, 37):  # any face up to 1/10 of the width lies whole in a tile
        assert any(x <= fx and fx + 200 <= x + w for x, _, w, _ in ts)


def test_merge_keeps_the_best_of_overlapping_detections():
    kp = np.zeros((6, 2))
    a = Face(0.9, (100, 100, 50, 50), kp, "short_range")
    part = Face(0.6, (110, 100, 30, 30), kp, "full_range")  # a face cut by a tile edge
    other = Face(0.7, (300, 100, 80, 80), kp, "full_range")
    assert merge_faces([part, a, other]) == [other, a]


def test_native_quiet_silences_fd2_and_restores_it(capfd):
    with native_quiet():
        os.write(2, b"native noise\n")
    os.write(2, b"ours\n")
    assert capfd.readouterr().err == "ours\n"
