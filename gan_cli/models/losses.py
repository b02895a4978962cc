"""GAN losses and regularisers that families compose. D's outputs are raw scores (logits / critic values).

Adversarial pairs (`*_d(real, fake)` for the discriminator, `*_g(fake)` for the generator):
- bce: the original minimax game with the non-saturating generator loss (Goodfellow et al. 2014);
  StyleGAN2's "logistic" loss is the same thing written with softplus.
- least_squares: LSGAN (Mao et al. 2017), targets 1 for real and 0 for fake.
- wasserstein: WGAN critic (Arjovsky et al. 2017).
- hinge: SAGAN / BigGAN.
Regularisers: gradient_penalty (WGAN-GP), r1 (Mescheder et al. 2018), path_length (StyleGAN2), and the
translation terms cycle and identity (CycleGAN, U-GAT-IT).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bce_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()  # = BCE(real, 1) + BCE(fake, 0)


def bce_g(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()  # = BCE(fake, 1)


def least_squares_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()


def least_squares_g(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake - 1) ** 2).mean()


def wasserstein_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return fake.mean() - real.mean()


def wasserstein_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge_g(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


ADVERSARIAL = {
    "bce": (bce_d, bce_g),
    "lsgan": (least_squares_d, least_squares_g),
    "wgan": (wasserstein_d, wasserstein_g),
    "hinge": (hinge_d, hinge_g),
}


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """WGAN-GP: mean (||grad critic(mix)|| - 1)^2 on random interpolates of real and fake samples."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, generator=generator)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def r1(real_scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1: mean squared norm of the gradient of D's real scores w.r.t. the real images (which need grad)."""
    (grad,) = torch.autograd.grad(real_scores.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def path_length(
    fake: torch.Tensor, ws: torch.Tensor, mean: torch.Tensor, decay: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2's path-length penalty: (penalty, updated running mean of the path lengths).

    The Jacobian-vector product of G at w with image-space noise scaled by 1/sqrt(pixels); `mean` is the
    running mean (family state), updated as mean + decay * (batch mean - mean).
    """
    noise = torch.randn(fake.shape, device=fake.device, generator=generator) / math.sqrt(fake.shape[2] * fake.shape[3])
    (grad,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
    lengths = grad.pow(2).sum(2).mean(1).sqrt()
    new_mean = mean + decay * (lengths.mean().detach() - mean)
    return (lengths - new_mean).pow(2).mean(), new_mean


def cycle(x: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """L1 between an image and its round trip through both generators."""
    return (x - reconstructed).abs().mean()


def identity(x: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """L1 between an image of the target domain and what the generator makes of it (should be itself)."""
    return (x - same).abs().mean()


def to_target(scores: torch.Tensor, real: bool, mode: str) -> torch.Tensor:
    """junyanz's GANLoss: every score of a (patch) map against one target, 1 for real and 0 for fake.

    "vanilla": binary cross-entropy on logits; "lsgan": mean squared error. pix2pix and CycleGAN
    halve D's sum of the real and fake terms, and give G the whole term (not least_squares_g's half).
    """
    if mode == "vanilla":
        return F.softplus(-scores).mean() if real else F.softplus(scores).mean()
    if mode == "lsgan":
        return ((scores - 1) ** 2).mean() if real else (scores**2).mean()
    raise ValueError(f"unknown gan_mode {mode!r} (vanilla, lsgan)")
