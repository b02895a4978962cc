"""Batches for the loop: shuffled cursors over the data, seeded augmentation, gathered from memory-mapped rows.

Each domain has a cursor (epoch, position) that full checkpoints save; paired data shares one cursor so that
A[i] stays with B[i]. The permutation of an epoch and the augmentation of a batch (random crop offsets and
horizontal flips, identical for both images of a pair) are drawn from generators seeded by (seed, domain,
epoch, position) alone, so a resumed run sees exactly the batches the uninterrupted run would have, and
under torchrun every rank takes its slice of the same global batch.
"""

from __future__ import annotations

import numpy as np
import torch

from gan_cli.errors import BadInput
from gan_cli.io.datasets import TrainData
from gan_cli.registry import Augment, Batch
from gan_cli.train.dist import Dist

SALT = {"x": 0, "A": 1, "B": 2}


class Cursor:
    """Shuffled indices, epoch after epoch, from a seed; the ragged tail of an epoch is dropped."""

    def __init__(self, n: int, seed: int, salt: int) -> None:
        self.n, self.seed, self.salt = n, seed, salt
        self.epoch, self.pos = 0, 0
        self._perm: torch.Tensor | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch + 7_919 * self.salt)
            self._perm = torch.randperm(self.n, generator=g)
        return self._perm

    def next(self, batch: int) -> tuple[torch.Tensor, torch.Generator]:
        """(global batch indices, the generator of this batch's augmentation draws)."""
        if batch > self.n:
            raise BadInput(f"the data set has {self.n} images, fewer than one batch ({batch}): lower --batch-size")
        if self.pos + batch > self.n:
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        idx = self._permutation()[self.pos : self.pos + batch]
        aug = torch.Generator().manual_seed(
            ((self.seed * 31 + self.salt) * 1_000_003 + self.epoch) * 1_000_033 + self.pos
        )
        self.pos += batch
        return idx, aug

    def state(self) -> torch.Tensor:
        return torch.tensor([self.epoch, self.pos], dtype=torch.int64)

    def load(self, t: torch.Tensor) -> None:
        epoch, pos = int(t[0]), int(t[1])
        if epoch < 0 or not 0 <= pos <= self.n:
            raise BadInput(f"checkpoint data cursor ({epoch}, {pos}) does not fit a data set of {self.n} images")
        self.epoch, self.pos, self._perm = epoch, pos, None


class Batcher:
    """Draws the batches of a family's task: {"x"(, "y")} or {"A", "B"}, float in [-1, 1] on the device."""

    def __init__(
        self,
        data: TrainData,
        task: str,
        size: int,
        augment: Augment,
        seed: int,
        d: Dist,
        device: torch.device,
        channels_last: bool = True,
    ) -> None:
        self.data, self.task, self.size, self.flip = data, task, size, augment.flip
        self.d, self.device, self.channels_last = d, device, channels_last
        self.groups = [("A", "B")] if data.paired else [(k,) for k in data.domains]
        self.cursors = {g[0]: Cursor(len(data.domains[g[0]]), seed, SALT[g[0]]) for g in self.groups}
        self.epoch = 0

    def next(self, batch_size: int) -> Batch:
        out: Batch = {}
        for group in self.groups:
            idx, aug = self.cursors[group[0]].next(batch_size)
            crops, flips = self._draws(self.data.domains[group[0]].size, batch_size, aug)
            idx = idx[self.d.rank :: self.d.world]
            crops, flips = crops[self.d.rank :: self.d.world], flips[self.d.rank :: self.d.world]
            for key in group:
                out[key] = self._images(self.data.domains[key].images, idx, crops, flips)
        if self.task == "class":
            out["y"] = torch.from_numpy(self.data.domains["x"].labels[idx.numpy()]).to(self.device)
        self.epoch = max(c.epoch for c in self.cursors.values())
        return out

    def _draws(self, stored: int, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        crops = torch.randint(0, stored - self.size + 1, (n, 2), generator=g)
        flips = torch.rand(n, generator=g) < 0.5 if self.flip else torch.zeros(n, dtype=torch.bool)
        return crops, flips

    def _images(self, rows: np.ndarray, idx: torch.Tensor, crops: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        x = torch.from_numpy(np.take(rows, idx.numpy(), axis=0))  # (B, H, W, C) uint8, gathered from the map
        if x.shape[1] != self.size:
            s = self.size
            x = torch.stack([img[y : y + s, x0 : x0 + s] for img, (y, x0) in zip(x, crops.tolist())])
        if flips.any():
            x[flips] = x[flips].flip(2)
        x = x.to(self.device, non_blocking=True).permute(0, 3, 1, 2)  # NCHW view of NHWC memory: channels-last
        x = x.float().div_(127.5).sub_(1.0)
        return x if self.channels_last else x.contiguous()

    def state(self) -> dict[str, torch.Tensor]:
        return {f"data.cursor.{k}": c.state() for k, c in self.cursors.items()}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        for k, c in self.cursors.items():
            key = f"data.cursor.{k}"
            if key not in tensors:
                raise BadInput(f"checkpoint has no {key} (saved for another kind of data?)")
            c.load(tensors[key])
        self.epoch = max(c.epoch for c in self.cursors.values())
