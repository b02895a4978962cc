"""Man pages generated from the CLI itself, so they cannot drift (a test regenerates and compares).

python -m gan_cli.manpages man/      # rewrite man/gan.1 and man/gan-<command>.1
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from gan_cli import __version__

_MARKUP = re.compile(r"(?<!\\)\[/?(bold|italic|dim|cyan|green|red|yellow|b|i)?\]")


def _plain(text: str) -> str:
    return _MARKUP.sub("", text or "").replace("\\[", "[").strip()  # rich markup, and its \[ escape


def _esc(text: str) -> str:
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in out.splitlines())


def _split_examples(help_text: str) -> tuple[str, list[str]]:
    text = _plain(help_text)
    if "Examples" in text or "Example" in text:
        head, _, tail = re.split(r"^(Examples?)\s*$", text, maxsplit=1, flags=re.M)
        return head.strip(), [line.strip() for line in tail.strip().splitlines() if line.strip()]
    return text, []


def _page(name: str, summary: str, synopsis: str, description: str, params: list, examples: list[str]) -> str:
    lines = [
        f'.TH "{name.upper()}" 1 "" "gan-cli {__version__}" "gan-cli manual"',
        ".SH NAME",
        f"{_esc(name)} \\- {_esc(summary)}",
        ".SH SYNOPSIS",
        f".B {_esc(synopsis)}",
        ".SH DESCRIPTION",
        _esc(description),
    ]
    args = [p for p in params if p.param_type_name == "argument"]
    opts = [p for p in params if p.param_type_name == "option"]
    if args:
        lines.append(".SH ARGUMENTS")
        for p in args:
            lines += [".TP", f".B {_esc(p.name.upper())}", _esc(_plain(getattr(p, "help", "") or ""))]
    if opts:
        lines.append(".SH OPTIONS")
        for p in opts:
            flags = ", ".join(p.opts + list(p.secondary_opts))
            helptext = _plain(getattr(p, "help", "") or "")
            if p.default not in (None, False, (), []) and not getattr(p, "is_flag", False):
                helptext += f" [default: {p.default}]"
            lines += [".TP", f".B {_esc(flags)}", _esc(helptext)]
    if examples:
        lines += [".SH EXAMPLES", ".nf"] + [_esc(e) for e in examples] + [".fi"]
    lines += [".SH SEE ALSO", "gan(1)", ""]
    return "\n".join(lines)


def render_all() -> dict[str, str]:
    from gan_cli.cli import app

    root = typer.main.get_command(app)
    pages = {}
    commands = root.commands  # type: ignore[attr-defined]
    for cname, cmd in commands.items():
        desc, examples = _split_examples(cmd.help or "")
        summary = desc.split("\n", 1)[0].rstrip(".")
        usage = " ".join(cmd.collect_usage_pieces(typer.Context(cmd)))  # type: ignore[arg-type]
        pages[f"gan-{cname}.1"] = _page(f"gan-{cname}", summary, f"gan {cname} {usage}", desc, cmd.params, examples)
    listing = "\n".join(
        f".TP\n.B gan {_esc(n)}\n{_esc(_split_examples(c.help or '')[0].split(chr(10))[0])}"
        for n, c in commands.items()
    )
    root_desc = _plain(root.help or "") + "\n.SH COMMANDS\n" + listing
    pages["gan.1"] = _page(
        "gan",
        "train, sample and evaluate GANs",
        "gan COMMAND [OPTIONS] [ARGS]...",
        root_desc,
        [],
        [_plain(root.epilog or "").removeprefix("Example: ")],
    )
    return pages


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (out / name).write_text(text, encoding="utf-8")
        print(out / name)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "man")
