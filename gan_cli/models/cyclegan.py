"""CycleGAN (Zhu et al. 2017): unpaired translation with two generators held together by cycle consistency.

As junyanz/pytorch-CycleGAN-and-pix2pix's `cycle_gan_model.py`: G_A maps A to B and G_B maps B to A
(ResNet generators, instance norm); D_A judges domain B (real B against G_A's fakes), D_B judges
domain A. G's loss: LSGAN terms for both generators + cycle L1 (lambda_A, lambda_B: ||G_B(G_A(A)) - A||
and ||G_A(G_B(B)) - B||) + identity L1 (lambda_identity x lambda_B x ||G_A(B) - B||, and the same for
G_B). D's loss: half the sum of real and fake terms, each D on fakes drawn from a pool of the last 50
generated images (Shrivastava et al.): once the pool is full, each new fake is, with probability 1/2,
swapped for a random pooled one. One Adam over both generators, one over both discriminators; G
steps first, then D on G's fakes of the same step.

The pools are family state (`pool_A`, `pool_B`: tensors saved in full checkpoints) and their draws
come from the family's generator, so resume is exact. The learning-rate schedule is pix2pix.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.errors import BadInput
from gan_cli.models import losses as L
from gan_cli.models.pix2pix import (
    GAN_MODE_HELP,
    GAN_MODES,
    GENERATORS,
    NET_G_HELP,
    JunyanzFamily,
    TranslationOptions,
)
from gan_cli.nets.junyanz import NORMS
from gan_cli.registry import Batch, Context, Losses, Phase, option, register


@dataclass
class CycleGANOptions(TranslationOptions):
    netG: str = option("resnet_9blocks", NET_G_HELP, choices=GENERATORS)
    norm: str = option("instance", "normalisation layers", choices=NORMS)
    no_dropout: bool = option(True, "no dropout in the generators")
    gan_mode: str = option("lsgan", GAN_MODE_HELP, choices=GAN_MODES)
    lambda_A: float = option(10.0, "weight of the cycle loss A -> B -> A", min=0)
    lambda_B: float = option(10.0, "weight of the cycle loss B -> A -> B", min=0)
    lambda_identity: float = option(0.5, "identity loss, as a fraction of lambda_A / lambda_B (0: off)", min=0)
    pool_size: int = option(50, "fakes kept per domain for the discriminators (0: no pool)", min=0, max=10000)


@register
class CycleGAN(JunyanzFamily):
    name = "cyclegan"
    task = "unpaired"
    summary = "CycleGAN: two ResNet generators, cycle + identity losses, LSGAN, image pools (Zhu et al. 2017)"
    Options = CycleGANOptions
    tiny = {"netG": "resnet_3blocks", "ngf": 2, "ndf": 2, "lambda_identity": 0.0, "pool_size": 3}
    default_steps = 40000
    inference = ("G_A", "G_B")

    def __init__(self, opts, size: int, channels: int, num_classes: int = 0, in_channels: int | None = None) -> None:
        super().__init__(opts, size, channels, num_classes, in_channels)
        if opts.lambda_identity > 0 and self.in_channels != self.channels:
            raise BadInput(
                f"cyclegan: the identity loss needs domains with the same channels (A has {self.in_channels}, "
                f"B has {self.channels}): add -o lambda_identity=0"
            )

    def build(self) -> dict[str, nn.Module]:
        a, b = self.in_channels, self.channels
        self.nets = {"G_A": self.generator(a, b), "G_B": self.generator(b, a)}  # the reference's creation order
        self.nets.update(D_A=self.discriminator(b), D_B=self.discriminator(a))
        s = self.size
        self.state = {"pool_A": torch.empty(0, a, s, s), "pool_B": torch.empty(0, b, s, s)}  # filled by query()
        return self.nets

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        n = self.nets
        return {"G": self.adam([n["G_A"], n["G_B"]], lr), "D": self.adam([n["D_A"], n["D_B"]], lr)}

    def phases(self) -> list[Phase]:
        return [Phase("G", self.g_step, freeze=("D_A", "D_B")), Phase("D", self.d_step, data=False)]

    def translate(self, nets, x: torch.Tensor, direction: str = "AtoB", test_mode: str | None = None, **opts):
        net = nets["G_A"] if direction == "AtoB" else nets["G_B"]
        return self.run(net, x, test_mode)

    # --- training -----------------------------------------------------------------------------
    def g_step(self, batch: Batch, ctx: Context) -> Losses:
        o, n = self.opts, self.nets
        A, B = batch["A"], batch["B"]
        fake_B = n["G_A"](A)
        rec_A = n["G_B"](fake_B)
        fake_A = n["G_B"](B)
        rec_B = n["G_A"](fake_A)
        out: Losses = {}
        total = torch.zeros((), device=A.device)
        if o.lambda_identity > 0:
            out["idt_A"] = L.identity(B, n["G_A"](B)) * o.lambda_B * o.lambda_identity
            out["idt_B"] = L.identity(A, n["G_B"](A)) * o.lambda_A * o.lambda_identity
            total = out["idt_A"] + out["idt_B"]
        out["G_A"] = self.gan(n["D_A"](fake_B), True)
        out["G_B"] = self.gan(n["D_B"](fake_A), True)
        out["cycle_A"] = L.cycle(A, rec_A) * o.lambda_A
        out["cycle_B"] = L.cycle(B, rec_B) * o.lambda_B
        total = total + out["G_A"] + out["G_B"] + out["cycle_A"] + out["cycle_B"]
        ctx.cache["fake_A"], ctx.cache["fake_B"] = fake_A.detach(), fake_B.detach()
        return {"loss": total, **{k: v.detach() for k, v in out.items()}}

    def d_step(self, batch: Batch, ctx: Context) -> Losses:
        n = self.nets
        d_a = self.d_loss(n["D_A"], batch["B"], self.query("pool_B", ctx.cache.pop("fake_B")))
        d_b = self.d_loss(n["D_B"], batch["A"], self.query("pool_A", ctx.cache.pop("fake_A")))
        return {"loss": d_a + d_b, "D_A": d_a.detach(), "D_B": d_b.detach()}

    def d_loss(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.gan(D(real), True) + self.gan(D(fake), False))

    def query(self, key: str, fakes: torch.Tensor) -> torch.Tensor:
        """The reference's ImagePool.query: fill the pool first; then each fake is, half the time, swapped for a
        random pooled image (returned instead of it). Draws come from self.rng, one pair per fake once full."""
        size = self.opts.pool_size
        if size == 0:
            return fakes
        pool = self.state[key].to(fakes.device, torch.float32).clone()
        out = []
        for img in fakes.float():
            if pool.shape[0] < size:
                pool = torch.cat([pool, img[None]])
                out.append(img)
            elif float(torch.rand((), generator=self.rng, device=self.rng.device)) > 0.5:
                j = int(torch.randint(0, size, (), generator=self.rng, device=self.rng.device))
                out.append(pool[j].clone())
                pool[j] = img
            else:
                out.append(img)
        self.state[key] = pool
        return torch.stack(out).to(fakes.dtype)
