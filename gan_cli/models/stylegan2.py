"""StyleGAN2 (Karras et al. 2020), config F as NVlabs' StyleGAN2-ADA trains it, on gan_cli/nets/stylegan2.py.

Phases, as NVlabs' `training/loss.py` (StyleGAN2Loss) computes them:
- D: non-saturating logistic loss, softplus(D(G(z))) + softplus(-D(x));
- Dreg: lazy R1 every `d_reg_every` steps on the same reals, (gamma / 2) * |grad D(x)|^2, times the interval;
- G: softplus(-D(G(z)));
- Greg: lazy path-length regularisation every `g_reg_every` steps on half a batch, times the interval,
  with the running mean of path lengths as family state (saved in full checkpoints).
Fakes use style mixing (probability `mixing`, one random crossover per batch) and random noise from the
family's generator. The mapping network keeps a running mean of w (`w_avg`, decay 0.995) as a buffer of G:
the truncation centre. An EMA generator (half-life `ema_kimg`, ramp-up 0.05) is what previews, `gan sample`,
`gan mix` and `eval-fid` use. Adam (0, 0.99), lr 0.0025, with the lazy-regularisation correction of the
paper (lr and betas raised to every / (every + 1)).

The small defaults train at 32-64 px on a CPU; `-o channel_base=32768 -o channel_max=512 -o style_dim=512
-o n_mlp=8` is the paper's network (or `channel_base=0` for rosinality's table with `channel_multiplier`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.errors import BadInput
from gan_cli.models import losses as L
from gan_cli.nets.stylegan2 import Discriminator, Generator
from gan_cli.registry import EMA, Batch, Context, Family, Losses, Phase, SampleOption, StyleBased, option, register


@dataclass
class StyleGAN2Options:
    style_dim: int = option(256, "size of z and w (the paper: 512)", min=1, max=2048)
    n_mlp: int = option(4, "layers of the mapping network (the paper: 8)", min=1, max=16)
    channel_base: int = option(
        4096,
        "channels at a resolution: min(channel_base / res, channel_max); 0 = "
        "rosinality's table with channel_multiplier",
        min=0,
        max=1 << 20,
    )
    channel_max: int = option(64, "most channels of any layer (the paper: 512)", min=1, max=2048)
    channel_multiplier: int = option(2, "rosinality's channel multiplier (with channel_base=0)", min=1, max=8)
    lr_mlp: float = option(0.01, "learning-rate multiplier of the mapping network", min=0)
    z_dim: int = option(0, "size of z when it differs from w (converted NVlabs networks); 0 = style_dim", min=0)
    conv_clamp: float = option(0.0, "clamp activations to +-conv_clamp (converted NVlabs networks); 0 = off", min=0)
    r1: float = option(
        1.0,
        "R1 gamma (NVlabs' paper256 config: 1; the paper at 1024 px: 10; NVlabs' auto value "
        "0.0002 * size^2 / batch, 0.0064 at 32 px, leaves MNIST runs drawing blobs)",
        min=0,
    )
    d_reg_every: int = option(16, "lazy R1 interval in steps", min=1, max=1000)
    pl_weight: float = option(2.0, "path-length regularisation weight (0: off)", min=0)
    g_reg_every: int = option(4, "lazy path-length interval in steps", min=1, max=1000)
    pl_decay: float = option(0.01, "decay of the path-length running mean", min=0, max=1)
    pl_batch_shrink: int = option(2, "path-length batch = batch / pl_batch_shrink", min=1, max=64)
    mbstd_group: int = option(4, "minibatch-stddev group size of D (NVlabs' CIFAR config: 32)", min=1, max=256)
    mixing: float = option(0.9, "style-mixing regularisation probability", min=0, max=1)
    ema_kimg: float = option(10.0, "half-life of G_ema in thousands of images (0: off)", min=0)
    beta1: float = option(0.0, "Adam beta1", min=0, max=1)
    beta2: float = option(0.99, "Adam beta2", min=0, max=1)


@register
class StyleGAN2(Family, StyleBased):
    name = "stylegan2"
    task = "noise"
    summary = "StyleGAN2: mapping net, modulated convs, skip G, residual D, lazy R1 + path length (Karras 2020)"
    Options = StyleGAN2Options
    tiny = {"style_dim": 8, "n_mlp": 1, "channel_base": 64, "channel_max": 4, "ema_kimg": 0.01}
    default_size = 32
    default_batch_size = 32
    default_lr = 0.0025
    default_steps = 2500
    sizes = (32, 64, 128, 256, 512, 1024)
    sample_options = {
        "truncation": SampleOption(1.0, "psi: 1 = none, 0 = the mean w"),
        "noise_mode": SampleOption(
            "const", "per-layer noise: const (stored maps), random or none", ("const", "random", "none")
        ),
    }

    def _net_kwargs(self) -> dict:
        o = self.opts
        table = {"channel_base": o.channel_base, "channel_max": o.channel_max} if o.channel_base else {}
        return {"channel_multiplier": o.channel_multiplier, "img_channels": self.channels, **table}

    def build(self) -> dict[str, nn.Module]:
        o = self.opts
        G = Generator(
            self.size,
            o.style_dim,
            o.n_mlp,
            lr_mlp=o.lr_mlp,
            z_dim=o.z_dim or None,
            conv_clamp=o.conv_clamp or None,
            **self._net_kwargs(),
        )
        G.register_buffer("w_avg", torch.zeros(o.style_dim))
        self.nets = {"G": G, "D": Discriminator(self.size, mbstd_group=o.mbstd_group, **self._net_kwargs())}
        self.state = {"pl_mean": torch.zeros(())}
        return self.nets

    def optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        out = {}
        for key, every in (
            ("G", self.opts.g_reg_every if self.opts.pl_weight else 0),
            ("D", self.opts.d_reg_every if self.opts.r1 else 0),
        ):
            c = every / (every + 1) if every else 1.0  # lazy regularisation: the paper's correction
            betas = (self.opts.beta1**c, self.opts.beta2**c)
            out[key] = torch.optim.Adam(self.nets[key].parameters(), lr=lr * c, betas=betas, eps=1e-8)
        return out

    def phases(self) -> list[Phase]:
        o = self.opts
        phases = [Phase("D", self.d_main)]
        if o.r1 > 0:
            phases.append(Phase("Dreg", self.d_reg, opt="D", every=o.d_reg_every, data=False))
        phases.append(Phase("G", self.g_main, freeze=("D",), data=False))
        if o.pl_weight > 0:
            phases.append(Phase("Greg", self.g_reg, opt="G", every=o.g_reg_every, freeze=("D",), data=False))
        return phases

    def ema(self) -> EMA | None:
        return EMA("G", self.opts.ema_kimg, 0.05) if self.opts.ema_kimg > 0 else None

    # --- inference ---------------------------------------------------------------------------------
    def latent_dim(self) -> int:
        return self.opts.z_dim or self.opts.style_dim

    def num_ws(self) -> int:
        return 2 * (self.size.bit_length() - 1) - 2

    def ws(self, nets, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        G = nets["G"]
        w = G.mapping(z)
        if truncation != 1:
            w = G.w_avg.to(w.dtype).lerp(w, truncation)
        return w.unsqueeze(1).repeat(1, self.num_ws(), 1)

    def synthesize(self, nets, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        return nets["G"].synthesis(ws, noise_mode, self.rng if noise_mode == "random" else None)

    def generate(self, nets, z, y=None, truncation: float = 1.0, noise_mode: str = "const", **opts):
        return self.synthesize(nets, self.ws(nets, z, truncation), noise_mode)

    # --- training ----------------------------------------------------------------------------------
    def _fake_ws(self, n: int, device: torch.device) -> torch.Tensor:
        """w+ of n fakes with style mixing: one random crossover for the batch, with probability `mixing`."""
        G, k = self.nets["G"], self.num_ws()
        w = G.mapping(torch.randn(n, self.latent_dim(), device=device, generator=self.rng))
        ws = w.unsqueeze(1).repeat(1, k, 1)
        if self.opts.mixing > 0 and float(torch.rand((), device=device, generator=self.rng)) < self.opts.mixing:
            cut = int(torch.randint(1, k, (), device=device, generator=self.rng))
            w2 = G.mapping(torch.randn(n, self.latent_dim(), device=device, generator=self.rng))
            ws = torch.cat([ws[:, :cut], w2.unsqueeze(1).repeat(1, k - cut, 1)], 1)
        return ws

    def _fake(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        ws = self._fake_ws(n, device)
        return self.nets["G"].synthesis(ws, "random", self.rng), ws

    def _check_batch(self, n: int) -> None:
        g = self.opts.mbstd_group
        if n % min(g, n):
            raise BadInput(
                f"stylegan2: the batch per process ({n}) must be a multiple of {g} (minibatch stddev groups, "
                "-o mbstd_group)"
            )

    def d_main(self, batch: Batch, ctx: Context) -> Losses:
        real = batch["x"]
        self._check_batch(real.shape[0])
        with torch.no_grad():
            fake, _ = self._fake(real.shape[0], real.device)
        d_real, d_fake = self.nets["D"](real), self.nets["D"](fake)
        return {"loss": L.bce_d(d_real, d_fake), "D(x)": d_real.mean().detach(), "D(G(z))": d_fake.mean().detach()}

    def d_reg(self, batch: Batch, ctx: Context) -> Losses:
        real = batch["x"].detach().requires_grad_(True)
        penalty = L.r1(self.nets["D"](real), real)
        return {"loss": penalty * (self.opts.r1 / 2) * self.opts.d_reg_every, "r1": penalty.detach()}

    def g_main(self, batch: Batch, ctx: Context) -> Losses:
        fake, ws = self._fake(batch["x"].shape[0], batch["x"].device)
        G = self.nets["G"]
        with torch.no_grad():  # the tracked mean of w: the truncation centre
            G.w_avg.copy_(ws[:, 0].detach().float().mean(0).lerp(G.w_avg, 0.995))
        return {"loss": L.bce_g(self.nets["D"](fake))}

    def g_reg(self, batch: Batch, ctx: Context) -> Losses:
        n = max(1, batch["x"].shape[0] // self.opts.pl_batch_shrink)
        fake, ws = self._fake(n, batch["x"].device)
        mean = self.state["pl_mean"].to(fake.device)
        penalty, self.state["pl_mean"] = L.path_length(fake.float(), ws, mean, self.opts.pl_decay, self.rng)
        return {
            "loss": penalty * self.opts.pl_weight * self.opts.g_reg_every,
            "pl": penalty.detach(),
            "pl_mean": self.state["pl_mean"].detach(),
        }
