"""The common event preselection: named cuts from configuration, and its cutflow.

Defaults follow CASE (arXiv:2412.03747, Sec. 3): both jets pT > 300 GeV and |eta| < 2.5,
|delta-eta_jj| < 1.3, and an mjj threshold (1460 GeV there, where the trigger is fully
efficient). Plugins add cuts through the ``casehunt_preselection_cuts`` hook; the core
orders all cuts and books the cutflow, chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from casehunt.errors import ConfigError
from casehunt.events import EventTable
from casehunt.hookspecs import hookimpl

DEFAULTS: dict[str, Any] = {
    "jet_pt_min": 300.0,  # GeV, both jets
    "jet_eta_max": 2.5,  # |eta|, both jets
    "delta_eta_max": 1.3,  # |eta_1 - eta_2|
    "mjj_min": 1460.0,  # GeV
    "mjj_max": None,  # GeV
    "windows": {},  # extra cuts: {column: [low, high]}
    "options": {},  # free-form settings for cuts that plugins add
}


@dataclass(frozen=True)
class Cut:
    """A named event selection: `passes(events)` returns one boolean per event."""

    name: str
    description: str
    passes: Callable[[EventTable], np.ndarray]
    order: int = 100
    columns: tuple[str, ...] = ()


@dataclass
class Cutflow:
    """Events passing each cut in turn, summed over chunks."""

    names: list[str]
    descriptions: list[str]
    total: int = 0
    passed: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.passed:
            self.passed = [0] * len(self.names)

    def to_dict(self) -> dict[str, Any]:
        rows, previous = [], self.total
        for name, desc, n in zip(self.names, self.descriptions, self.passed, strict=True):
            rows.append(
                {
                    "cut": name,
                    "description": desc,
                    "events": n,
                    "relative": n / previous if previous else 0.0,
                    "cumulative": n / self.total if self.total else 0.0,
                }
            )
            previous = n
        return {
            "initial": self.total,
            "cuts": rows,
            "final": self.passed[-1] if rows else self.total,
        }


def resolve_config(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The preselection section with defaults, refusing unknown keys."""
    section = dict(section or {})
    unknown = sorted(set(section) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown key(s) preselection.{', preselection.'.join(unknown)}; valid keys: "
            f"{', '.join(DEFAULTS)}"
        )
    cfg = {**DEFAULTS, **section}
    for key in ("jet_pt_min", "jet_eta_max", "delta_eta_max", "mjj_min", "mjj_max"):
        value = cfg[key]
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise ConfigError(f"preselection.{key} must be a number or null, got {value!r}")
    if not isinstance(cfg["windows"], Mapping):
        raise ConfigError("preselection.windows must map column names to [low, high]")
    for column, window in cfg["windows"].items():
        if not (isinstance(window, (list, tuple)) and len(window) == 2):
            raise ConfigError(f"preselection.windows.{column} must be [low, high], got {window!r}")
    return cfg


def _both(
    column: str, test: Callable[[np.ndarray], np.ndarray]
) -> Callable[[EventTable], np.ndarray]:
    return lambda ev: np.all(test(np.asarray(ev[column])), axis=1)


def _above(column: str, v: float) -> Callable[[EventTable], np.ndarray]:
    return lambda ev: np.asarray(ev[column]) > v


def _below(column: str, v: float) -> Callable[[EventTable], np.ndarray]:
    return lambda ev: np.asarray(ev[column]) < v


def _window(column: str, lo: float, hi: float) -> Callable[[EventTable], np.ndarray]:
    def passes(ev: EventTable) -> np.ndarray:
        x = np.asarray(ev[column])
        inside = (x >= lo) & (x < hi)
        return inside if x.ndim == 1 else np.all(inside, axis=1)

    return passes


def builtin_cuts(cfg: Mapping[str, Any]) -> list[Cut]:
    """The CASE cuts that are switched on (a null value switches a cut off)."""
    cuts = []
    if (v := cfg["jet_pt_min"]) is not None:
        pt_min = float(v)
        cuts.append(
            Cut(
                "jet_pt",
                f"both jets pT > {pt_min:g} GeV",
                _both("jet_pt", lambda x: x > pt_min),
                10,
                ("jet_pt",),
            )
        )
    if (v := cfg["jet_eta_max"]) is not None:
        eta_max = float(v)
        cuts.append(
            Cut(
                "jet_eta",
                f"both jets |eta| < {eta_max:g}",
                _both("jet_eta", lambda x: np.abs(x) < eta_max),
                20,
                ("jet_eta",),
            )
        )
    if (v := cfg["delta_eta_max"]) is not None:
        cuts.append(
            Cut(
                "delta_eta",
                f"|delta-eta_jj| < {v:g}",
                _below("delta_eta", float(v)),
                30,
                ("delta_eta",),
            )
        )
    if (v := cfg["mjj_min"]) is not None:
        cuts.append(Cut("mjj_min", f"mjj > {v:g} GeV", _above("mjj", float(v)), 40, ("mjj",)))
    if (v := cfg["mjj_max"]) is not None:
        cuts.append(Cut("mjj_max", f"mjj < {v:g} GeV", _below("mjj", float(v)), 41, ("mjj",)))
    for column, (lo, hi) in cfg["windows"].items():
        cuts.append(
            Cut(
                f"window_{column}",
                f"{lo:g} <= {column} < {hi:g}",
                _window(column, float(lo), float(hi)),
                50,
                (column,),
            )
        )
    return cuts


@hookimpl
def casehunt_preselection_cuts(config: dict[str, Any]) -> list[Cut]:
    return builtin_cuts(resolve_config(config))


class Preselection:
    """An ordered list of cuts that fills a cutflow as chunks pass through it."""

    def __init__(self, cuts: Iterable[Cut]) -> None:
        self.cuts = sorted(cuts, key=lambda c: c.order)
        names = [c.name for c in self.cuts]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ConfigError(f"preselection cut(s) defined twice: {', '.join(sorted(dupes))}")
        self.cutflow = Cutflow(names, [c.description for c in self.cuts])

    def apply(self, events: EventTable) -> np.ndarray:
        """The mask of events passing every cut; books the cutflow."""
        keep = np.ones(events.n_events, dtype=bool)
        self.cutflow.total += events.n_events
        for i, cut in enumerate(self.cuts):
            keep &= np.asarray(cut.passes(events), dtype=bool)
            self.cutflow.passed[i] += int(keep.sum())
        return keep
