"""Fast settings for the VRNN tests.

(A uniquely named helper module: test modules import it, never a `conftest`.)
"""

from __future__ import annotations

from typing import Any

#: A small network and few epochs: a fit takes seconds on a shared CPU.
FAST: dict[str, Any] = {
    "n_constituents": 12,
    "hidden": 16,
    "epochs": 2,
    "batch_size": 512,
    "progress": False,
    "device": "cpu",
}
