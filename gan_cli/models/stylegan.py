"""StyleGAN (v1, Karras et al. 2019), as NVlabs/stylegan trains its FFHQ configuration, on gan_cli/nets/stylegan.py.

- Growing: gan_cli/models/progressive.py, as `pggan` (the official v1 grows the same way, with lod).
- Losses (the official `loss.py`, G_logistic_nonsaturating and D_logistic_simplegp with R1, gamma 10):
  D: softplus(D(G(z))) + softplus(-D(x)) + (gamma / 2) |grad D(x)|^2 (not lazy); G: softplus(-D(G(z))).
- Style-mixing regularisation: with probability `mixing`, a second w takes over from a random layer among
  those the current stage uses. `w_avg` tracks the mean of w (decay 0.995) during training.
- Truncation (inference): w <- w_avg + psi (w - w_avg) on the layers before `truncation_cutoff`
  (8: up to 32 px; the official default), psi from `gan sample --truncation`.
- Adam lr 1e-3, betas (0, 0.99), eps 1e-8; G_ema with a 10 kimg half-life (the official G_smoothing_kimg).
- `-o center_w=true` (default): w is centred on the new mapping network's mean output (a fixed buffer, see
  gan_cli/nets/stylegan.py), a reparametrisation of the paper's network. Uncentred, the default MNIST run
  collapsed to one shape at 32 px; centred, it stays varied (README, "Progressive growing").

The small defaults (z = w = 128; fmap_base 256, fmap_max 64: 64, 64, 32, 16 channels at 4, 8, 16, 32 px; 40
kimg stable and 40 fading per resolution, 4,690 steps of 64, 300 kimg) are sized for half an hour on MNIST on a
2-core CPU: 27 minutes measured, at about 1080, 430, 200 and 100 img/s at 4, 8, 16 and 32 px; the mapping
network keeps its 8 layers. `-o z_dim=512 -o style_dim=512 -o fmap_base=8192 -o fmap_max=512 -o stable_kimg=600
-o fade_kimg=600` is the paper's network and schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.models import losses as L
from gan_cli.models.progressive import ProgressiveFamily, ProgressiveOptions, reals_at
from gan_cli.nets.stylegan import Discriminator, Generator
from gan_cli.registry import Batch, Context, Losses, SampleOption, StyleBased, option, register


@dataclass
class StyleGANOptions(ProgressiveOptions):
    stable_kimg: float = option(40.0, "thousands of images each resolution trains before the next fades in", min=0)
    fade_kimg: float = option(40.0, "thousands of images over which a new resolution fades in", min=0)
    z_dim: int = option(128, "size of z (the paper: 512)", min=1, max=4096)
    style_dim: int = option(128, "size of w, the style vector (the paper: 512)", min=1, max=4096)
    n_mlp: int = option(8, "layers of the mapping network", min=1, max=16)
    lr_mlp: float = option(0.01, "learning-rate multiplier of the mapping network", min=0)
    center_w: bool = option(True, "subtract the new mapping network's mean w from w (false: the paper's form)")
    fmap_base: int = option(256, "channels at resolution 2^r: min(fmap_base / 2^(r-1), fmap_max)", min=1)
    fmap_max: int = option(64, "most channels of any layer (the paper: 512)", min=1, max=4096)
    mbstd_group: int = option(4, "minibatch stddev group size (1: off)", min=1, max=64)
    r1: float = option(10.0, "R1 gamma (the FFHQ configuration: 10)", min=0)
    mixing: float = option(0.9, "style-mixing regularisation probability", min=0, max=1)
    w_avg_beta: float = option(0.995, "decay of the tracked mean of w", min=0, max=1)
    truncation_cutoff: int = option(8, "truncation applies to layers below this index (8: up to 32 px)", min=0)
    ema_kimg: float = option(10.0, "half-life of G_ema in thousands of images (0: off)", min=0)
    beta1: float = option(0.0, "Adam beta1", min=0, max=1)
    beta2: float = option(0.99, "Adam beta2", min=0, max=1)


@register
class StyleGAN(ProgressiveFamily, StyleBased):
    name = "stylegan"
    task = "noise"
    summary = "StyleGAN v1: mapping net, AdaIN, noise, style mixing, progressive growing, R1 (Karras 2019)"
    Options = StyleGANOptions
    tiny = {
        "z_dim": 8, "style_dim": 8, "n_mlp": 2, "fmap_base": 16, "fmap_max": 4,
        "stable_kimg": 0.002, "fade_kimg": 0.002, "ema_kimg": 0.01,
    }
    default_size = 32
    default_batch_size = 64
    default_lr = 1e-3
    default_steps = 4690  # 4 -> 32 px at the defaults: 7 x 40 kimg = 280 kimg, then 20 more kimg at 32 px
    sample_options = {
        "truncation": SampleOption(1.0, "psi on the layers below truncation_cutoff: 1 = none, 0 = the mean w"),
        "noise_mode": SampleOption(
            "const", "per-layer noise: const (stored maps), random or none", ("const", "random", "none")
        ),
    }

    def build(self) -> dict[str, nn.Module]:
        o = self.opts
        G = Generator(self.size, o.z_dim, o.style_dim, o.n_mlp, self.channels, o.fmap_base, o.fmap_max, o.lr_mlp)
        D = Discriminator(self.size, self.channels, o.fmap_base, o.fmap_max, o.mbstd_group)
        self.nets = {"G": G, "D": D}
        return self.nets

    def prepare_training(self, device: torch.device) -> None:
        """Centre w on the new mapping's mean (before G_ema is copied; a resumed run then loads its saved one).
        Only training needs it: a loaded checkpoint brings its own `w_center`."""
        if self.opts.center_w:
            self.nets["G"].center_w()

    # --- inference (StyleBased: gan mix, gan sample --space w) ----------------------------------------
    def latent_dim(self) -> int:
        return self.opts.z_dim

    def num_ws(self) -> int:
        return 2 * (self.size.bit_length() - 1) - 2

    def ws(self, nets, z: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        G = nets["G"]
        ws = G.mapping(z).unsqueeze(1).repeat(1, self.num_ws(), 1)
        cut = min(self.opts.truncation_cutoff, self.num_ws())
        if truncation != 1 and cut > 0:
            ws[:, :cut] = G.w_avg.to(ws.dtype).lerp(ws[:, :cut], truncation)
        return ws

    def synthesize(self, nets, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        return nets["G"].synthesis(ws, noise_mode, self.rng if noise_mode == "random" else None)

    def generate(self, nets, z, y=None, truncation: float = 1.0, noise_mode: str = "const", **opts):
        return self.synthesize(nets, self.ws(nets, z, truncation), noise_mode)

    # --- training ----------------------------------------------------------------------------------
    def _fakes(self, n: int, ctx: Context) -> torch.Tensor:
        """Fakes at this step's stage, with style mixing and random noise; updates the tracked mean of w."""
        G, k, dev = self.nets["G"], self.num_ws(), ctx.device
        G.lod.fill_(self.stage_of(ctx).lod)
        w = G.mapping(torch.randn(n, self.opts.z_dim, device=dev, generator=self.rng))
        with torch.no_grad():
            G.w_avg.copy_(w.detach().float().mean(0).lerp(G.w_avg, self.opts.w_avg_beta))
        ws = w.unsqueeze(1).repeat(1, k, 1)
        active = G.active_ws()
        if self.opts.mixing > 0 and float(torch.rand((), device=dev, generator=self.rng)) < self.opts.mixing:
            cut = int(torch.randint(1, max(active, 2), (), device=dev, generator=self.rng))
            w2 = G.mapping(torch.randn(n, self.opts.z_dim, device=dev, generator=self.rng))
            ws = torch.cat([ws[:, :cut], w2.unsqueeze(1).repeat(1, k - cut, 1)], 1)
        return G.synthesis(ws, "random", self.rng)

    def d_loss(self, batch: Batch, ctx: Context) -> Losses:
        stage = self.stage_of(ctx)
        real = reals_at(batch["x"], stage).detach()
        self.check_batch(self.name, real.shape[0], self.opts.mbstd_group)
        with torch.no_grad():
            fake = self._fakes(real.shape[0], ctx)
        D = self.nets["D"]
        if self.opts.r1 > 0:
            real.requires_grad_(True)
        d_real, d_fake = D(real, stage.alpha), D(fake, stage.alpha)
        loss = L.bce_d(d_real, d_fake)
        out = {"D(x)": d_real.mean().detach(), "D(G(z))": d_fake.mean().detach()}
        if self.opts.r1 > 0:
            penalty = L.r1(d_real, real)
            loss = loss + penalty * (self.opts.r1 / 2)
            out["r1"] = penalty.detach()
        return {"loss": loss, **out}

    def g_loss(self, batch: Batch, ctx: Context) -> Losses:
        fake = self._fakes(batch["x"].shape[0], ctx)
        return {"loss": L.bce_g(self.nets["D"](fake, self.stage_of(ctx).alpha))}
