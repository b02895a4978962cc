"""Conditional GAN (Mirza & Osindero 2014) on the DCGAN networks.

G gets [z, embed_G(y)] as its input vector; D gets the image plus one extra channel holding a learned
per-class map (embed_D(y) reshaped to size x size). Fake batches use uniformly drawn classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gan_cli.models.dcgan import DCGAN, DCGANOptions
from gan_cli.models.layers import DCGANDiscriminator, DCGANGenerator, dcgan_init
from gan_cli.registry import Batch, option, register


@dataclass
class CGANOptions(DCGANOptions):
    embed_dim: int = option(50, "size of the generator's class embedding", min=1, max=4096)


class ConditionalGenerator(nn.Module):
    def __init__(self, z_dim: int, num_classes: int, embed_dim: int, channels: int, size: int, ngf: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = DCGANGenerator(z_dim + embed_dim, channels, size, ngf)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(y)], dim=1))


class ConditionalDiscriminator(nn.Module):
    def __init__(self, num_classes: int, channels: int, size: int, ndf: int):
        super().__init__()
        self.size = size
        self.embed = nn.Embedding(num_classes, size * size)
        self.net = DCGANDiscriminator(channels + 1, size, ndf)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        label_map = self.embed(y).view(-1, 1, self.size, self.size).to(x.dtype)
        return self.net(torch.cat([x, label_map], dim=1))


@register
class CGAN(DCGAN):
    name = "cgan"
    task = "class"
    summary = "Class-conditional DCGAN: label embeddings into G and D (Mirza & Osindero 2014)"
    Options = CGANOptions
    tiny = {"ngf": 4, "ndf": 4, "z_dim": 8, "embed_dim": 4}

    def build(self) -> dict[str, nn.Module]:
        o = self.opts
        G = ConditionalGenerator(o.z_dim, self.num_classes, o.embed_dim, self.channels, self.size, o.ngf)
        D = ConditionalDiscriminator(self.num_classes, self.channels, self.size, o.ndf)
        dcgan_init(G)
        dcgan_init(D)
        nn.init.normal_(G.embed.weight)
        nn.init.normal_(D.embed.weight)
        self.nets = {"G": G, "D": D}
        return self.nets

    def generate(self, nets, z: torch.Tensor, y: torch.Tensor | None = None, **opts) -> torch.Tensor:
        if y is None:
            raise ValueError("cgan needs class labels")
        return nets["G"](z, y)

    def labels_for(self, batch: Batch) -> torch.Tensor:
        n, dev = batch["x"].shape[0], batch["x"].device
        return torch.randint(0, self.num_classes, (n,), device=dev, generator=self.rng)

    def D(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return self.nets["D"](x, y)

    def d_step(self, batch, ctx):
        # Real images are judged with their true labels; fakes with the labels they were made for.
        real, y_real, cache = batch["x"], batch["y"], ctx.cache
        y_fake = self.labels_for(batch)
        fake = self.fake(real.shape[0], real.device, y_fake)
        cache["fake"], cache["y"] = fake, y_fake
        return self.d_loss(self.D(real, y_real), self.D(fake.detach(), y_fake))
