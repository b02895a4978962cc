"""Winograd F(4x4, 3x3) for the ResNet generator's 3x3 convolutions, as a lever measured by bench_levers.py.

Not used by gan-cli itself: it only pays when compiled with torch.compile (inductor fuses the tile
transforms into a few loops); in eager PyTorch the transforms cost more than they save (measured: 102 ms
against 83 ms for a direct 256 -> 256 convolution at 64 px, batch 4). Compiled: ~41-53 ms.

The maths (Lavin & Gray, 2015): each 4x4 output tile is A^T [(G w G^T) * (B^T d B)] A, for the 6x6 input
tile d that covers it. The 36 element-wise products over all tiles and channels are 36 matrix products
(tiles x C_in) @ (C_in x C_out): 4x fewer multiplications than the direct convolution. fp32 error is ~2e-5
relative (against 3e-7 for the direct one), far under one 8-bit level after the network.

Layout is NHWC throughout, so that every tile gather reads runs of C contiguous floats.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

B_T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0],
       [0, 4, 0, -5, 0, 1]]  # fmt: skip
A_T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
G = torch.tensor(
    [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
     [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=torch.float64,
)  # fmt: skip


def combine(rows: list[list[int]], xs: list[torch.Tensor]) -> list[torch.Tensor]:
    """[sum_j rows[i][j] * xs[j] for each row i], skipping zero coefficients (the matrices are sparse)."""
    out = []
    for row in rows:
        terms = [x if c == 1 else -x if c == -1 else x * c for c, x in zip(row, xs) if c]
        acc = terms[0]
        for t in terms[1:]:
            acc = acc + t
        out.append(acc)
    return out


def transform_weight(w: torch.Tensor) -> torch.Tensor:
    """Conv weight (C_out, C_in, 3, 3) -> (36, C_in, C_out): G w G^T per filter, computed in float64."""
    u = (G @ w.double() @ G.T).float()
    return u.reshape(w.shape[0], w.shape[1], 36).permute(2, 1, 0).contiguous()


def conv3x3(x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Valid 3x3 convolution of NHWC x (N, H + 2, W + 2, C), H and W multiples of 4, by `transform_weight`'s u."""
    n, hp, wp, c = x.shape
    th, tw = (hp - 2) // 4, (wp - 2) // 4
    rows = combine(B_T, [x[:, i : i + 4 * th : 4] for i in range(6)])
    v = [t for r in rows for t in combine(B_T, [r[:, :, j : j + 4 * tw : 4] for j in range(6)])]
    m = torch.bmm(torch.stack(v).view(36, n * th * tw, c), u).view(6, 6, n, th, tw, -1)
    cols = [combine(A_T, [m[i, j] for j in range(6)]) for i in range(6)]  # cols[i][b]
    y = [combine(A_T, [cols[i][b] for i in range(6)]) for b in range(4)]  # y[b][a]
    tiles = torch.stack([torch.stack([y[b][a] for b in range(4)], 3) for a in range(4)], 2)  # n th a tw b C
    return tiles.reshape(n, 4 * th, 4 * tw, -1)


def _reflect(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x.permute(0, 3, 1, 2), [1, 1, 1, 1], mode="reflect").permute(0, 2, 3, 1)


def _instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    var, mean = torch.var_mean(x, dim=(1, 2), keepdim=True, correction=0)
    return (x - mean) * torch.rsqrt(var + eps)


def resnet_block(h: torch.Tensor, u1: torch.Tensor, u2: torch.Tensor) -> torch.Tensor:
    """junyanz's ResnetBlock (reflection pad, conv, instance norm, ReLU, pad, conv, instance norm, + h) in NHWC.
    The convolutions' biases are left out: the instance norm after each removes any per-channel constant."""
    y = torch.relu(_instance_norm(conv3x3(_reflect(h), u1)))
    return h + _instance_norm(conv3x3(_reflect(y), u2))


class WinogradResnet(nn.Module):
    """A junyanz ResnetGenerator (instance norm, no dropout) whose residual blocks run `resnet_block`, compiled once
    for all blocks; the layers before and after are compiled as they are (inductor, weights frozen)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        layers = list(net.model)
        blocks = [i for i, m in enumerate(layers) if type(m).__name__ == "ResnetBlock"]
        first, last = blocks[0], blocks[-1]
        self.head = torch.compile(nn.Sequential(*layers[:first]))
        self.tail = torch.compile(nn.Sequential(*layers[last + 1 :]))
        # plain tensors, not parameters: compiled code takes them as inputs, so one compilation serves every block
        self.u = [tuple(transform_weight(layers[i].conv_block[k].weight.detach()) for k in (1, 5)) for i in blocks]
        self.block = torch.compile(resnet_block, dynamic=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x).permute(0, 2, 3, 1).contiguous()
        for u1, u2 in self.u:
            h = self.block(h, u1, u2)
        return self.tail(h.permute(0, 3, 1, 2))
