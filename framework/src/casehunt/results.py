"""Writing the results directory (layout in DESIGN.md) that reviewers rerun.

Everything is written into a temporary sibling folder that is renamed into place at the
end, so a failed run leaves no half-written results directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from casehunt.errors import CasehuntError
from casehunt.regions import SignalRegion

SELECTION_FORMAT_VERSION = 1


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_json_default, allow_nan=False) + "\n")


@contextlib.contextmanager
def staging_directory(output: Path, overwrite: bool) -> Iterator[Path]:
    """A temporary folder that becomes `output` only if the body finishes."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise CasehuntError(
            f"{output}: the results directory exists; use --overwrite or another --output"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.with_name(f".{output.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if output.exists():
        shutil.rmtree(output)
    staging.rename(output)


def write_scores(
    path: Path,
    *,
    event_id: np.ndarray,
    mjj: np.ndarray,
    score: np.ndarray,
    fold: np.ndarray,
    selected: np.ndarray,
    injected: np.ndarray,
    labels: np.ndarray | None,
    attrs: dict[str, Any],
) -> None:
    """Per-event scores of one method in one region."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("event_id", data=event_id.astype(np.int64))
        f.create_dataset("mjj", data=mjj.astype(np.float64))
        f.create_dataset("score", data=score.astype(np.float64))
        f.create_dataset("fold", data=fold.astype(np.int16))
        f.create_dataset("selected", data=selected.astype(bool))
        f.create_dataset("injected", data=injected.astype(bool))
        if labels is not None:
            f.create_dataset("label", data=labels.astype(np.int8))
        for key, value in attrs.items():
            f.attrs[key] = value


def write_selection(
    path: Path, method: str, selections: dict[str, dict[str, Any]], resonant_feature: str = "mjj"
) -> None:
    """The selected events of every region of one method, as they go into the fit.

    One group per region with datasets event_id, mjj, score and attributes efficiency,
    threshold and the window edges (the contract read by casehunt_stats.rerun). The
    `mjj` datasets of every results file hold the resonant feature, whichever it is, so
    that old and new results read alike; the root attribute `resonant_feature` names it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs["method"] = method
        f.attrs["format_version"] = SELECTION_FORMAT_VERSION
        f.attrs["resonant_feature"] = resonant_feature
        for name, sel in selections.items():
            region: SignalRegion = sel["region"]
            g = f.create_group(name)
            g.create_dataset("event_id", data=np.asarray(sel["event_id"], dtype=np.int64))
            g.create_dataset("mjj", data=np.asarray(sel["mjj"], dtype=np.float64))
            g.create_dataset("score", data=np.asarray(sel["score"], dtype=np.float64))
            g.attrs["efficiency"] = float(sel["efficiency"])
            g.attrs["threshold"] = float(sel["threshold"])
            for key in ("low", "high", "sb_low", "sb_high"):
                g.attrs["sr_" + key if key in ("low", "high") else key] = float(
                    getattr(region, key)
                )


def write_spectrum(path: Path, mjj: np.ndarray, **attrs: Any) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("mjj", data=np.asarray(mjj, dtype=np.float64))
        for key, value in attrs.items():
            f.attrs[key] = value


def write_signal_templates(
    path: Path, templates: dict[int, np.ndarray], resonant_feature: str = "mjj"
) -> None:
    """Preselected signal values of the resonant feature per signal mass, for the shape fit."""
    with h5py.File(path, "w") as f:
        f.attrs["resonant_feature"] = resonant_feature
        for mass, mjj in templates.items():
            f.create_group(str(int(mass))).create_dataset("mjj", data=np.asarray(mjj, np.float64))
