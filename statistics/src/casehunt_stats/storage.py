"""Reading the framework's saved selections and writing results atomically."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .errors import StatsError

__all__ = ["jsonable", "read_inclusive", "read_selection", "read_signal_templates", "write_json"]

REGION_ATTRS = ("efficiency", "threshold", "sr_low", "sr_high", "sb_low", "sb_high")


def jsonable(obj: Any) -> Any:
    """Convert numpy types and non-finite floats (to None) for strict JSON."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(jsonable(data), indent=2, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        raise StatsError(f"missing file: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise StatsError(f"cannot read HDF5 file {path}: {exc}") from exc


def read_selection(path: Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """Read ``<method>/selection.h5``: (method attr, {region: {mjj, score, event_id, attrs}})."""
    path = Path(path)
    regions: dict[str, dict[str, Any]] = {}
    with _open(path) as fh:
        try:
            method = fh.attrs.get("method", path.parent.name)
            method = method.decode() if isinstance(method, bytes) else str(method)
            version = int(fh.attrs.get("format_version", 1))
            if version != 1:
                raise StatsError(f"{path}: unsupported format_version {version} (expected 1)")
            for name, grp in fh.items():
                if not isinstance(grp, h5py.Group):
                    continue
                if "mjj" not in grp:
                    raise StatsError(f"{path}: region {name!r} has no 'mjj' dataset")
                reg: dict[str, Any] = {"mjj": np.asarray(grp["mjj"][()], dtype=float)}
                for key in ("score", "event_id"):
                    if key in grp:
                        reg[key] = np.asarray(grp[key][()])
                for key in REGION_ATTRS:
                    if key not in grp.attrs:
                        raise StatsError(f"{path}: region {name!r} lacks the attribute {key!r}")
                    reg[key] = float(grp.attrs[key])
                regions[name] = reg
        except StatsError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise StatsError(f"corrupt selection file {path}: {exc}") from exc
    return method, regions


def read_inclusive(path: Path) -> np.ndarray:
    """Read ``inclusive.h5`` (dataset ``mjj`` at the root)."""
    path = Path(path)
    with _open(path) as fh:
        if "mjj" not in fh:
            raise StatsError(f"{path}: no 'mjj' dataset at the root")
        try:
            return np.asarray(fh["mjj"][()], dtype=float)
        except (OSError, ValueError, TypeError) as exc:
            raise StatsError(f"corrupt inclusive file {path}: {exc}") from exc


def read_resonant_feature(path: Path) -> str:
    """The resonant feature held by the ``mjj`` datasets (attribute ``resonant_feature``).

    The datasets keep the name ``mjj`` whatever the feature, so that results of every
    version read alike; files written before the attribute existed hold mjj.
    """
    with _open(Path(path)) as fh:
        name = fh.attrs.get("resonant_feature", "mjj")
    return name.decode() if isinstance(name, bytes) else str(name)


def read_signal_templates(path: Path) -> dict[float, np.ndarray]:
    """Read ``signal_templates.h5``: one group per mass (integer GeV name) with ``mjj``."""
    path = Path(path)
    out: dict[float, np.ndarray] = {}
    with _open(path) as fh:
        for name, grp in fh.items():
            try:
                mass = float(int(name))
            except ValueError as exc:
                raise StatsError(f"{path}: group {name!r} is not a mass in GeV") from exc
            if not isinstance(grp, h5py.Group) or "mjj" not in grp:
                raise StatsError(f"{path}: group {name!r} has no 'mjj' dataset")
            out[mass] = np.asarray(grp["mjj"][()], dtype=float)
    return out
