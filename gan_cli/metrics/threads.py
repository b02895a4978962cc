"""torch intra-op threads, set for a block of work and restored after it.

Threaded OpenMP work stalls at every barrier when another process holds one of the cores: with one
busy process beside a 2-core run the Inception pass ran at half speed (and torch's MKL eigh at 2048
took 40 s on two threads against 1.7 s on one). So the network runs one single-threaded batch per
core (extract.py); the Fréchet distance uses scipy's OpenBLAS, whose threads degrade gracefully.
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
