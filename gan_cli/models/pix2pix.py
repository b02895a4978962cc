"""pix2pix (Isola et al. 2017): paired translation with a U-Net generator and a PatchGAN on (input, output).

As junyanz/pytorch-CycleGAN-and-pix2pix's `pix2pix_model.py`: G maps A to B; D judges the channel
concatenation (A, B) patch by patch; D's loss is half the sum of its real and fake terms; G's loss
is the GAN term + lambda_l1 x L1(G(A), B). Adam 2e-4, betas (0.5, 0.999); weights ~ N(0, 0.02).
D steps first on a detached G(A), then G on the same G(A) through the updated D.
The networks are gan_cli/nets/junyanz.py's, whose state-dict keys are the reference's, so
`gan convert` turns published generator files into checkpoints of this family.

Learning rate: constant for `n_steps`, then linear decay to zero over `n_steps_decay` (by default
the two halves of --steps): the reference's epoch rule (`lambda_rule`) counted in steps, a pure
function of the step, so resume needs nothing saved.

Test-time mode (`test_mode`, and `gan translate --test-mode`): "eval" by default, deterministic and
independent of how images are batched. "reference" is what the reference's test.py does (no --eval):
dropout active and BatchNorm normalising with each image's own statistics (image by image, as its
batch size of 1 does); `gan convert` stores it for U-Net files, so converted pix2pix models behave as
published. "dropout" keeps dropout with the running statistics.

The shared pieces of pix2pix and CycleGAN (options, schedule, test modes) live here; cyclegan.py imports them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.errors import BadInput
from gan_cli.models import losses as L
from gan_cli.nets.junyanz import (
    NORMS,
    TEST_MODES,
    build_discriminator,
    build_generator,
    init_weights,
    required_multiple,
    set_test_mode,
)
from gan_cli.registry import Augment, Batch, Context, Family, Losses, Phase, SampleOption, Schedule, option, register

GENERATORS = ("unet_256", "unet_128", "unet_64", "unet_32", "resnet_9blocks", "resnet_6blocks", "resnet_3blocks")
DISCRIMINATORS = ("basic", "n_layers", "pixel")
GAN_MODES = ("vanilla", "lsgan")
NET_G_HELP = "generator (a U-Net needs sizes that are multiples of its number)"
GAN_MODE_HELP = "adversarial loss: vanilla (BCE) or lsgan (least squares)"
TEST_MODE = SampleOption(
    None, "eval, dropout or reference (dropout and per-image BatchNorm statistics, as junyanz's test.py)", TEST_MODES
)


@dataclass
class TranslationOptions:
    """What pix2pix and CycleGAN share (junyanz's option names)."""

    netG: str = option("unet_256", NET_G_HELP, choices=GENERATORS)
    netD: str = option("basic", "discriminator: basic (70x70 PatchGAN), n_layers, pixel", choices=DISCRIMINATORS)
    ngf: int = option(64, "generator width (channels of its first layer)", min=1, max=1024)
    ndf: int = option(64, "discriminator width (channels of its first layer)", min=1, max=1024)
    n_layers_D: int = option(3, "stride-2 layers of D when netD=n_layers", min=1, max=8)
    norm: str = option("batch", "normalisation layers", choices=NORMS)
    no_dropout: bool = option(False, "no dropout in the generator")
    gan_mode: str = option("vanilla", GAN_MODE_HELP, choices=GAN_MODES)
    beta1: float = option(0.5, "Adam beta1", min=0, max=1)
    n_steps: int = option(0, "steps at the initial learning rate (0: half of --steps)", min=0)
    n_steps_decay: int = option(0, "steps of linear decay to zero after them (0: the rest of --steps)", min=0)
    test_mode: str = option("eval", "default of gan translate --test-mode", choices=TEST_MODES)


@dataclass
class Pix2PixOptions(TranslationOptions):
    lambda_l1: float = option(100.0, "weight of the L1 term in G's loss", min=0)


def lr_scale(ctx: Context, n_steps: int, n_steps_decay: int) -> float:
    """The reference's linear rule per step: 1 for n steps, then 1 - k / (d + 1) after k more, never below 0."""
    total = ctx.total_steps
    n = n_steps or (max(total - n_steps_decay, 0) if n_steps_decay else total // 2)
    d = n_steps_decay or max(total - n, 0)
    return min(1.0, max(0.0, 1.0 - max(0, ctx.step + 1 - n) / (d + 1)))


@contextlib.contextmanager
def test_mode(nets: list[nn.Module], mode: str) -> Iterator[None]:
    """Run nets in one of set_test_mode's modes, then put every module's train flag back.

    In "reference" mode BatchNorm normalises with the batch's statistics; its momentum is 0 meanwhile,
    so the running statistics stay as they were (the reference would update them, to no effect on a run
    that translates image by image).
    """
    flags = [(m, m.training) for net in nets for m in net.modules()]
    bns = [m for net in nets for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in bns]
    try:
        for net in nets:
            set_test_mode(net, mode)
        if mode == "reference":
            for m in bns:
                m.momentum = 0.0
        yield
    finally:
        for m, flag in flags:
            m.training = flag
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum


def run_generator(net: nn.Module, x: torch.Tensor, mode: str, fmt: torch.memory_format) -> torch.Tensor:
    """G(x) in a test mode, net and x in memory format `fmt`; "reference" runs image by image, as the reference's
    batch size of 1 does.

    The layout is fixed by the caller because it picks the convolution kernels: a net reloaded from a file
    (contiguous) would otherwise differ from the trained one (channels-last) in the last bits. Dropout masks
    are drawn in memory order, so the dropout modes must run contiguous to draw the reference's masks.
    """
    net.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    with test_mode([net], mode):
        if mode == "reference":
            return torch.cat([net(x[i : i + 1]) for i in range(x.shape[0])])
        return net(x)


def layout_of(net: nn.Module) -> torch.memory_format:
    w = next((p for p in net.parameters() if p.dim() == 4), None)
    cl = w is not None and not w.is_contiguous() and w.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if cl else torch.contiguous_format


class JunyanzFamily(Family):
    """Checks and helpers of the pix2pix / CycleGAN families: sizes the generator can take, schedule, optimizers."""

    sizes = (32, 64, 128, 256, 512)
    default_size = 256
    default_batch_size = 1
    default_lr = 2e-4
    augment = Augment(load_ratio=286 / 256, flip=True)
    sample_options = {"test_mode": TEST_MODE}

    def __init__(self, opts, size: int, channels: int, num_classes: int = 0, in_channels: int | None = None) -> None:
        super().__init__(opts, size, channels, num_classes, in_channels)
        self.multiple = required_multiple({"name": opts.netG})
        if size % self.multiple:
            raise BadInput(
                f"{self.name}: netG {opts.netG} needs a size that is a multiple of {self.multiple}, not {size} "
                f"(pick -o netG=unet_{size} or a resnet_*)"
            )

    def layout(self, mode: str) -> torch.memory_format:
        """The memory format inference runs in: channels-last for U-Nets in eval mode (batch 4, one thread of a
        2.8 GHz Xeon: 0.20 s/image against 0.33 contiguous), contiguous for ResNets (1.34 s against 1.60) and
        for the dropout modes (see run_generator)."""
        unet = self.opts.netG.startswith("unet")
        return torch.channels_last if unet and mode == "eval" else torch.contiguous_format

    def run(self, net: nn.Module, x: torch.Tensor, test_mode: str | None) -> torch.Tensor:
        mode = "eval" if self._previewing else (test_mode or self.opts.test_mode)
        return run_generator(net, x, mode, self.layout(mode))

    _previewing = False

    def preview(self, nets, fixed):
        """Training previews: eval mode whatever test_mode says, and the nets keep the layout training gave them."""
        layouts = {k: layout_of(n) for k, n in nets.items()}
        self._previewing = True
        try:
            return super().preview(nets, fixed)
        finally:
            self._previewing = False
            for k, n in nets.items():
                n.to(memory_format=layouts[k])

    def size_multiple(self) -> int:
        """What translation pads H and W up to (the generator's need), so any input size comes back whole."""
        return self.multiple

    def generator(self, in_ch: int, out_ch: int) -> nn.Module:
        o = self.opts
        net = build_generator(o.netG, in_ch, out_ch, o.ngf, o.norm, not o.no_dropout)
        init_weights(net)
        return net

    def discriminator(self, in_ch: int) -> nn.Module:
        o = self.opts
        net = build_discriminator(o.netD, in_ch, o.ndf, o.n_layers_D, o.norm)
        init_weights(net)
        return net

    def adam(self, nets: list[nn.Module], lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam([p for n in nets for p in n.parameters()], lr=lr, betas=(self.opts.beta1, 0.999))

    def schedule(self, ctx: Context) -> Schedule:
        scale = lr_scale(ctx, self.opts.n_steps, self.opts.n_steps_decay)
        return Schedule(lr_scale=scale, values={"lr_scale": scale})

    def gan(self, scores: torch.Tensor, real: bool) -> torch.Tensor:
        return L.to_target(scores, real, self.opts.gan_mode)


@register
class Pix2Pix(JunyanzFamily):
    name = "pix2pix"
    task = "paired"
    summary = "pix2pix: U-Net generator, PatchGAN on (input, output), GAN + 100 x L1 (Isola et al. 2017)"
    Options = Pix2PixOptions
    tiny = {"netG": "unet_32", "ngf": 2, "ndf": 2}
    default_steps = 20000

    def build(self) -> dict[str, nn.Module]:
        self.nets = {"G": self.generator(self.in_channels, self.channels)}
        self.nets["D"] = self.discriminator(self.in_channels + self.channels)
        return self.nets

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.adam([self.nets["G"]], lr), "D": self.adam([self.nets["D"]], lr)}

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step), Phase("G", self.g_step, freeze=("D",), data=False)]

    def translate(self, nets, x: torch.Tensor, direction: str = "AtoB", test_mode: str | None = None, **opts):
        return self.run(nets["G"], x, test_mode)

    def d_step(self, batch: Batch, ctx: Context) -> Losses:
        A, B, D = batch["A"], batch["B"], self.nets["D"]
        fake = self.nets["G"](A)
        ctx.cache["fake"] = fake  # G's phase reuses it: one G forward per step, as the reference
        fake_loss = self.gan(D(torch.cat([A, fake.detach()], 1)), False)
        real_loss = self.gan(D(torch.cat([A, B], 1)), True)
        return {"loss": 0.5 * (fake_loss + real_loss), "real": real_loss.detach(), "fake": fake_loss.detach()}

    def g_step(self, batch: Batch, ctx: Context) -> Losses:
        A, B = batch["A"], batch["B"]
        fake = ctx.cache.pop("fake")
        gan = self.gan(self.nets["D"](torch.cat([A, fake], 1)), True)
        l1 = (fake - B).abs().mean() * self.opts.lambda_l1
        return {"loss": gan + l1, "gan": gan.detach(), "L1": l1.detach()}
