"""The family contract: what one file in gan_cli/models/ declares so that every command can use it by name.

A family declares its task kind and options, builds its networks and optimizers, and lists its training
*phases as data* (which loss, which optimizer, how often). The one training loop in gan_cli/train/ runs
every family the same way and knows nothing of any of them; `gan sample`, `translate`, `export` and
`eval-fid` go through the inference half of the contract (`inference`, `generate`/`translate`,
`sample_options`). gan_cli/models/template.md walks through it with gan_cli/models/gan.py as the example.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from gan_cli import options as _options
from gan_cli.errors import BadInput
from gan_cli.options import option  # noqa: F401  (re-exported: families declare options with it)

TASKS = {
    "noise": "unconditional: noise -> image",
    "class": "class-conditional: (noise, class) -> image",
    "paired": "paired translation: image A -> image B (aligned pairs)",
    "unpaired": "unpaired translation: domain A <-> domain B",
}
TRANSLATION = ("paired", "unpaired")

# A batch: "x" images in [-1, 1] (noise, class) and "y" labels (class); "A", "B" images (paired, unpaired).
Batch = dict[str, torch.Tensor]
Losses = dict[str, torch.Tensor]  # must hold "loss" (what is backpropagated); the others are logged


@dataclass
class Context:
    """What a loss or a schedule may know about the run. Built by the loop; read-only for families."""

    step: int = 0  # steps completed before this one (0 during the first step)
    seen: int = 0  # real images shown to D so far (NVlabs' cur_nimg)
    total_steps: int = 1  # the run's --steps
    batch_size: int = 0  # this step's global batch size
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    values: dict[str, float] = field(default_factory=dict)  # this step's schedule values (fade-in alpha, ...)
    cache: dict[str, Any] = field(default_factory=dict)  # scratch shared by the phases of one step
    phase: Phase | None = None  # the phase being run

    @property
    def kimg(self) -> float:
        return self.seen / 1000.0


@dataclass
class Schedule:
    """Per-step settings, a pure function of (step, images seen): resume needs no state of its own."""

    lr_scale: float | dict[str, float] = 1.0  # multiplies each optimizer's initial lr (per optimizer key if a dict)
    batch_size: int | None = None  # global batch size of this step (None: --batch-size)
    values: dict[str, float] = field(default_factory=dict)  # family values, passed in Context.values and logged


@dataclass
class Phase:
    """One entry of a training step, e.g. 5 x ("D", critic loss) then 1 x ("G", generator loss)."""

    name: str  # logged under this name ("D", "Dreg", "G", ...)
    loss: Callable[[Batch, Context], Losses]  # (batch, context) -> losses
    opt: str = ""  # the optimizer it steps (default: `name`); several phases may share one
    every: int = 1  # runs on steps where step % every == 0 (lazy regularisation: 16); else nothing at all
    repeat: int = 1  # times per step it runs, each on a fresh batch if `data` (WGAN critic: 5)
    freeze: tuple[str, ...] = ()  # nets whose weights need no gradient in this phase (D while training G)
    after_step: Callable[[], None] | None = None  # after each optimizer step (WGAN weight clipping)
    # Whether the phase draws a fresh real batch. False: it gets the step's last batch again (for its size,
    # labels or, for a regulariser, the same reals), and the data cursor does not move.
    data: bool = True

    def __post_init__(self) -> None:
        self.opt = self.opt or self.name
        if self.every < 1 or self.repeat < 1:
            raise ValueError(f"phase {self.name}: every and repeat must be >= 1")

    def runs_at(self, step: int) -> bool:
        return step % self.every == 0


@dataclass
class EMA:
    """An exponential moving average of a network's weights (NVlabs StyleGAN2-ADA's G_ema)."""

    net: str = "G"  # averaged into "<net>_ema", used for previews, sample, export and eval-fid
    half_life_kimg: float = 10.0  # half-life of the average, in thousands of images
    rampup: float | None = 0.05  # early on, the half-life is at most this fraction of the images seen


@dataclass
class Augment:
    """Training-time augmentation, drawn from the data cursor (so it is seeded and resumable)."""

    load_ratio: float = 1.0  # images are stored at round(size * load_ratio) and randomly cropped to size
    flip: bool = False  # random horizontal flips (the same flip for both images of a pair)


@dataclass
class SampleOption:
    """An inference-time option that `gan sample` / `eval-fid` expose for families that declare it."""

    default: Any
    help: str
    choices: tuple[Any, ...] | None = None


class Family:
    """Base class of a model family. Subclasses set the ClassVars and implement the methods of their task."""

    name: ClassVar[str]
    task: ClassVar[str] = "noise"
    summary: ClassVar[str] = ""
    Options: ClassVar[type] = type(None)
    tiny: ClassVar[dict[str, Any]] = {}  # options small enough for a one-second test (the contract tests use them)
    # Training defaults for `gan train` when the user gives no flag.
    default_size: ClassVar[int] = 32
    default_batch_size: ClassVar[int] = 64
    default_lr: ClassVar[float] = 2e-4
    default_steps: ClassVar[int] = 2000
    sizes: ClassVar[tuple[int, ...]] = (32, 64)  # image sizes the architecture supports
    inference: ClassVar[tuple[str, ...]] = ("G",)  # the nets that sample/translate/export need
    sample_options: ClassVar[dict[str, SampleOption]] = {}  # e.g. truncation, noise_mode
    augment: ClassVar[Augment] = Augment()
    face_prep: ClassVar[bool] = False  # `gan translate` runs `gan prep` first (photo2cartoon: aligned faces)

    def __init__(
        self, opts: Any, size: int, channels: int, num_classes: int = 0, in_channels: int | None = None
    ) -> None:
        if size not in self.sizes:
            raise BadInput(f"{self.name} supports image sizes {', '.join(map(str, self.sizes))}, not {size}")
        for c in (channels, in_channels or channels):
            if c not in (1, 3):
                raise BadInput(f"{self.name}: images must have 1 or 3 channels, not {c}")
        if self.task == "class" and num_classes < 2:
            raise BadInput(
                f"{self.name} is class-conditional: --data must be 'mnist' or a folder of class subfolders "
                "(one subfolder per class, at least two)"
            )
        self.opts = opts
        self.size = size
        self.channels = channels  # of the generated images (domain B for translation)
        self.in_channels = in_channels or channels  # of domain A (translation)
        self.num_classes = num_classes
        self.nets: dict[str, nn.Module] = {}
        # Tensors the family keeps across steps (path-length mean, image pools): saved in full checkpoints
        # and restored in place by the loop, so resume is exact.
        self.state: dict[str, torch.Tensor] = {}
        # Every random draw inside a loss comes from this generator; the loop seeds it per rank and saves it.
        self.rng: torch.Generator = torch.Generator().manual_seed(0)

    # --- training: what every family implements ------------------------------------------------
    def build(self) -> dict[str, nn.Module]:
        """Create the networks (with their init), store them in self.nets and return them."""
        raise NotImplementedError

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        """Optimizers by key; a phase names the one it steps. One optimizer may cover several nets."""
        raise NotImplementedError

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def schedule(self, ctx: Context) -> Schedule:
        """Per-step lr scale, batch size and family values, from ctx.step / ctx.seen alone."""
        return Schedule()

    def ema(self) -> EMA | None:
        """Turn on a weight average of a net (None: off)."""
        return None

    def prepare_training(self, device: torch.device) -> None:
        """Load what training needs besides self.nets and is not saved with them (photo2cartoon's frozen
        face-recognition net), onto `device`; BadInput if it cannot. Only the training loop calls it."""

    @classmethod
    def notes(cls, options: Mapping[str, Any]) -> list[str]:
        """One-line remarks that `gan info` shows about a checkpoint's options (a loss term on or off)."""
        return []

    # --- inference: noise and class tasks --------------------------------------------------------
    def latent_dim(self) -> int:
        raise NotImplementedError(f"{self.name} has no latent space")

    def sample_latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Standard normal latents, drawn on the CPU so they are the same on every device."""
        return torch.randn(n, self.latent_dim(), generator=generator)

    def generate(
        self, nets: Mapping[str, nn.Module], z: torch.Tensor, y: torch.Tensor | None = None, **opts: Any
    ) -> torch.Tensor:
        """Images in [-1, 1] from latents z (N, latent_dim) and, for class tasks, labels y (N,)."""
        raise NotImplementedError(f"{self.name} does not generate from noise")

    # --- inference: translation tasks -------------------------------------------------------------
    def translate(self, nets: Mapping[str, nn.Module], x: torch.Tensor, direction: str = "AtoB", **opts: Any):
        """Images in [-1, 1] of the other domain from x (N, C, H, W) in [-1, 1]."""
        raise NotImplementedError(f"{self.name} does not translate images")

    def directions(self) -> tuple[str, ...]:
        return ("AtoB", "BtoA") if self.task == "unpaired" else ("AtoB",)

    def size_multiple(self) -> int:
        """What image sides must be a multiple of (`translate --keep-size` pads to it): a U-Net's 2^depth."""
        return 1

    # --- previews: fixed inputs (saved in checkpoints) and the grid made of them -------------------
    def preview_inputs(self, batch: Batch | None, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The fixed inputs of the training previews: latents (and labels), or the first images of the data."""
        if self.task in TRANSLATION:
            assert batch is not None
            return {k: v[:n].cpu() for k, v in batch.items()}
        z = self.sample_latents(n, generator)
        if self.task == "class":
            return {"z": z, "y": (torch.arange(n) // 8) % self.num_classes}  # one row per class
        return {"z": z}

    def preview(self, nets: Mapping[str, nn.Module], fixed: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """(images, columns) of the preview grid: samples row by row, or input | output (| target) columns."""
        if self.task not in TRANSLATION:
            return self.generate(nets, fixed["z"], fixed.get("y")), 8
        cols = [fixed["A"], self.translate(nets, fixed["A"], "AtoB"), fixed["B"]]
        if "BtoA" in self.directions():
            cols.append(self.translate(nets, fixed["B"], "BtoA"))
        cols = [c.float().expand(-1, 3, -1, -1) if c.shape[1] == 1 else c.float() for c in cols]
        return torch.stack(cols, dim=1).flatten(0, 1), len(cols)

    # --- derived -----------------------------------------------------------------------------
    def inference_nets(self) -> dict[str, nn.Module]:
        """The nets that previews, sample, translate and export run: each one's EMA average where there is one."""
        return {n: self.nets.get(ema_name(n), self.nets[n]) for n in self.inference}

    def draws_per_step(self) -> float:
        """Fresh real batches per step, on average: what img/s and --epochs count (images shown to D)."""
        return sum(p.repeat / p.every for p in self.phases() if p.data)


class StyleBased:
    """A mix-in for style-based families (StyleGAN, StyleGAN2): what `gan mix` and `gan sample --space w`
    need: w+ latents in, images out, named layer ranges."""

    def num_ws(self) -> int:
        raise NotImplementedError

    def ws(self, nets, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        """z [N, z_dim] -> w+ [N, num_ws, w_dim], truncated towards the tracked mean of w."""
        raise NotImplementedError

    def synthesize(self, nets, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        raise NotImplementedError

    def style_ranges(self) -> dict[str, tuple[int, int]]:
        """Layers by the resolution they act on: coarse 4-8 px, middle 16-32 px, fine 64 px and up."""
        n = self.num_ws()
        return {"coarse": (0, min(4, n)), "middle": (min(4, n), min(8, n)), "fine": (min(8, n), n)}


def ema_name(net: str) -> str:
    return f"{net}_ema"


def inference_prefix(net: str, keys: Iterable[str]) -> str:
    """The tensor prefix that holds `net` for inference in a checkpoint: its EMA average if saved, else itself."""
    return ema_name(net) if any(k.startswith(ema_name(net) + ".") for k in keys) else net


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
    key = str(name).strip().lower().replace("_", "-")
    if key not in FAMILIES:
        close = difflib.get_close_matches(key, FAMILIES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise BadInput(f"unknown model {name!r}{hint}; valid models: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[key]


def parse_options(cls: type[Family], pairs: list[str] | None, base: dict[str, Any] | None = None) -> Any:
    """The family's Options from `-o key=value` strings over a checkpoint's, strictly and range-checked."""
    return _options.parse(cls.Options, cls.name, pairs, base)


def options_help(cls: type[Family]) -> list[tuple[str, str, str]]:
    """(key, default, help) for each option of a family."""
    return _options.describe(cls.Options)
