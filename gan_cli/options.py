"""Family options: `-o key=value` on the command line, a dataclass in code, JSON in checkpoints.

Each field of a family's Options dataclass is declared with `option(default, help, ...)`, optionally with a
range (`min`, `max`) or a set of `choices`. Values are checked when parsed from the command line *and* when
read back from a checkpoint, so a tampered file gets the same clear message as a mistyped flag.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field
from typing import Any

from gan_cli.errors import BadInput


def option(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A family option with its help line (shown by `gan models --options` and in errors) and valid range."""
    meta = {"help": help, "min": min, "max": max, "choices": choices}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def describe_range(f: dataclasses.Field) -> str:
    m = f.metadata
    if m.get("choices"):
        return "one of " + ", ".join(map(str, m["choices"]))
    lo, hi = m.get("min"), m.get("max")
    if lo is not None and hi is not None:
        return f"{lo} to {hi}"
    if lo is not None:
        return f">= {lo}"
    if hi is not None:
        return f"<= {hi}"
    return ""


def describe(options_cls: type) -> list[tuple[str, str, str]]:
    """(key, default, help with range) for each option."""
    rows = []
    for f in dataclasses.fields(options_cls):
        rng = describe_range(f)
        text = f.metadata.get("help", "") + (f" ({rng})" if rng else "")
        rows.append((f.name, repr(_default(f)), text))
    return rows


def _convert(raw: str, default: Any, key: str) -> Any:
    try:
        if isinstance(default, bool):
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
        if isinstance(default, (tuple, list)):
            if not raw.strip():
                return type(default)()
            kind = type(default[0]) if default else str
            return type(default)(kind(v) for v in raw.split(","))
    except ValueError:
        raise BadInput(f"-o {key}={raw}: expected a {type(default).__name__}") from None
    return raw


def _check(f: dataclasses.Field, value: Any, where: str) -> Any:
    """Type and range check of one value (from the command line or a checkpoint)."""
    default = _default(f)
    m = f.metadata
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif isinstance(default, (tuple, list)):
        ok = isinstance(value, (tuple, list))
        value = type(default)(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise BadInput(f"{where}{f.name}={value!r}: expected a {type(default).__name__}")
    items = value if isinstance(value, (tuple, list)) else (value,)
    for v in items:
        if m.get("choices") and v not in m["choices"]:
            raise BadInput(f"{where}{f.name}={v!r}: must be {describe_range(f)}")
        lo, hi = m.get("min"), m.get("max")
        if isinstance(v, (int, float)) and ((lo is not None and v < lo) or (hi is not None and v > hi)):
            raise BadInput(f"{where}{f.name}={v}: must be {describe_range(f)}")
    return value


def parse(options_cls: type, family: str, pairs: list[str] | None, base: dict[str, Any] | None = None) -> Any:
    """Build the Options from `-o key=value` strings over `base` (a checkpoint's), strictly and range-checked."""
    fields = {f.name: f for f in dataclasses.fields(options_cls)}
    values: dict[str, Any] = dict(base or {})
    unknown_base = set(values) - set(fields)
    if unknown_base:
        raise BadInput(f"checkpoint options {sorted(unknown_base)} are not options of {family}")
    for name, value in values.items():
        values[name] = _check(fields[name], value, "checkpoint option ")
    for pair in pairs or []:
        if "=" not in pair:
            raise BadInput(f"-o {pair}: expected key=value")
        key, raw = pair.split("=", 1)
        name = key.strip().replace("-", "_")
        if name not in fields:
            valid = ", ".join(fields) or "(none)"
            raise BadInput(f"unknown option {key.strip()!r} for {family}; valid options: {valid}")
        values[name] = _check(fields[name], _convert(raw, _default(fields[name]), key.strip()), "-o ")
    return options_cls(**values)
