#!/usr/bin/env python
"""Stack row ranges of event files into one file, to build a benchmark data folder.

The suite reads fixed row ranges of ``qcd.h5`` (``protocol.SPLITS``: rows 0-300k are the
data, 300k-500k the idealized detector's template). To run it on another background
sample, stack that sample's rows in front of a template:

    .venv/bin/python benchmarks/stack_rows.py /tmp/third/qcd.h5 \
        generated/qcd_third.h5:0:300000 ../shared/data/lhcolike/qcd.h5:300000:500000

Every per-event dataset (first axis = the file's event count) is copied; datasets that
are not per event (a generator's chunk table) are not. The output's ``stacked_from``
attribute records each range with its file's SHA-256 and generator attributes, so the
stacked file says where every row came from. Written to a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from casehunt.manifest import sha256


class StackError(Exception):
    """A range or file that cannot be stacked; the message names it."""


def parse_range(text: str) -> tuple[Path, int, int | None]:
    """``FILE[:START[:STOP]]`` -> (file, start, stop); stop None means to the end."""
    path, *bounds = text.split(":")
    if len(bounds) > 2:
        raise StackError(f"range {text!r}: expected FILE[:START[:STOP]]")
    try:
        start = int(bounds[0]) if bounds else 0
        stop = int(bounds[1]) if len(bounds) == 2 else None
    except ValueError:
        raise StackError(f"range {text!r}: START and STOP must be integers") from None
    return Path(path), start, stop


def _event_count(f: h5py.File, path: Path) -> int:
    if "mjj" not in f:
        raise StackError(f"{path}: no 'mjj' dataset; not an event file")
    return int(f["mjj"].shape[0])


def _plain(value: Any) -> Any:
    """An HDF5 attribute as JSON."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def stack(output: Path, ranges: list[tuple[Path, int, int | None]]) -> int:
    """Write the rows of ``ranges``, in order, to ``output``; returns the event count."""
    if not ranges:
        raise StackError("no input ranges")
    files, columns, record = [], None, []
    try:
        for path, start, stop in ranges:
            if not path.is_file():
                raise StackError(f"{path}: no such file")
            try:
                f = h5py.File(path, "r")
            except OSError as err:
                raise StackError(f"{path}: not a readable HDF5 file ({err})") from None
            files.append(f)
            n = _event_count(f, path)
            stop = n if stop is None else stop
            if not 0 <= start < stop <= n:
                raise StackError(f"{path}: rows [{start}, {stop}) outside its {n} events")
            per_event = {
                k: (v.shape[1:], v.dtype)
                for k, v in f.items()
                if isinstance(v, h5py.Dataset) and v.shape[:1] == (n,)
            }
            if columns is None:
                columns = per_event
            elif per_event != columns:
                names = sorted(k for k in per_event | columns if per_event.get(k) != columns.get(k))
                raise StackError(f"{path}: columns differ from the first file's: {names}")
            record.append(
                {
                    "file": str(path),
                    "sha256": sha256(path),
                    "start": start,
                    "stop": stop,
                    "attrs": {k: _plain(v) for k, v in f.attrs.items()},
                }
            )
        assert columns is not None
        total = sum(r["stop"] - r["start"] for r in record)
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        try:
            with h5py.File(partial, "w") as out:
                for name, (_, dtype) in columns.items():
                    parts = [
                        f[name][r["start"] : r["stop"]] for f, r in zip(files, record, strict=True)
                    ]
                    out.create_dataset(name, data=np.concatenate(parts), dtype=dtype)
                out.attrs["n_accepted"] = np.int64(total)
                out.attrs["stacked_from"] = json.dumps(record, default=str)
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
        return total
    finally:
        for f in files:
            f.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the stacked file (e.g. DIR/qcd.h5)")
    parser.add_argument("ranges", nargs="+", help="FILE[:START[:STOP]], in order")
    args = parser.parse_args(argv)
    try:
        n = stack(args.output, [parse_range(r) for r in args.ranges])
    except (StackError, OSError) as err:
        print(f"stack_rows: {err}", file=sys.stderr)
        return 2
    print(f"{args.output}: {n} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
