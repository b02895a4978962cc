"""`gan eval-fid` bad input: one clear line on stderr, exit 2, found before any long computation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_clean_error
from helpers import make_folder
from safetensors.torch import save_file

from gan_cli.metrics import weights as weights_mod


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch, inception_weights):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_CLI_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GAN_CLI_INCEPTION", str(inception_weights))


@pytest.fixture
def good(tmp_path) -> Path:
    return make_folder(tmp_path / "good", n=4)


def _case(name: str, tmp: Path) -> tuple[list[str], str]:
    if name == "empty folder":
        (tmp / "empty").mkdir()
        return ["empty"], "no images"
    if name == "one image":
        make_folder(tmp / "one", n=1)
        return ["one"], "at least 2"
    if name == "npz without mu":
        np.savez(tmp / "s.npz", sigma=np.eye(2048))
        return ["s.npz"], "'mu'"
    if name == "missing path":
        return ["nowhere/"], "no such file"
    if name == "image file":
        make_folder(tmp / "x", n=1)
        return ["x/img000.png"], "expected an image folder"
    if name == "safetensors without metadata":
        save_file({"w": torch.zeros(3)}, str(tmp / "w.safetensors"))
        return ["w.safetensors"], "not a gan-cli checkpoint"
    if name == "kid with stats":
        np.savez(tmp / "s.npz", mu=np.zeros(2048), sigma=np.eye(2048))
        return ["s.npz", "--kid"], "--kid"
    if name == "save-stats not npz":
        return ["good", "--save-stats", "stats.txt"], ".npz"
    if name == "bad resize":
        return ["good", "--resize", "lanczos"], "--resize"
    raise AssertionError(name)


CASES = [
    "empty folder",
    "one image",
    "npz without mu",
    "missing path",
    "image file",
    "safetensors without metadata",
    "kid with stats",
    "save-stats not npz",
    "bad resize",
]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, good, name):
    args, message = _case(name, tmp_path)
    for order in ([args[0], "good", *args[1:]], ["good", *args]):
        t0 = time.perf_counter()
        r = cli("eval-fid", *order)
        assert_clean_error(r, 2, message)
        assert r.out == "" and time.perf_counter() - t0 < 20


def test_the_inception_weights_as_an_input_say_to_use_inception(cli, good, inception_weights):
    assert_clean_error(cli("eval-fid", "good", inception_weights), 2, "--inception")


def test_missing_weights_offline_name_every_option(cli, good, monkeypatch):
    monkeypatch.delenv("GAN_CLI_INCEPTION")
    r = cli("eval-fid", "good", "good")
    assert_clean_error(r, 2, "--inception")
    for option in ("GAN_CLI_INCEPTION", "gan-cli", "pt_inception-2015-12-05-6726825d.pth"):
        assert option in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_unreachable_download_fails_fast(cli, good, monkeypatch):
    monkeypatch.delenv("GAN_CLI_INCEPTION")
    monkeypatch.delenv("GAN_CLI_OFFLINE")
    monkeypatch.setattr(weights_mod, "FID_WEIGHTS_URL", "http://127.0.0.1:9/pt_inception-2015-12-05-6726825d.pth")
    t0 = time.perf_counter()
    r = cli("eval-fid", "good", "good")
    assert_clean_error(r, 2, "cannot be downloaded")
    assert time.perf_counter() - t0 < 10


def test_weights_are_found_in_order(tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "gan-cli"
    cache.mkdir(parents=True)
    (cache / "pt_inception-2015-12-05.safetensors").write_bytes(b"x")
    monkeypatch.delenv("GAN_CLI_INCEPTION")
    assert weights_mod.find_weights() == cache / "pt_inception-2015-12-05.safetensors"
    (cache / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"x")
    assert weights_mod.find_weights() == cache / "pt_inception-2015-12-05-6726825d.pth"
    monkeypatch.setenv("GAN_CLI_INCEPTION", str(tmp_path / "env.pth"))
    with pytest.raises(weights_mod.BadInput, match="GAN_CLI_INCEPTION"):
        weights_mod.find_weights()
    (tmp_path / "env.pth").write_bytes(b"x")
    assert weights_mod.find_weights() == tmp_path / "env.pth"
    (tmp_path / "cli.pth").write_bytes(b"x")
    assert weights_mod.find_weights(tmp_path / "cli.pth") == tmp_path / "cli.pth"


def test_wrong_weights_file_is_bad_input(cli, good, tmp_path):
    save_file({"conv.weight": torch.zeros(2, 2)}, str(tmp_path / "other.safetensors"))
    torch.save({"a": torch.zeros(1)}, tmp_path / "other.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a zip")
    cases = (("other.safetensors", "not the FID Inception"), ("other.pth", "not the FID"), ("junk.pth", "cannot read"))
    for name, message in cases:
        assert_clean_error(cli("eval-fid", "good", "good", "--inception", name), 2, message)


def test_unreadable_images_are_skipped_and_too_few_left_is_bad_input(cli, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"{i}.png").write_bytes(b"not a png")
    make_folder(bad / "ok", n=1)
    r = cli("eval-fid", "bad", "bad")
    assert_clean_error(r, 2, "at least 2")
    assert "skipped" in r.err
