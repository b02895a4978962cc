"""StyleGAN2 networks: shapes, latent paths, noise, rosinality's names, and the fast ops against naive ones.

The comparison with the reference code itself is in test_convert_stylegan2.py (golden files).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gan_cli.nets.stylegan2 import Discriminator, Generator, channel_table
from gan_cli.nets.stylegan2_ops import blur, make_kernel, modulated_conv2d, upsample2x

TINY = dict(style_dim=16, n_mlp=2, channel_base=128, channel_max=8)


def tiny_g(size: int = 32, **kw) -> Generator:
    torch.manual_seed(0)
    g = Generator(size, **{**TINY, **kw}).eval()
    with torch.no_grad():  # zero-initialised noise strengths would hide the noise paths
        for name, p in g.named_parameters():
            if name.endswith("noise.weight") or name.endswith("bias"):
                p.normal_(0, 0.3)
    return g


def upfirdn_naive(x, k, up=1, down=1, pad=(0, 0)):
    """upfirdn2d as its definition reads: zero insertion, padding, convolution (flipped kernel), subsampling."""
    n, c, h, w = x.shape
    u = torch.zeros(n, c, h * up, w * up)
    u[:, :, ::up, ::up] = x
    u = F.pad(u, [pad[0], pad[1], pad[0], pad[1]])
    out = F.conv2d(u.reshape(n * c, 1, *u.shape[2:]), k.flip([0, 1])[None, None])
    return out.reshape(n, c, *out.shape[2:])[:, :, ::down, ::down]


@pytest.mark.parametrize("size", [32, 64, 256])
def test_generator_shapes(size):
    g = tiny_g(size)
    assert g.num_ws == 2 * (size.bit_length() - 1) - 2
    with torch.no_grad():
        img = g(torch.randn(2, 16))
    assert img.shape == (2, 3, size, size) and torch.isfinite(img).all()


def test_one_channel_images_and_d_shape():
    g = tiny_g(32, img_channels=1)
    d = Discriminator(32, img_channels=1, channel_base=128, channel_max=8)
    with torch.no_grad():
        img = g(torch.randn(4, 16))
        assert img.shape == (4, 1, 32, 32)
        assert d(img).shape == (4, 1)
        assert d(torch.randn(2, 1, 32, 32)).shape == (2, 1)
        with pytest.raises(ValueError, match="stddev group"):
            d(torch.randn(6, 1, 32, 32))


def test_truncation_zero_gives_one_image():
    g = tiny_g()
    with torch.no_grad():
        centre = g.mean_latent(64)
        img = g(torch.randn(3, 16), truncation=0.0, truncation_latent=centre)
        assert (img - img[:1]).abs().max() < 1e-6
        assert (g(torch.randn(3, 16)) - img).abs().max() > 1e-3
    with pytest.raises(ValueError, match="truncation_latent"):
        g(torch.randn(1, 16), truncation=0.5)


def test_w_and_wplus_paths_agree():
    g = tiny_g()
    z = torch.randn(2, 16)
    with torch.no_grad():
        w = g.mapping(z)
        wplus = w.unsqueeze(1).repeat(1, g.num_ws, 1)
        ref = g(z)
        assert torch.equal(g(w, input_is_latent=True), ref)
        assert torch.equal(g(wplus, input_is_latent=True), ref)
        assert torch.equal(g.synthesis(wplus), ref)
        wplus[:, 5:] = g.mapping(torch.randn(2, 16)).unsqueeze(1)
        assert (g(wplus, input_is_latent=True) - ref).abs().max() > 1e-4


def test_style_mixing_switches_at_inject_index():
    g = tiny_g()
    z1, z2 = torch.randn(2, 16), torch.randn(2, 16)
    with torch.no_grad():
        w1, w2 = g.mapping(z1), g.mapping(z2)
        ws = torch.cat([w1.unsqueeze(1).expand(-1, 3, -1), w2.unsqueeze(1).expand(-1, g.num_ws - 3, -1)], 1)
        assert torch.equal(g([z1, z2], inject_index=3), g.synthesis(ws))
        a = g([z1, z2], generator=torch.Generator().manual_seed(1))
        b = g([z1, z2], generator=torch.Generator().manual_seed(1))
        assert torch.equal(a, b)


def test_noise_modes():
    g = tiny_g()
    z = torch.randn(2, 16)
    with torch.no_grad():
        const = g(z, noise_mode="const")
        assert torch.equal(const, g(z, noise_mode="const"))
        r1 = g(z, noise_mode="random", generator=torch.Generator().manual_seed(5))
        r2 = g(z, noise_mode="random", generator=torch.Generator().manual_seed(5))
        r3 = g(z, noise_mode="random", generator=torch.Generator().manual_seed(6))
        none = g(z, noise_mode="none")
    assert torch.equal(r1, r2)
    assert (r1 - r3).abs().max() > 1e-4 and (const - none).abs().max() > 1e-4 and (const - r1).abs().max() > 1e-4
    with pytest.raises(ValueError, match="noise_mode"):
        g(z, noise_mode="sometimes")


def test_rosinality_key_names():
    g = Generator(64, **TINY)
    keys = set(g.state_dict())
    for k in ["style.1.weight", "style.2.bias", "input.input", "conv1.conv.weight", "conv1.conv.modulation.weight",
              "conv1.noise.weight", "conv1.activate.bias", "to_rgb1.conv.weight", "to_rgb1.bias",
              "convs.0.conv.blur.kernel", "convs.0.noise.weight", "convs.7.activate.bias", "to_rgbs.0.conv.weight",
              "to_rgbs.3.upsample.kernel", "noises.noise_0", "noises.noise_8"]:
        assert k in keys, k
    assert g.state_dict()["conv1.conv.weight"].shape == (1, 8, 8, 3, 3)
    assert g.state_dict()["noises.noise_8"].shape == (1, 1, 64, 64)
    assert not any(k.startswith("style.3") or k.startswith("convs.8") or "noise_9" in k for k in keys)
    d = set(Discriminator(64, channel_base=128, channel_max=8).state_dict())
    for k in ["convs.0.0.weight", "convs.0.1.bias", "convs.1.conv1.0.weight", "convs.1.conv2.0.kernel",
              "convs.1.conv2.1.weight", "convs.1.conv2.2.bias", "convs.1.skip.0.kernel", "convs.1.skip.1.weight",
              "convs.4.skip.1.weight", "final_conv.0.weight", "final_conv.1.bias", "final_linear.0.weight",
              "final_linear.1.bias"]:
        assert k in d, k


def test_channel_table_is_rosinality_s():
    assert channel_table(2, None, None) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128,
                                            512: 64, 1024: 32}
    assert channel_table(1, None, None)[64] == 256 and channel_table(4, None, None)[64] == 1024
    assert channel_table(2, 16384, 512)[128] == 128
    with pytest.raises(ValueError, match="power of two"):
        Generator(48)


@pytest.mark.parametrize("pad,down", [((2, 2), 1), ((1, 1), 2), ((2, 1), 1)])
def test_blur_is_upfirdn2d(pad, down):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, 10)
    k = torch.rand(4, 4)  # not symmetric: checks the flip convention too
    assert (blur(x, k, pad, down) - upfirdn_naive(x, k, 1, down, pad)).abs().max() < 1e-5


def test_upsample2x_is_upfirdn2d():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 6)
    for k in (make_kernel([1, 3, 3, 1], 4.0), torch.rand(4, 4)):
        assert (upsample2x(x, k) - upfirdn_naive(x, k, 2, 1, (2, 1))).abs().max() < 1e-5


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("up,demod,k", [(False, True, 3), (True, True, 3), (False, False, 1)])
def test_modulated_conv_matches_per_sample_loop(n, up, demod, k):
    torch.manual_seed(0)
    x, weight, style = torch.randn(n, 5, 6, 6), torch.randn(4, 5, k, k), torch.randn(n, 5)
    out, dcoef = modulated_conv2d(x, weight, style, demod, up=up, padding=0 if up else k // 2)
    if dcoef is not None:
        out = out * dcoef[:, :, None, None]
    for i in range(n):
        w = weight * style[i].view(1, 5, 1, 1)
        if demod:
            w = w / (w.square().sum([1, 2, 3], keepdim=True) + 1e-8).sqrt()
        if up:
            ref = F.conv_transpose2d(x[i : i + 1], w.transpose(0, 1), stride=2)
        else:
            ref = F.conv2d(x[i : i + 1], w, padding=k // 2)
        assert (out[i : i + 1] - ref).abs().max() < 1e-4


def test_gradients_including_r1_double_backward():
    g = tiny_g().train()
    d = Discriminator(32, channel_base=128, channel_max=8)
    z = torch.randn(4, 16)
    img = g(z, noise_mode="random", generator=torch.Generator().manual_seed(0))
    F.softplus(-d(img)).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g.parameters())
    real = torch.randn(4, 3, 32, 32, requires_grad=True)
    (grad,) = torch.autograd.grad(d(real).sum(), real, create_graph=True)
    d.zero_grad()
    grad.square().sum().backward()  # R1 penalty
    assert d.final_linear[0].weight.grad.abs().sum() > 0
