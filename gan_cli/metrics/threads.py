"""torch intra-op threads: set for a block of work, and whether threads pay off right now.

Threaded OpenMP work (LAPACK eigensolvers above all) stalls at every barrier when another process
holds one of the cores: with one busy process beside a 2-core run we measured eigh at 2048 take
40 s on two threads against 1.7 s on one, and the Inception pass at half speed. So the network runs
one single-threaded batch per core (extract.py), and the eigensolvers use threads only after a
quick probe shows that the cores are really free.
"""

from __future__ import annotations

import contextlib
import time
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


def free_threads(reps: int = 3) -> int:
    """All intra-op threads if they clearly speed up a float64 product right now, else 1. ~0.1 s.

    Conservative: the slowest threaded run must beat the fastest single-threaded one by 0.7x the
    thread count, so a core taken by another process, even now and then, means one thread.
    """
    n = torch.get_num_threads()
    if n < 2:
        return 1
    a = torch.rand(768, 768, dtype=torch.float64)
    single, threaded = [], []
    for _ in range(reps):
        for threads, times in ((1, single), (n, threaded)):
            with torch_threads(threads):
                t = time.perf_counter()
                a @ a
                times.append(time.perf_counter() - t)
    return n if min(single) > 0.7 * n * max(threaded[1:]) else 1
