"""`gan prep` end to end: inputs, outputs, sidecars, exit codes, and a quiet stderr."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import FACES, assert_clean_error, run_gan
from PIL import Image


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """in/astronaut.png, in/sub/grace_hopper.jpg and in/gradient.png (no face)."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(FACES / "astronaut.png", src / "astronaut.png")
    shutil.copy(FACES / "grace_hopper.jpg", src / "sub" / "grace_hopper.jpg")
    ramp = np.repeat(np.linspace(0, 255, 320, dtype=np.float32)[None, :], 240, axis=0).astype(np.uint8)
    Image.fromarray(ramp).convert("RGB").save(src / "gradient.png")
    return src


def test_folder_keeps_relative_paths_and_skips_the_faceless(cli, photos, tmp_path):
    (photos / "sub" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    r = cli("prep", photos, out)
    assert r.code == 1, r.err  # inputs were skipped; the others are written
    assert r.out.splitlines() == [str(out / "astronaut.png"), str(out / "sub" / "grace_hopper.png")]
    assert "no face found" in r.err and "gradient.png" in r.err and "broken.jpg" in r.err
    assert "2 done, 2 skipped (1 without a face, 1 unreadable)" in r.err
    assert "Traceback" not in r.err and not (out / "sub" / "broken.png").exists()
    assert not (out / "gradient.png").exists() and not (out / "gradient.json").exists()
    with Image.open(out / "sub" / "grace_hopper.png") as im:
        assert im.size == (256, 256) and im.mode == "RGB"
    side = json.loads((out / "astronaut.json").read_text())
    assert side["source"] == str(photos / "astronaut.png") and side["path"] == str(out / "astronaut.png")
    assert set(side["keypoints"]) >= {"right_eye", "left_eye", "nose_tip", "mouth_center"}
    assert np.array(side["affine"]).shape == (2, 3) and 0.5 < side["score"] <= 1


def test_single_image_json_lines_and_exit_0(cli, tmp_path):
    src = FACES / "grace_hopper.jpg"
    r = cli("prep", src, tmp_path / "o", "--json", "--size", "128", "--bg", "transparent")
    assert r.code == 0, r.err
    (line,) = r.out.splitlines()
    rec = json.loads(line)
    assert rec["path"] == str(tmp_path / "o" / "grace_hopper.png") and rec["source"] == str(src)
    assert {"score", "keypoints", "affine", "box", "template"} <= set(rec)
    with Image.open(rec["path"]) as im:
        assert im.size == (128, 128) and im.mode == "RGBA"


def test_paths_on_stdin_and_all_faces(cli, photos, tmp_path, monkeypatch):
    group = np.full((350, 650, 3), 150, np.uint8)
    group[50:306, 10:266] = np.asarray(Image.open(photos / "astronaut.png").convert("RGB"))  # 256x256
    group[40:296, 380:598] = np.asarray(Image.open(photos / "sub" / "grace_hopper.jpg").convert("RGB"))  # 218x256
    Image.fromarray(group).save(photos / "sub" / "group.jpg")
    listing = f"{photos / 'astronaut.png'}\n\n{photos / 'sub' / 'group.jpg'}\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(listing))
    out = tmp_path / "out"
    r = cli("prep", "-", out, "--all-faces", "--bg", "keep")
    assert r.code == 0, r.err
    # paths are kept relative to the folder the listed photos share
    assert r.out.splitlines() == [str(out / p) for p in ("astronaut_0.png", "sub/group_0.png", "sub/group_1.png")]
    assert (out / "sub" / "group_1.json").exists()


@pytest.mark.parametrize(
    "case",
    [
        "unreadable",
        "empty-folder",
        "missing",
        "out-is-in",
        "out-inside-in",
        "out-is-the-image",
        "bad-bg",
        "clash",
        "bad-model",
    ],
)
def test_bad_input_is_a_clean_error_and_writes_nothing(cli, photos, tmp_path, case):
    out = tmp_path / "out"
    if case == "unreadable":
        (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
        args, msg = (tmp_path / "broken.jpg", out), "not a readable image"
    elif case == "empty-folder":
        (tmp_path / "empty").mkdir()
        args, msg = (tmp_path / "empty", out), "no images"
    elif case == "missing":
        args, msg = (tmp_path / "nope", out), "no such file"
    elif case == "out-is-in":
        args, msg = (photos, photos), "inside"
    elif case == "out-inside-in":
        args, msg = (photos, photos / "faces"), "inside"
    elif case == "out-is-the-image":
        args, msg = (photos / "astronaut.png", photos / "astronaut.png"), "must be a folder"
    elif case == "bad-bg":
        args, msg = (photos, out, "--bg", "green"), "--bg"
    elif case == "bad-model":
        (tmp_path / "model.tflite").write_bytes(b"not a model")
        args, msg = (
            (photos, out, "--detector-model", tmp_path / "model.tflite"),
            "not a usable face detection model",
        )
    else:  # two inputs that would both become out/astronaut.png
        shutil.copy(photos / "astronaut.png", photos / "astronaut.jpg")
        args, msg = (photos, out), "both become"
    before = sorted(p for p in tmp_path.rglob("*"))
    r = cli("prep", *args)
    assert_clean_error(r, 2, msg)
    assert r.out == ""
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing written, not even OUT


def test_detector_model_override(cli, tmp_path):
    from gan_cli.faces.models import FULL_RANGE

    r = cli("prep", FACES / "astronaut.png", tmp_path, "--detector-model", FULL_RANGE, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["detector"] == "custom"


def test_real_entry_point_keeps_native_logs_off_stderr(tmp_path):
    src = FACES / "astronaut.png"
    r = run_gan("prep", src, tmp_path / "o", env={"GLOG_minloglevel": "0", "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert r.code == 0, r.err
    assert r.out == str(tmp_path / "o" / "astronaut.png") + "\n"
    # only our own summary: no glog/absl/TFLite/LiteRT lines such as "INFO: Created TensorFlow Lite
    # XNNPACK delegate", "W0000 ...", "WARNING: Logging before InitGoogle()"
    summary = f"prep: 1 done, 0 skipped (0 without a face, 0 unreadable); 1 face(s) written to {tmp_path / 'o'}"
    assert r.err.splitlines() == [summary]
