"""Model families, registered by name.

A family is one class in one file under gan_cli/models/: it declares its task kind, its options
(a dataclass: every field is a `-o key=value` option, with a one-line help in its metadata), builds
its networks and optimizers, and lists its training *phases as data* (which optimizer, how many
repeats per step, which loss). The one training loop in gan_cli/train/ runs every family the same
way. See gan_cli/models/template.md for the contract, step by step.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from gan_cli.errors import BadInput

TASKS = {
    "noise": "unconditional: noise -> image",
    "class": "class-conditional: (noise, class) -> image",
    "paired": "paired translation: image A -> image B (aligned pairs)",
    "unpaired": "unpaired translation: domain A <-> domain B",
}

Batch = dict[str, torch.Tensor]  # "x": images in [-1, 1], "y": class labels (class task)
Losses = dict[str, torch.Tensor]  # must hold "loss" (what is backpropagated); others are logged


@dataclass
class Phase:
    """One entry of a training step: e.g. 5 x ("D", critic loss) then 1 x ("G", generator loss)."""

    name: str  # the network trained in this phase, and the key of its optimizer
    loss: Callable[[Batch, dict[str, Any]], Losses]  # (batch, step cache) -> losses
    repeat: int = 1  # how many times per step, each on a fresh batch (WGAN critic: 5)
    freeze: tuple[str, ...] = ()  # nets whose weights need no gradient in this phase (D while training G)
    after_step: Callable[[], None] | None = None  # e.g. WGAN weight clipping
    # Whether the phase draws real data. False (a noise-to-image generator): it gets the step's last
    # batch again, for its size, device and labels, and the data cursor does not move.
    data: bool = True


def option(default: Any, help: str) -> Any:
    """A family option with its help line (shown by `gan models --options` and in errors)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


class Family:
    """Base class of a model family. Subclasses set the ClassVars and implement build/phases/generate."""

    name: ClassVar[str]
    task: ClassVar[str] = "noise"
    summary: ClassVar[str] = ""
    Options: ClassVar[type] = type(None)
    # Training defaults for `gan train` when the user gives no flag.
    default_size: ClassVar[int] = 32
    default_batch_size: ClassVar[int] = 64
    default_lr: ClassVar[float] = 2e-4
    default_steps: ClassVar[int] = 2000
    sizes: ClassVar[tuple[int, ...]] = (32, 64)  # image sizes the architecture supports

    def __init__(self, opts: Any, size: int, channels: int, num_classes: int = 0) -> None:
        if size not in self.sizes:
            raise BadInput(f"{self.name} supports image sizes {', '.join(map(str, self.sizes))}, not {size}")
        if channels not in (1, 3):
            raise BadInput(f"{self.name}: images must have 1 or 3 channels, not {channels}")
        if self.task == "class" and num_classes < 2:
            raise BadInput(
                f"{self.name} is class-conditional: --data must be 'mnist' or a folder of class subfolders "
                "(one subfolder per class, at least two)"
            )
        self.opts = opts
        self.size = size
        self.channels = channels
        self.num_classes = num_classes
        self.nets: dict[str, nn.Module] = {}
        # Set by the training loop: the generator every random draw of a loss comes from, so that a
        # resumed run continues exactly (its state is saved in full checkpoints).
        self.rng: torch.Generator = torch.Generator().manual_seed(0)

    # --- what every family implements ---------------------------------------------------------
    def build(self) -> dict[str, nn.Module]:
        """Create the networks (with their init). Must include "G", the network `gan sample` runs."""
        raise NotImplementedError

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per trained network, keyed like the phases."""
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def latent_dim(self) -> int:
        raise NotImplementedError

    def generate(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] from latents z (N, latent_dim) and, for class tasks, labels y (N,)."""
        raise NotImplementedError

    # --- shared helpers --------------------------------------------------------------------------
    def sample_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Standard normal latents, drawn on the CPU so they are the same on every device."""
        return torch.randn(n, self.latent_dim(), generator=generator)

    def batches_per_step(self) -> int:
        """Real batches drawn per step: what img/s and epochs count (images shown to D)."""
        return sum(p.repeat for p in self.phases() if p.data)


FAMILIES: dict[str, type[Family]] = {}


def register(cls: type[Family]) -> type[Family]:
    """Class decorator: make a family available to every command by its `name`."""
    if cls.task not in TASKS:
        raise ValueError(f"{cls.__name__}: task must be one of {sorted(TASKS)}")
    if not dataclasses.is_dataclass(cls.Options):
        raise TypeError(f"{cls.__name__}.Options must be a dataclass")
    FAMILIES[cls.name] = cls
    return cls


def _load_all() -> None:
    import gan_cli.models  # noqa: F401  (imports every module in the package, which registers)


def family_names() -> list[str]:
    _load_all()
    return sorted(FAMILIES)


def get_family(name: str) -> type[Family]:
    _load_all()
    key = name.strip().lower().replace("_", "-")
    if key not in FAMILIES:
        close = difflib.get_close_matches(key, FAMILIES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise BadInput(f"unknown model {name!r}{hint}; valid models: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[key]


# --- options: -o key=value ------------------------------------------------------------------------
def options_help(cls: type[Family]) -> list[tuple[str, str, str]]:
    """(key, default, help) for each option of a family."""
    rows = []
    for f in dataclasses.fields(cls.Options):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        rows.append((f.name, repr(default), f.metadata.get("help", "")))
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
            return type(default)(type(default[0])(v) for v in raw.split(",")) if default else type(default)()
    except ValueError:
        raise BadInput(f"-o {key}={raw}: expected a {type(default).__name__}") from None
    return raw


def parse_options(cls: type[Family], pairs: list[str] | None, base: dict[str, Any] | None = None) -> Any:
    """Build the family's Options from `-o key=value` strings, strictly: unknown keys are errors."""
    fields = {f.name: f for f in dataclasses.fields(cls.Options)}
    values: dict[str, Any] = dict(base or {})
    unknown_base = set(values) - set(fields)
    if unknown_base:
        raise BadInput(f"checkpoint options {sorted(unknown_base)} are not options of {cls.name}")
    defaults = dataclasses.asdict(cls.Options())
    for pair in pairs or []:
        if "=" not in pair:
            raise BadInput(f"-o {pair}: expected key=value")
        key, raw = pair.split("=", 1)
        name = key.strip().replace("-", "_")
        if name not in fields:
            valid = ", ".join(k for k, _, _ in options_help(cls)) or "(none)"
            raise BadInput(f"unknown option {key.strip()!r} for {cls.name}; valid options: {valid}")
        values[name] = _convert(raw, defaults[name], key.strip())
    for name, value in values.items():
        if isinstance(defaults[name], tuple) and isinstance(value, list):
            values[name] = tuple(value)
    return cls.Options(**values)
