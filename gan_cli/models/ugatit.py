"""U-GAT-IT (Kim et al., ICLR 2020): unpaired translation with attention (CAM) and adaptive instance-layer norm.

Two generators (`genA2B`, `genB2A`) and four discriminators: a global (7-layer) and a local (5-layer) one per
domain (`disGA`, `disLA` judge domain A; `disGB`, `disLB` domain B). The nets are those of gan_cli/nets/ugatit.py,
named as znxlwm/UGATIT-pytorch names them, so a checkpoint holds `genA2B.<the reference's key>` and
converted official weights load as they are.

Training follows the reference's `UGATIT.train()` term by term and in its order of summation:
- D: for each discriminator, MSE(real output, 1) + MSE(fake output, 0), and the same on its CAM logits;
- G: MSE(D(fake), 1) on outputs and CAM logits (adversarial), L1 cycle (weight 10), L1 identity (10), and the
  generator's own CAM logits under BCE-with-logits: "source domain" (1) for the translated image, "target
  domain" (0) for the identity pass (weight 1000);
- Adam 1e-4, betas (0.5, 0.999), weight decay 1e-4: one optimizer over both generators, one over all four
  discriminators; D steps first, then G on the same batch; rho clipped to [0, 1] after every G step;
  the lr falls linearly to 0 over the second half of the run (the reference's `decay_flag`).
The reference runs the generators with gradients during D's step and discards them; here they are frozen
then, which changes nothing but the work done.

Grey and colour domains may be mixed (A gray, B RGB): each net is built for the channels it sees, and where
an image must go through the generator of the other direction (the identity terms), gray is repeated to RGB
or RGB averaged to gray.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.errors import BadInput
from gan_cli.nets import ugatit as nets
from gan_cli.registry import Augment, Batch, Context, Family, Losses, Phase, Schedule, option, register

GENERATORS = ("genA2B", "genB2A")
DISCRIMINATORS = ("disGA", "disGB", "disLA", "disLB")


@dataclass
class UGATITOptions:
    light: bool = option(False, "light version: the gamma/beta MLP reads pooled features (any size, far fewer weights)")
    ngf: int = option(64, "generator base width (the reference's --ch)", min=1, max=512)
    n_res: int = option(4, "residual blocks in the encoder and in the decoder", min=0, max=32)
    ndf: int = option(64, "discriminator base width (the reference's --ch)", min=1, max=512)
    d_global_layers: int = option(7, "global discriminator depth (size >= 3 * 2^(layers-2))", min=3, max=9)
    d_local_layers: int = option(5, "local discriminator depth (size >= 3 * 2^(layers-2))", min=3, max=9)
    adv_weight: float = option(1.0, "weight of the adversarial terms (outputs and CAM logits)", min=0, max=1e6)
    cycle_weight: float = option(10.0, "weight of the L1 cycle term", min=0, max=1e6)
    identity_weight: float = option(10.0, "weight of the L1 identity term", min=0, max=1e6)
    cam_weight: float = option(1000.0, "weight of the generators' CAM (BCE) term", min=0, max=1e6)
    weight_decay: float = option(1e-4, "Adam weight decay (L2), both optimizers", min=0, max=1)
    decay: bool = option(True, "linear lr decay to 0 over the second half of --steps")


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """x with `channels` channels: gray repeated to RGB, RGB averaged to gray, else as is."""
    if x.shape[1] == channels:
        return x
    return x.expand(-1, channels, -1, -1) if x.shape[1] == 1 else x.mean(1, keepdim=True)


def _standard_strides(t: torch.Tensor) -> bool:
    expected, step = [], 1
    for dim in reversed(t.shape):
        expected.insert(0, step)
        step *= dim
    return list(t.stride()) == expected


def canonical_call(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """net(x) with the net's tensors and x in the standard contiguous layout, without changing the net.

    Training keeps nets channels-last (the loop's default), which also restrides AdaLIN's (1, C, 1, 1) rho,
    gamma and beta; products with them then come out channels-last and the instance/layer-norm reductions
    sum in another order. Inference runs on standard-layout copies, so a net gives the same bits in a
    training preview as once saved and reloaded.
    """
    tensors = dict(net.named_parameters()) | dict(net.named_buffers())
    if all(_standard_strides(t) for t in tensors.values()):
        return net(x.contiguous())
    tensors = {k: t.clone(memory_format=torch.contiguous_format) for k, t in tensors.items()}
    return torch.func.functional_call(net, tensors, (x.contiguous(),))


def min_size(layers: int) -> int:
    """Smallest image a discriminator of `layers` layers takes: its last map must be 3 wide before the final pad."""
    return 3 * 2 ** (layers - 2)


def mse_to(x: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(x, torch.full_like(x, target))


def bce_to(x: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(x, torch.full_like(x, target))


def linear_decay(step: int, total: int) -> float:
    """The reference's lr multiple at (1-based) iteration step + 1: 1, then down by 1/(total//2) per step after
    total//2 (it subtracts lr / (total//2) each iteration), 0 at the last step for an even total."""
    half = total // 2
    return 1.0 - max(0, step + 1 - half) / half if half else 1.0


@register
class UGATIT(Family):
    name = "ugatit"
    task = "unpaired"
    summary = "U-GAT-IT: unpaired translation with CAM attention and AdaLIN (Kim et al. 2020)"
    Options = UGATITOptions
    tiny = {"light": True, "ngf": 2, "n_res": 1, "ndf": 2, "d_global_layers": 4, "d_local_layers": 3}
    default_size = 256
    default_batch_size = 1
    default_lr = 1e-4
    default_steps = 1_000_000  # the reference's --iteration
    sizes = (32, 64, 96, 128, 192, 256)
    inference = GENERATORS
    augment = Augment(load_ratio=286 / 256, flip=True)  # resize to size + 30, random crop, flip (at 256)

    def generator(self, cin: int, cout: int) -> nn.Module:
        o = self.opts
        return nets.ResnetGenerator(cin, cout, o.ngf, o.n_res, self.size, o.light)

    def build(self) -> dict[str, nn.Module]:
        o = self.opts
        for key in ("d_global_layers", "d_local_layers"):
            layers = getattr(o, key)
            if self.size < min_size(layers):
                fit = max(n for n in range(3, 10) if min_size(n) <= self.size)
                raise BadInput(
                    f"{self.name}: a {layers}-layer discriminator needs images of at least "
                    f"{min_size(layers)} px, not {self.size}: use -o {key}={fit} or a larger --size"
                )
        a, b = self.in_channels, self.channels
        self.nets = {
            "genA2B": self.generator(a, b),
            "genB2A": self.generator(b, a),
            "disGA": nets.Discriminator(a, o.ndf, o.d_global_layers),
            "disGB": nets.Discriminator(b, o.ndf, o.d_global_layers),
            "disLA": nets.Discriminator(a, o.ndf, o.d_local_layers),
            "disLB": nets.Discriminator(b, o.ndf, o.d_local_layers),
        }
        return self.nets

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        def adam(names: tuple[str, ...]) -> torch.optim.Optimizer:
            params = [p for n in names for p in self.nets[n].parameters()]
            return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999), weight_decay=self.opts.weight_decay)

        return {"G": adam(GENERATORS), "D": adam(DISCRIMINATORS)}

    def phases(self) -> list[Phase]:
        return [
            Phase("D", self.d_loss, freeze=GENERATORS),
            Phase("G", self.g_loss, freeze=DISCRIMINATORS, after_step=self.clip, data=False),
        ]

    def schedule(self, ctx: Context) -> Schedule:
        return Schedule(lr_scale=linear_decay(ctx.step, ctx.total_steps) if self.opts.decay else 1.0)

    def clip(self) -> None:
        """The reference's RhoClipper(0, 1) on both generators."""
        for n in GENERATORS:
            nets.clip_rho_(self.nets[n])

    # --- inference -------------------------------------------------------------------------------
    def net_channels(self, name: str) -> tuple[int, int]:
        """(input, output) channels of generator `name`'s network."""
        return (self.in_channels, self.channels) if name == "genA2B" else (self.channels, self.in_channels)

    def run_gen(
        self, net: nn.Module, name: str, x: torch.Tensor, canonical: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(image in the channels of `name`'s output domain, CAM logits) from x of either domain."""
        x = to_channels(x, self.net_channels(name)[0])
        out, cam, _ = canonical_call(net, x) if canonical else net(x)
        return to_channels(out, self.channels if name == "genA2B" else self.in_channels), cam

    def gen(self, name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A training pass of generator `name`."""
        return self.run_gen(self.nets[name], name, x)

    def translate(self, nets, x: torch.Tensor, direction: str = "AtoB", **opts) -> torch.Tensor:
        name = "genA2B" if direction == "AtoB" else "genB2A"
        return self.run_gen(nets[name], name, x, canonical=True)[0]

    # --- losses ----------------------------------------------------------------------------------
    def d_loss(self, batch: Batch, ctx: Context) -> Losses:
        real_a, real_b = batch["A"], batch["B"]
        with torch.no_grad():
            fake_a2b, _ = self.gen("genA2B", real_a)
            fake_b2a, _ = self.gen("genB2A", real_b)
        terms = {}
        for dom, real, fake in (("A", real_a, fake_b2a), ("B", real_b, fake_a2b)):
            out = []
            for scale in ("G", "L"):
                d = self.nets[f"dis{scale}{dom}"]
                real_logit, real_cam, _ = d(real)
                fake_logit, fake_cam, _ = d(fake)
                out.append(mse_to(real_logit, 1.0) + mse_to(fake_logit, 0.0))
                out.append(mse_to(real_cam, 1.0) + mse_to(fake_cam, 0.0))
            terms[dom] = self.opts.adv_weight * (out[0] + out[1] + out[2] + out[3])
        return {"loss": terms["A"] + terms["B"], "loss_A": terms["A"].detach(), "loss_B": terms["B"].detach()}

    def g_loss(self, batch: Batch, ctx: Context) -> Losses:
        o = self.opts
        real = {"A": batch["A"], "B": batch["B"]}
        fake_a2b, cam_a2b = self.gen("genA2B", real["A"])
        fake_b2a, cam_b2a = self.gen("genB2A", real["B"])
        fake_a2b2a, _ = self.gen("genB2A", fake_a2b)
        fake_b2a2b, _ = self.gen("genA2B", fake_b2a)
        fake_a2a, cam_a2a = self.gen("genB2A", real["A"])
        fake_b2b, cam_b2b = self.gen("genA2B", real["B"])
        # Per domain X: the fake of X, its round trip, its identity pass, the CAM logits of both, and the
        # translation of X's real image (which a face-ID term compares with it).
        per = {
            "A": (fake_b2a, fake_a2b2a, fake_a2a, cam_b2a, cam_a2a, fake_a2b),
            "B": (fake_a2b, fake_b2a2b, fake_b2b, cam_a2b, cam_b2b, fake_b2a),
        }
        totals: dict[str, torch.Tensor] = {}
        logged: dict[str, torch.Tensor] = {}
        for dom, (fake, recon, same, cam_fake, cam_same, translated) in per.items():
            adv = []
            for scale in ("G", "L"):
                logit, cam_logit, _ = self.nets[f"dis{scale}{dom}"](fake)
                adv += [mse_to(logit, 1.0), mse_to(cam_logit, 1.0)]
            terms = {
                "adv": adv[0] + adv[1] + adv[2] + adv[3],
                "cycle": F.l1_loss(recon, real[dom]),
                "identity": F.l1_loss(same, real[dom]),
                "cam": bce_to(cam_fake, 1.0) + bce_to(cam_same, 0.0),
            }
            total = (
                o.adv_weight * terms["adv"] + o.cycle_weight * terms["cycle"]
                + o.identity_weight * terms["identity"] + o.cam_weight * terms["cam"]
            )  # fmt: skip
            for key, (weight, value) in self.extra_g_loss(real[dom], translated).items():
                total = total + weight * value
                terms[key] = value
            totals[dom] = total
            for key, value in terms.items():
                logged[key] = logged[key] + value.detach() if key in logged else value.detach()
        return {"loss": totals["A"] + totals["B"], **logged}

    def extra_g_loss(self, real: torch.Tensor, translated: torch.Tensor) -> dict[str, tuple[float, torch.Tensor]]:
        """{name: (weight, value)} added after the reference's four terms to one domain's G loss, from that
        domain's real batch and its translation (photo2cartoon adds its face-ID term here)."""
        return {}
