"""Provenance of a run: configuration, seeds, input checksums and package versions."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata as md
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Third-party packages whose versions change results.
TRACKED_PACKAGES = (
    "numpy",
    "scipy",
    "awkward",
    "h5py",
    "pluggy",
    "scikit-learn",
    "torch",
    "iminuit",
    "pyhf",
    "matplotlib",
)


def sha256(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of every casehunt distribution and the tracked third-party packages."""
    out = {}
    for dist in md.distributions():
        name = dist.metadata["name"]
        if name and (name.startswith("casehunt") or name.lower() in TRACKED_PACKAGES):
            out[name] = dist.version
    return dict(sorted(out.items()))


def git_revision(where: Path) -> str | None:
    """The commit of the source tree, with '+dirty' when it has local changes."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty else "")


def input_record(path: Path, n_events: int) -> dict[str, Any]:
    return {
        "path": str(path),
        "sha256": sha256(path),
        "bytes": path.stat().st_size,
        "events": n_events,
    }


def build_manifest(
    config: dict[str, Any], seeds: dict[str, Any], inputs: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "format_version": 1,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "config": config,
        "seeds": seeds,
        "inputs": inputs,
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_revision": git_revision(Path(__file__).resolve().parent),
        **extra,
    }
