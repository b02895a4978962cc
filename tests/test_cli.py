"""The CLI surface: help with examples everywhere, model listing, exit codes, man pages in step."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, assert_clean_error, run_gan

from gan_cli.cli import COMMAND_MODULES

COMMANDS = [m.replace("_", "-") for m in COMMAND_MODULES]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(cli, command):
    r = cli(command, "--help")
    assert r.code == 0, r.err
    assert "Example" in r.out and "gan " + command in r.out


def test_help_shows_square_brackets_that_rich_would_eat_as_markup(cli):
    from gan_cli.manpages import render_all

    r = cli("train", "--help", env={"COLUMNS": "300"})
    assert "gan-cli[tensorboard]" in r.out
    assert "gan\\-cli[tensorboard]" in render_all()["gan-train.1"]


def test_models_lists_families_with_task_kind(cli):
    r = cli("models")
    assert r.code == 0
    rows = {line.split()[0]: line.split()[1] for line in r.out.splitlines()}
    expected = {
        "gan": "noise",
        "dcgan": "noise",
        "lsgan": "noise",
        "wgan": "noise",
        "wgan-gp": "noise",
        "cgan": "class",
        "stylegan2": "noise",
        "pix2pix": "paired",
        "cyclegan": "unpaired",
    }
    assert expected.items() <= rows.items()
    from gan_cli.registry import FAMILIES

    assert rows == {name: cls.task for name, cls in FAMILIES.items()}
    data = json.loads(cli("models", "--json").out)
    assert {"z_dim", "n_critic", "gp_lambda"} <= set(next(d for d in data if d["name"] == "wgan-gp")["options"])


def test_unknown_model_lists_valid_ones(cli):
    r = cli("train", "dcgna", "--data", "mnist")
    assert_clean_error(r, 2, "did you mean dcgan")
    assert "wgan-gp" in r.err


def test_real_console_script_and_python_m(tmp_path):
    r = run_gan("--version")
    assert r.code == 0 and r.out.startswith("gan-cli ")
    r = run_gan("train", "nonsense", "--data", "mnist", cwd=tmp_path)
    assert_clean_error(r, 2, "unknown model")
    r = run_gan("sample", "dcgan", "--bogus-flag", cwd=tmp_path)
    assert r.code == 2 and "Traceback" not in r.err


def test_man_pages_are_in_step_with_the_cli():
    from gan_cli.manpages import render_all

    pages = render_all()
    for name, text in pages.items():
        path = ROOT / "man" / name
        assert path.exists(), f"man/{name} missing: run python -m gan_cli.manpages man/"
        assert path.read_text() == text, f"man/{name} drifted: run python -m gan_cli.manpages man/"
    assert {p.name for p in (ROOT / "man").glob("*.1")} == set(pages)
