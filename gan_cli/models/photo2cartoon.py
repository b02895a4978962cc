"""Photo2Cartoon (minivision-ai): U-GAT-IT with hourglass modules and Soft-AdaLIN, for aligned face portraits.

The generator is gan_cli/nets/photo2cartoon.py (minivision's `ResnetGenerator`, keys as in their
`photo2cartoon_weights.pt`); the four discriminators are U-GAT-IT's, which minivision's `networks.py`
defines identically. Training is their `models/UGATIT_sadalin_hourglass.py`, which is U-GAT-IT's (see
ugatit.py) with these differences: cycle weight 50 (not 10), rho clipped to [0, rho_clip] and the
Soft-AdaLIN blend weights to [0, w_clip] after each generator step, and a face-ID term: 1 - cosine
similarity of a face-recognition net's (MobileFaceNet) embeddings of a photo and of its cartoon, both ways,
weight `faceid_weight`. Their defaults: ngf = ndf = 32, 4 residual blocks, light, 256 px, batch 1.

The face-ID term is on when the user gives the face-recognition network's weights, `-o id_model=PATH`
(minivision's `model_mobilefacenet.pth`, read without running code: gan_cli/nets/mobilefacenet.py), and
off otherwise (as the reference would be with faceid_weight=0). The path is an option, so checkpoints
record it and `gan info` says whether the term is on; the network itself is not saved (it is frozen), so
`--resume` reads the file again, and sample/translate never need it. The reference adds the term per
image ([batch]-shaped; its single-GPU code only runs at batch 1, its multi-GPU code takes the mean); here
it is the batch mean, the same value at batch 1.

The network is RGB in and out; gray domains are repeated to three channels on the way in and averaged
back on the way out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_cli.errors import BadInput
from gan_cli.models.ugatit import GENERATORS, UGATIT, to_channels
from gan_cli.nets import photo2cartoon as p2c
from gan_cli.nets import ugatit as nets
from gan_cli.nets.mobilefacenet import FaceID, load_mobilefacenet
from gan_cli.registry import option, register


@dataclass
class Photo2CartoonOptions:
    light: bool = option(True, "light version: the gamma/beta MLP reads pooled features (any size)")
    ngf: int = option(32, "generator base width, divisible by 4 (the reference's --ch)", min=4, max=512)
    ndf: int = option(32, "discriminator base width (the reference's --ch)", min=1, max=512)
    d_global_layers: int = option(7, "global discriminator depth (size >= 3 * 2^(layers-2))", min=3, max=9)
    d_local_layers: int = option(5, "local discriminator depth (size >= 3 * 2^(layers-2))", min=3, max=9)
    adv_weight: float = option(1.0, "weight of the adversarial terms (outputs and CAM logits)", min=0, max=1e6)
    cycle_weight: float = option(50.0, "weight of the L1 cycle term", min=0, max=1e6)
    identity_weight: float = option(10.0, "weight of the L1 identity term", min=0, max=1e6)
    cam_weight: float = option(1000.0, "weight of the generators' CAM (BCE) term", min=0, max=1e6)
    faceid_weight: float = option(1.0, "weight of the face-ID term (only with id_model)", min=0, max=1e6)
    id_model: str = option("", "MobileFaceNet weights (minivision's model_mobilefacenet.pth): face-ID term ('' = off)")
    rho_clip: float = option(1.0, "AdaLIN/LIN rho is clipped to [0, rho_clip] after each G step", min=0, max=1)
    w_clip: float = option(1.0, "Soft-AdaLIN blend weights are clipped to [0, w_clip] after each G step", min=0, max=1)
    weight_decay: float = option(1e-4, "Adam weight decay (L2), both optimizers", min=0, max=1)
    decay: bool = option(True, "linear lr decay to 0 over the second half of --steps")


@register
class Photo2Cartoon(UGATIT):
    name = "photo2cartoon"
    summary = "Photo2Cartoon: U-GAT-IT with hourglass blocks and Soft-AdaLIN for face portraits (minivision-ai)"
    Options = Photo2CartoonOptions
    tiny = {"light": True, "ngf": 4, "ndf": 2, "d_global_layers": 4, "d_local_layers": 3}
    sizes = (32, 64, 128, 256)  # the hourglasses halve the size four times
    face_prep = True  # translate detects, aligns and segments faces first, as minivision's test.py
    face_id: FaceID | None = None  # the frozen face-ID net while training with -o id_model

    def build(self) -> dict[str, nn.Module]:
        if self.opts.ngf % 4:
            raise BadInput(f"{self.name}: -o ngf must be divisible by 4 (the hourglass widths), not {self.opts.ngf}")
        return super().build()

    def prepare_training(self, device: torch.device) -> None:
        self.face_id = FaceID(load_mobilefacenet(Path(self.opts.id_model))).to(device) if self.opts.id_model else None

    def extra_g_loss(self, real: torch.Tensor, translated: torch.Tensor) -> dict[str, tuple[float, torch.Tensor]]:
        """The reference's G_id_loss: face-ID distance of a domain's real images to their translations."""
        if self.face_id is None:
            return {}
        distance = self.face_id(to_channels(real, 3), to_channels(translated, 3))
        return {"faceid": (self.opts.faceid_weight, distance.mean())}

    @classmethod
    def notes(cls, options: Mapping[str, Any]) -> list[str]:
        path = options.get("id_model")
        if not path:
            return ["face-ID loss off (no -o id_model)"]
        return [f"face-ID loss on: weight {options.get('faceid_weight')}, MobileFaceNet from {path}"]

    def generator(self, cin: int, cout: int) -> nn.Module:
        return p2c.ResnetGenerator(self.opts.ngf, self.size, self.opts.light)

    def net_channels(self, name: str) -> tuple[int, int]:
        return (3, 3)

    def clip(self) -> None:
        """The reference's RhoClipper(0, rho_clip) and WClipper(0, w_clip) on both generators."""
        for n in GENERATORS:
            nets.clip_rho_(self.nets[n], 0.0, self.opts.rho_clip)
            p2c.clip_blend_(self.nets[n], self.opts.w_clip)
