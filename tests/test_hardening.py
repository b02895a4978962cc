"""Regression tests for issue 13's hardening items outside the training loop: symlink loops, terminal
escapes, decompression bombs and stray warnings, a closed stdout or broken pipe, one-line usage errors.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from conftest import FACES, Result, bomb_png, run_gan
from PIL import Image

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io import checkpoint as ck
from gan_cli.io import images

GAN = [str(Path(sys.executable).with_name("gan"))]


def _images(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4), (200, 30, 30)).save(folder / name)
    return folder


def _relative(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


# --- 1. symbolic links: each real folder and file once -------------------------------------------
@pytest.mark.parametrize("loop", ["again -> .", "sub/up -> .."])
def test_a_symlink_loop_lists_each_image_once_and_says_so(tmp_path, capsys, loop):
    data = _images(tmp_path / "data", "a.png", "b.png", "sub/c.png", "sub/d.png")
    link, target = loop.split(" -> ")
    os.symlink(target, data / link)
    found = images.list_images(data)
    assert _relative(found, data) == ["a.png", "b.png", "sub/c.png", "sub/d.png"]  # 164 before, for 4
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "1 folder(s) or image(s) reached again" in err


def test_two_loops_together_finish_quickly(tmp_path):
    """Both loops at once made the old walk exponential (a hang, then 18 GiB): in a subprocess with a timeout."""
    data = _images(tmp_path / "data", "a.png", "sub/c.png")
    os.symlink(".", data / "again")
    os.symlink("..", data / "sub" / "up")
    code = "import sys; from gan_cli.io.images import list_images; print(len(list_images(sys.argv[1])))"
    p = subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout == "2\n", p.stderr


def test_links_out_of_the_folder_are_followed_and_real_paths_preferred(tmp_path, capsys):
    data = _images(tmp_path / "data", "real/a.png")
    _images(tmp_path / "elsewhere", "x.png", "deeper/y.png")
    os.symlink("../elsewhere", data / "ext")  # outside the folder: read, once
    os.symlink("real", data / "alias")  # a second path to real/: skipped, real/ kept
    os.symlink("real/a.png", data / "a_link.png")  # a second name for real/a.png: skipped
    os.symlink("missing.png", data / "broken.png")  # kept: reading it reports it as unreadable
    found = images.list_images(data)
    assert _relative(found, data) == ["broken.png", "ext/deeper/y.png", "ext/x.png", "real/a.png"]
    assert "2 folder(s) or image(s)" in capsys.readouterr().err


def test_prep_reads_a_looped_folder_once(cli, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    shutil.copy(FACES / "astronaut.png", data / "astronaut.png")
    os.symlink(".", data / "again")
    r = cli("prep", data, tmp_path / "out")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [str(tmp_path / "out" / "astronaut.png")]
    assert "prep: 1 done" in r.err and "reached again through symbolic links" in r.err


# --- 2. terminal escapes -----------------------------------------------------------------------------
EVIL = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H\nfamily     forged\u202e\x9b"


def _checkpoint(path: Path, **meta: object) -> Path:
    base = {"kind": "generator", "family": "dcgan", "task": "noise", "size": 32, "channels": 1, "step": 1}
    return ck.save(path, {"G.w": torch.zeros(2)}, {**base, **meta})


def test_info_escapes_control_characters_from_the_file(cli, tmp_path):
    ckpt = _checkpoint(tmp_path / "evil.safetensors", data=EVIL, options={"z_dim": EVIL}, class_names=[EVIL])
    r = cli("info", ckpt)
    assert r.code == 0, r.err
    assert not any(c in r.out for c in "\x1b\x07\x9b\u202e")
    assert len(r.out.splitlines()) == 9  # no forged line
    assert "data       \\x1b]0;pwned\\x07\\x1b[2J\\x1b[1;1H\\x0afamily     forged\\u202e\\x9b" in r.out
    assert "\\x1b" in r.out.splitlines()[4] and "z_dim=\\x1b" in r.out  # classes and options too
    # --json stays exact, as JSON escapes it
    import json

    assert json.loads(cli("info", ckpt, "--json").out)["data"] == EVIL


def test_file_names_in_errors_and_warnings_are_escaped(cli, tmp_path):
    r = cli("info", tmp_path / "x\x1b[2J.safetensors")
    assert r.code == 2 and "\x1b" not in r.err and "x\\x1b[2J.safetensors: no such checkpoint" in r.err
    data = _images(tmp_path / "data", "ok.png")
    (data / "bad\x1b]0;t\x07.png").write_bytes(b"not a png")
    r = cli("prep", data, tmp_path / "out")
    assert "\x1b" not in r.err and "\x07" not in r.err and "bad\\x1b]0;t\\x07.png" in r.err


def test_data_on_stdout_is_escaped_on_a_terminal_only(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, want in ((Terminal(), "a\\x1b[2Jb\\udcff\n{\n}\n"), (io.StringIO(), "a\x1b[2Jb\udcff\n{\n}\n")):
        monkeypatch.setattr(sys, "stdout", stream)
        console.out("a\x1b[2Jb\udcff\n{\n}")  # a pipe gets the exact text; lines stay lines
        assert stream.getvalue() == want.replace("\\udcff", "\\xff")


def test_printable_keeps_text_readable():
    assert console.printable("café ok: 50%") == "café ok: 50%"
    assert console.printable("\x00\t\x7f\x85\u2066") == "\\x00\\x09\\x7f\\x85\\u2066"


# --- 3. decompression bombs and warnings -------------------------------------------------------------
def test_a_decompression_bomb_is_bad_input_not_a_crash(tmp_path):
    with pytest.raises(BadInput, match="too large to read safely"):
        images.load_image(bomb_png(tmp_path / "bomb.png"))


def test_prep_skips_and_counts_a_decompression_bomb(cli, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    shutil.copy(FACES / "astronaut.png", data / "astronaut.png")
    bomb_png(data / "bomb.png")
    r = cli("prep", data, tmp_path / "out")
    assert r.code == 1, r.err  # an input was skipped
    assert "internal error" not in r.err and "bomb.png" in r.err
    assert "1 done, 1 skipped (0 without a face, 1 unreadable)" in r.err


def test_warnings_are_one_console_line_each_on_the_real_entry_point(tmp_path):
    """PIL warns of images over MAX_IMAGE_PIXELS (here lowered to 3,000): one `warning:` line, no raw
    `file:line: DecompressionBombWarning` and source line."""
    data = tmp_path / "in"
    data.mkdir()
    for i in range(2):
        Image.new("RGB", (64, 64), (i * 100, 50, 50)).save(data / f"{i}.png")  # 4,096 px each
    code = (
        "import sys; from PIL import Image; Image.MAX_IMAGE_PIXELS = 3000; "
        "from gan_cli.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = [sys.executable, "-c", code, "prep", str(data), str(tmp_path / "out")]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    r = Result(p.returncode, p.stdout, p.stderr)
    assert r.code == 1, r.err  # no faces in flat squares
    assert "DecompressionBombWarning" not in r.err and "warnings.warn" not in r.err, r.err
    assert [line for line in r.err.splitlines() if "Image size" in line] == [
        "warning: Image size (4096 pixels) exceeds limit of 3000 pixels, could be decompression bomb DOS attack."
    ]


def test_routed_warnings_say_each_text_once_and_restore_the_hook(capsys):
    before = warnings.showwarning
    with console.routed_warnings(), warnings.catch_warnings():
        warnings.simplefilter("always")
        for _ in range(3):
            warnings.warn("torch says\n  something", UserWarning, stacklevel=1)
        warnings.warn("another", UserWarning, stacklevel=1)
    assert capsys.readouterr().err == "warning: torch says something\nwarning: another\n"
    assert warnings.showwarning is before


# --- 4. a closed stdout, a broken pipe ---------------------------------------------------------------
def test_closed_stdout_is_one_clear_error():
    p = subprocess.run(["bash", "-c", 'exec "$0" models >&-', *GAN], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert p.stderr == "error: cannot write the output: stdout is closed\n"


def test_a_reader_that_goes_away_ends_the_command_quietly():
    p = subprocess.Popen([*GAN, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # before gan writes anything: its first write meets EPIPE
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 1 and err == ""


def test_models_into_head():
    p = subprocess.run(
        ["bash", "-c", '"$0" models | head -c1; echo " ${PIPESTATUS[0]}"', *GAN], capture_output=True, text=True
    )
    assert p.stdout[1:] in (" 0\n", " 1\n") and p.stderr == ""  # one byte, then the exit status


# --- 5. usage errors: one line -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "dcgan", "--frobnicate"], "error: No such option: --frobnicate (see gan train --help)"),
        (["info", "--json"], "error: Missing argument 'ckpt' (see gan info --help)"),
        (["sample", "--rows", "x"], "error: Invalid value for '--rows': "),
        (["prep", "a", "b", "--size", "8"], "error: Invalid value for '--size': "),
        (["eval-fid", "a"], "error: Missing argument 'B' (see gan eval-fid --help)"),
        (["--bogus"], "error: No such option: --bogus (see gan --help)"),
        (["nosuchcommand"], "error: No such command 'nosuchcommand' (see gan --help)"),
        (["models", "extra"], "error: Got unexpected extra argument"),
    ],
)
def test_usage_errors_are_one_error_line(cli, args, message):
    r = cli(*args)
    assert r.code == 2 and r.out == ""
    assert len(r.err.splitlines()) == 1 and r.err.startswith(message), r.err
    assert "╭" not in r.err and "Usage:" not in r.err


def test_help_is_unchanged_and_no_arguments_still_show_it(cli):
    r = cli("train", "--help")
    assert r.code == 0 and "Usage: gan train" in r.out and r.err == ""
    r = cli("info")
    assert r.code == 2 and "Usage: gan info" in r.out


def test_usage_error_through_the_console_script():
    r = run_gan("export", "--nope")
    assert r.code == 2 and r.err == "error: No such option: --nope (see gan export --help)\n"
