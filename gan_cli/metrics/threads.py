"""torch intra-op threads, set for a block of work.

Threaded OpenMP work (LAPACK eigensolvers, convolutions split across cores) stalls at every barrier
when another process holds one of the cores: we measured eigh 2048 at 40 s instead of 0.9 s, and the
Inception forward pass at half speed, with one busy process beside a 2-core run. Single-threaded work
per core has no barriers, so FID work runs that way (one image batch per core, see extract.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)
