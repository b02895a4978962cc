"""Named pretrained weights: resolved from the table, downloaded (here from file:// URLs or a fake opener:
no network), converted, cached, checksummed; offline, one error with the URL and the convert command."""

from __future__ import annotations

import json
import shutil
import urllib.error
from pathlib import Path

import pytest
from conftest import assert_clean_error
from helpers import make_folder

from gan_cli import pretrained
from gan_cli.convert import sha256

NVLABS_PKL = Path(__file__).parent / "data" / "stylegan2" / "nvlabs_32px.pkl"


@pytest.fixture
def table(tmp_path, monkeypatch):
    """A one-entry table served from a local file, a cache under tmp_path, and the cwd in tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GAN_CLI_OFFLINE", raising=False)
    served = tmp_path / "server" / "ffhq.pkl"
    served.parent.mkdir()
    shutil.copy(NVLABS_PKL, served)
    entry = pretrained.Pretrained(
        "tiny-ffhq", "stylegan2", served.as_uri(), "nvlabs", "NVIDIA NC licence: non-commercial use only", True,
        "400 KB", "a tiny StyleGAN2",
    )  # fmt: skip
    monkeypatch.setattr(pretrained, "TABLE", {entry.name: entry})
    monkeypatch.setattr(pretrained, "DEFAULTS", {"stylegan2": entry.name})
    return served


def _no_network(*args, **kwargs):
    raise AssertionError("the cache should have been used")


def test_name_downloads_converts_and_caches(cli, table, tmp_path, monkeypatch):
    r = cli("sample", "--weights", "tiny-ffhq", "--rows", "1", "--cols", "2", "--out", "a.png")
    assert r.code == 0, r.err
    assert "non-commercial use only" in r.err and "downloading tiny-ffhq (400 KB) from file://" in r.err
    cached = tmp_path / "cache" / "gan-cli" / "pretrained" / "tiny-ffhq.safetensors"
    assert cached.is_file() and not (cached.parent / "downloads" / "ffhq.pkl").exists()
    sums = json.loads((cached.parent / "sha256.json").read_text())
    assert sums["tiny-ffhq"] == {"download": sha256(NVLABS_PKL), "converted": sha256(cached)}
    # second use: from the cache, the same images; mix, --init and eval-fid take the name too
    monkeypatch.setattr(pretrained, "urlopen", _no_network)
    assert cli("sample", "--weights", "tiny-ffhq", "--rows", "1", "--cols", "2", "--out", "b.png").code == 0
    assert Path("a.png").read_bytes() == Path("b.png").read_bytes()
    assert cli("mix", "--weights", "tiny-ffhq", "--row-seeds", "1", "--col-seeds", "2", "--out", "m.png").code == 0
    make_folder(tmp_path / "faces", n=4)
    r = cli("train", "stylegan2", "--data", "faces", "--init", "tiny-ffhq", "--steps", "1", "-b", "2", "--quiet")
    assert r.code == 0, r.err
    assert f"initialised G from {cached}" in r.err
    from gan_cli.metrics.sources import open_source

    assert open_source("tiny-ffhq", "B").kind == "checkpoint"


def test_family_default_is_used_only_without_a_local_run(cli, table):
    r = cli("sample", "stylegan2", "--rows", "1", "--cols", "1", "--out", "d.png")
    assert r.code == 0, r.err
    assert "no runs/stylegan2-*/ here: using the pretrained 'tiny-ffhq'" in r.err
    assert_clean_error(cli("sample", "dcgan"), 2, "no --weights given")  # no default for dcgan


def test_download_checked_against_the_first_one(cli, table, tmp_path):
    assert cli("sample", "--weights", "tiny-ffhq", "--out", "a.png").code == 0
    (tmp_path / "cache" / "gan-cli" / "pretrained" / "tiny-ffhq.safetensors").unlink()
    table.write_bytes(table.read_bytes() + b"tampered")  # the server now serves other bytes
    r = cli("sample", "--weights", "tiny-ffhq", "--out", "b.png")
    assert r.code == 1 and "sha256 differs from the one recorded on first download" in r.err, r.err
    assert not (tmp_path / "cache" / "gan-cli" / "pretrained" / "tiny-ffhq.safetensors").exists()


def test_cached_file_is_checked(cli, table, tmp_path):
    assert cli("sample", "--weights", "tiny-ffhq", "--out", "a.png").code == 0
    cached = tmp_path / "cache" / "gan-cli" / "pretrained" / "tiny-ffhq.safetensors"
    cached.write_bytes(cached.read_bytes()[:-1] + b"\0")
    r = cli("sample", "--weights", "tiny-ffhq", "--out", "b.png")
    assert r.code == 1 and "delete it to download tiny-ffhq again" in r.err, r.err


@pytest.mark.parametrize("how", ["env", "opener"])
def test_offline_names_the_url_and_the_convert_command(cli, table, monkeypatch, how):
    if how == "env":
        monkeypatch.setenv("GAN_CLI_OFFLINE", "1")
    else:
        def unreachable(*args, **kwargs):
            raise urllib.error.URLError("Name or service not known")

        monkeypatch.setattr(pretrained, "urlopen", unreachable)
    r = cli("sample", "--weights", "tiny-ffhq", "--out", "a.png")
    assert_clean_error(r, 2, f"fetch {table.as_uri()} by hand")
    assert "then run: gan convert ffhq.pkl " in r.err and "tiny-ffhq.safetensors --from nvlabs" in r.err
    assert r.err.count("error:") == 1


def test_models_pretrained_lists_the_table_with_licences(cli):
    r = cli("models", "--pretrained")
    assert r.code == 0
    assert "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/ffhq.pkl" in r.out
    assert "NON-COMMERCIAL" in r.out and "(default for stylegan2)" in r.out
    rows = json.loads(cli("models", "--pretrained", "--json").out)
    names = {row["name"]: row for row in rows}
    assert names["ffhq-1024"]["noncommercial"] and names["ffhq-1024"]["fmt"] == "nvlabs"
    assert names["photo2cartoon"]["fmt"] == "paddle" and names["photo2cartoon"]["default_for"] == "photo2cartoon"


def test_unknown_path_is_not_taken_for_a_name(cli, table):
    assert_clean_error(cli("sample", "--weights", "ffhq-2048"), 2, "no such run folder, checkpoint or pretrained name")
