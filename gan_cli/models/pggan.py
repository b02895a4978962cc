"""PGGAN (Karras et al. 2018, "Progressive Growing of GANs"), as tkarras/progressive_growing_of_gans trains it.

Nets: gan_cli/nets/pggan.py (equalized lr, pixel norm in G, minibatch stddev in D, toRGB/fromRGB blended by
alpha during a fade). Growth: gan_cli/models/progressive.py (4 px up to --size, pure function of images seen).
Losses, as the official `loss.py` (G_wgan_acgan, D_wgangp_acgan) without labels:
- D: D(G(z)) - D(x) + lambda * (|grad D(mix)| - 1)^2 on random interpolates + 0.001 * D(x)^2 (drift);
- G: -D(G(z)).
One D step then one G step per minibatch, Adam lr 1e-3, betas (0, 0.99), eps 1e-8; G_ema with a 10 kimg
half-life (the official G_smoothing 0.999 per minibatch at batch 16). Reals are box-filtered to the stage's
resolution and faded like the official `process_reals`. Losses are batch means (the official code sums;
Adam does not care about the scale). Not done here: the official reset of Adam's moments when a new
resolution starts.

The small defaults (fmap_base 256, fmap_max 64: 64, 64, 32, 16 channels at 4, 8, 16, 32 px; z 128; 20 kimg
stable and 20 kimg fading per resolution, 2,350 steps of 64) grow MNIST from 4 to 32 px in about half an hour
on one contended core of a 2-core CPU (~450, 130, 100 and 45 img/s at 4, 8, 16 and 32 px).
`-o fmap_base=8192 -o fmap_max=512 -o z_dim=512 -o stable_kimg=600 -o fade_kimg=600` is the paper's network and
schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.models import losses as L
from gan_cli.models.progressive import ProgressiveFamily, ProgressiveOptions, reals_at
from gan_cli.nets.pggan import Discriminator, Generator
from gan_cli.registry import Batch, Context, Losses, option, register


@dataclass
class PGGANOptions(ProgressiveOptions):
    z_dim: int = option(128, "size of the latent vector z (the paper: 512)", min=1, max=4096)
    fmap_base: int = option(256, "channels at resolution 2^r: min(fmap_base / 2^(r-1), fmap_max)", min=1)
    fmap_max: int = option(64, "most channels of any layer (the paper: 512)", min=1, max=4096)
    mbstd_group: int = option(4, "minibatch stddev group size (1: off)", min=1, max=64)
    gp_lambda: float = option(10.0, "weight of the gradient penalty", min=0)
    drift: float = option(0.001, "weight of the drift term D(x)^2 (epsilon_drift)", min=0)
    ema_kimg: float = option(10.0, "half-life of G_ema in thousands of images (0: off)", min=0)
    beta1: float = option(0.0, "Adam beta1", min=0, max=1)
    beta2: float = option(0.99, "Adam beta2", min=0, max=1)


@register
class PGGAN(ProgressiveFamily):
    name = "pggan"
    task = "noise"
    summary = "Progressive GAN: grows 4 px -> --size with fade-ins, pixel norm, minibatch stddev, WGAN-GP (Karras 2018)"
    Options = PGGANOptions
    tiny = {"z_dim": 8, "fmap_base": 16, "fmap_max": 4, "stable_kimg": 0.002, "fade_kimg": 0.002, "ema_kimg": 0.01}
    default_size = 32
    default_batch_size = 64
    default_lr = 1e-3
    default_steps = 2350  # 4 -> 32 px at the defaults: 7 x 20 kimg = 140 kimg, then 10 more kimg at 32 px

    def build(self) -> dict[str, nn.Module]:
        o = self.opts
        G = Generator(self.size, o.z_dim, self.channels, o.fmap_base, o.fmap_max)
        D = Discriminator(self.size, self.channels, o.fmap_base, o.fmap_max, o.mbstd_group)
        self.nets = {"G": G, "D": D}
        return self.nets

    # --- inference ---------------------------------------------------------------------------------
    def latent_dim(self) -> int:
        return self.opts.z_dim

    def generate(self, nets, z, y=None, **opts):
        return nets["G"](z)

    # --- training ----------------------------------------------------------------------------------
    def _fakes(self, n: int, ctx: Context) -> torch.Tensor:
        G = self.nets["G"]
        G.lod.fill_(self.stage_of(ctx).lod)
        return G(torch.randn(n, self.opts.z_dim, device=ctx.device, generator=self.rng))

    def d_loss(self, batch: Batch, ctx: Context) -> Losses:
        stage = self.stage_of(ctx)
        real = reals_at(batch["x"], stage)
        self.check_batch(self.name, real.shape[0], self.opts.mbstd_group)
        with torch.no_grad():
            fake = self._fakes(real.shape[0], ctx)
        D = self.nets["D"]
        d_real, d_fake = D(real, stage.alpha), D(fake, stage.alpha)
        gp = L.gradient_penalty(lambda x: D(x, stage.alpha), real, fake, self.rng)
        drift = d_real.square().mean()
        loss = L.wasserstein_d(d_real, d_fake) + self.opts.gp_lambda * gp + self.opts.drift * drift
        return {"loss": loss, "D(x)": d_real.mean().detach(), "D(G(z))": d_fake.mean().detach(), "gp": gp.detach()}

    def g_loss(self, batch: Batch, ctx: Context) -> Losses:
        fake = self._fakes(batch["x"].shape[0], ctx)
        return {"loss": L.wasserstein_g(self.nets["D"](fake, self.stage_of(ctx).alpha))}
