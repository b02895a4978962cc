"""MobileFaceNet and photo2cartoon's face-ID distance, laid out so minivision's `model_mobilefacenet.pth` loads.

photo2cartoon (minivision-ai) keeps a cartoon recognisably the same person with a face-ID term: the
cosine distance between a face-recognition network's embeddings of a photo and of its translation.
Their network is MobileFaceNet (Chen et al. 2018, in the InsightFace_Pytorch form their
`models/mobilefacenet.py` copies): 112x112 RGB in, a 512-d unit vector out. The module names below
are theirs (`conv1`, `conv_23`, `conv_3.model.<i>`, `conv_6_dw`, `linear`, `bn`, each conv block's
`conv` / `bn` / `prelu`), so the state dict of their file maps key for key.

Their `models/face_features.py` feeds it the generator's tensors as they are (in [-1, 1], no other
normalisation): it crops a centred square from 0.224 h to 0.857 h (the face of an aligned 256 px
portrait: 162 px from row 57, column 47), resizes it bilinearly (align_corners=True) to 112 px, and
returns 1 - cosine similarity per image. `FaceID` does the same; the network is frozen and in eval
mode (batch-norm running statistics), as theirs is.

Weights are read with `torch.load(weights_only=True)` (tensors and plain containers only, no code
runs) and checked against this layout: a missing, extra or misshapen tensor is an error naming it.
Files saved before PyTorch 0.4.1 have no `num_batches_tracked`; those (unused in eval mode) may be absent.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.errors import BadInput

__all__ = ["FaceID", "MobileFaceNet", "face_crop", "load_mobilefacenet"]

EMBEDDING = 512  # their FaceFeatures builds MobileFaceNet(512)
INPUT = 112  # the last depthwise conv is 7x7 over a 7x7 map: 112 / 16


class ConvBN(nn.Module):
    """conv (no bias) -> batch norm -> PReLU: their `Conv_block`; without PReLU, their `Linear_block`."""

    def __init__(
        self, cin: int, cout: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1,
        prelu: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.prelu = nn.PReLU(cout) if prelu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.bn(self.conv(x)))


class DepthWise(nn.Module):
    """Inverted bottleneck: 1x1 expand to `width`, 3x3 depthwise (stride 1 or 2), linear 1x1 projection;
    plus the input when `residual`. Their `Depth_Wise`, whose `groups` argument is the expanded width."""

    def __init__(self, cin: int, cout: int, width: int, stride: int, residual: bool = False) -> None:
        super().__init__()
        self.conv = ConvBN(cin, width)
        self.conv_dw = ConvBN(width, width, 3, stride, 1, groups=width)
        self.project = ConvBN(width, cout, prelu=False)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        return x + y if self.residual else y


class Residual(nn.Module):
    """`blocks` residual DepthWise units at constant width (their `Residual`, units under `model`)."""

    def __init__(self, channels: int, blocks: int, width: int) -> None:
        super().__init__()
        self.model = nn.Sequential(*(DepthWise(channels, channels, width, 1, residual=True) for _ in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MobileFaceNet(nn.Module):
    """112x112 RGB -> a unit-length embedding. Strides: conv1 and conv_23, conv_34, conv_45 halve the size."""

    def __init__(self, embedding: int = EMBEDDING) -> None:
        super().__init__()
        self.conv1 = ConvBN(3, 64, 3, 2, 1)
        self.conv2_dw = ConvBN(64, 64, 3, 1, 1, groups=64)
        self.conv_23 = DepthWise(64, 64, 128, 2)
        self.conv_3 = Residual(64, 4, 128)
        self.conv_34 = DepthWise(64, 128, 256, 2)
        self.conv_4 = Residual(128, 6, 256)
        self.conv_45 = DepthWise(128, 128, 512, 2)
        self.conv_5 = Residual(128, 2, 256)
        self.conv_6_sep = ConvBN(128, 512)
        self.conv_6_dw = ConvBN(512, 512, 7, groups=512, prelu=False)  # a learned global pooling over 7x7
        self.linear = nn.Linear(512, embedding, bias=False)
        self.bn = nn.BatchNorm1d(embedding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_5(self.conv_45(self.conv_4(self.conv_34(self.conv_3(self.conv_23(x))))))
        x = self.conv_6_dw(self.conv_6_sep(x)).flatten(1)
        x = self.bn(self.linear(x))
        return x / torch.norm(x, 2, 1, True)  # their l2_norm: no epsilon


def face_crop(h: int, w: int) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the square their FaceFeatures.infer crops from an h x w portrait
    (the same float expressions, truncated by int(), so the pixels match)."""
    top = int(h / 2.1 * (0.8 - 0.33))
    bottom = int(h - (h / 2.1 * 0.3))
    size = bottom - top
    left = int(w / 2 - size / 2)
    return top, bottom, left, left + size


class FaceID(nn.Module):
    """photo2cartoon's face-ID distance: 1 - cos(embedding(a), embedding(b)) per image, on a frozen net."""

    def __init__(self, net: MobileFaceNet) -> None:
        super().__init__()
        self.net = net.eval().requires_grad_(False)  # batch norm on its running statistics, as the reference

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom, left, right = face_crop(x.shape[2], x.shape[3])
        x = x[:, :, top:bottom, left:right]
        return self.net(F.interpolate(x, size=[INPUT, INPUT], mode="bilinear", align_corners=True))

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return 1 - torch.cosine_similarity(self.embed(a), self.embed(b))


def load_mobilefacenet(path: Path) -> MobileFaceNet:
    """MobileFaceNet with the weights of a state-dict file (their `model_mobilefacenet.pth`), checked key by key."""
    from gan_cli.convert import check_state_dict, read_state_dict

    net = MobileFaceNet()
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    try:
        sd = read_state_dict(path)
        optional = [k for k in expected if k.endswith("num_batches_tracked")]  # absent in files of older torch
        check_state_dict(sd, expected, f"{path} is not a MobileFaceNet(512) state dict", optional)
    except BadInput as e:
        raise BadInput(f"-o id_model: {e}") from None
    net.load_state_dict(sd, strict=False)  # every key checked above; only num_batches_tracked may be absent
    return net
