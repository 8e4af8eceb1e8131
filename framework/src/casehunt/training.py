"""Helpers for method plugins' training loops: torch threads, weight snapshots, progress bars.

Neither imports torch or tqdm until it is used, so the core stays free of both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with `n` torch CPU threads (None: leave torch's setting), restoring it after.

    Networks of the plugins' size do many small matrix products; with several threads
    each waits on the others, and on a shared 2-core machine a busy neighbour makes
    every step up to a hundred times slower (CATHODE's flow: 400 ms against 5 ms per
    batch of 512 with one thread). One thread is the robust default.
    """
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar over `total` steps that disappears when done, or None when not `enabled`."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def state_copy(module: Any) -> dict[str, Any]:
    """A detached copy of a torch module's weights, e.g. to keep its best epoch.

    ``state_dict()`` returns views of the live parameters, which the next optimiser step
    would overwrite; each tensor is cloned.
    """
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
