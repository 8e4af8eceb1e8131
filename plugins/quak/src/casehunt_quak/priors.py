"""Signal priors: simulated signal samples, read once, and their flows, trained once.

A prior is a file in the development-data layout (or, for tests and notebooks, an
:class:`~casehunt.events.EventTable` with the derived columns, used as given: no
preselection). Its events are simulation, not data, so using them
is no label leak: they play the role of the "alternative signal priors" of QUAK (Park et
al., arXiv:2011.03550, Sec. 2). They are read as the core reads a signal file
(``casehunt.sample.read_simulated``): every plugin's derived
columns, finite values checked, and, by default, the CASE preselection with its default
cuts, since the data the method sees passed it too.

A prior's flow depends only on the prior's feature values, the flow options and the
prior seed, not on the data or the fold: it is trained once per process and shared by
every fold and signal region (5 folds x 12 regions would otherwise train it 60 times).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from casehunt.errors import InputError
from casehunt.events import EventTable
from casehunt.sample import clear_simulated_cache, read_simulated
from casehunt_quak.flow import DensityFlow, FlowConfig

#: columns never read from a prior file: jet constituents are large and no event-level
#: feature needs them
SKIPPED_COLUMNS = frozenset({"jet_const"})

_FLOWS: dict[tuple[Any, ...], DensityFlow] = {}


def clear_caches() -> None:
    """Forget every prior read and every prior flow trained in this process."""
    clear_simulated_cache()
    _FLOWS.clear()


def prior_name(prior: str | os.PathLike[str] | EventTable, index: int) -> str:
    """A short name for messages: the file name, or ``prior <i>`` for a table."""
    if isinstance(prior, EventTable):
        return f"prior {index} (in memory)"
    return Path(prior).name


def check_prior_path(prior: str | os.PathLike[str]) -> Path:
    """The prior's path, or an InputError naming it (before any training starts)."""
    path = Path(prior).expanduser()
    if not path.is_file():
        what = "no such file" if not path.exists() else "not a file"
        raise InputError(
            f"quak: signal prior {str(prior)!r}: {what} (option 'priors'; relative paths are "
            f"relative to the working directory {os.getcwd()})"
        )
    return path


def read_prior(path: Path, preselect: bool) -> EventTable:
    """The events of a prior file with derived columns (and preselected), read once."""
    return read_simulated(path, preselect=preselect, skip_columns=SKIPPED_COLUMNS)


#: the per-jet mass columns that mass broadening scales (every derived mass column,
#: mj1, mj2, delta_mj and the mass ordering, is recomputed from them)
MASS_COLUMNS = ("jet_m", "jet_msd")


def broaden_masses(events: EventTable, width: float, copies: int, seed: int) -> EventTable:
    """`copies` copies of a prior, each jet's mass scaled by its own exp(U(-width, width)).

    A prior simulated at daughter masses (m_X, m_Y) becomes a family of hypotheses with
    daughter masses log-uniform within a factor exp(+-width) of each, independently: the
    prior's mass resolution and substructure are kept and moved to other masses (a
    two-prong jet stays two-prong when its mass changes at fixed parent mass). The
    derived columns (mass ordering included) are recomputed by every plugin's hook.
    """
    from casehunt.plugins import get_registry
    from casehunt.sample import derive

    present = [c for c in MASS_COLUMNS if c in events.columns]
    if not present:
        raise InputError(
            "quak: mass broadening needs the per-jet mass columns "
            f"{' or '.join(MASS_COLUMNS)} in the prior, which has none"
        )
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(copies):
        f = np.exp(rng.uniform(-width, width, (events.n_events, 2)))
        scaled = {c: np.asarray(events[c], dtype=np.float64) * f for c in present}
        parts.append(derive(events.with_columns(**scaled), get_registry().pm, {}))
    return parts[0] if copies == 1 else EventTable.concatenate(parts)


def prior_features(
    prior: str | os.PathLike[str] | EventTable,
    index: int,
    columns: Sequence[str],
    preselect: bool,
    max_events: int | None,
    seed: int,
    broadening: tuple[float, int] | None = None,
) -> np.ndarray:
    """The (N, F) feature matrix of one prior, non-finite rows dropped, at most `max_events`.

    `broadening` = (width, copies): the prior's events are first mass-broadened
    (:func:`broaden_masses`); `max_events` then limits the events before copying.
    """
    name = prior_name(prior, index)
    if isinstance(prior, EventTable):
        events = prior
    else:
        events = read_prior(check_prior_path(prior), preselect)
    if broadening is not None:
        if max_events is not None and events.n_events > max_events:
            rng = np.random.default_rng([seed, index])
            events = events.take(np.sort(rng.choice(events.n_events, max_events, replace=False)))
        width, copies = broadening
        events = broaden_masses(
            events,
            width,
            copies,
            int(np.random.SeedSequence([seed, index, 1]).generate_state(1)[0]),
        )
        max_events = None
    missing = [c for c in columns if c not in events.columns]
    if missing:
        raise InputError(
            f"quak: signal prior {name}: no column(s) {', '.join(map(repr, missing))} after "
            "the derived columns; it must be in the development-data layout"
        )
    x = events.matrix(columns)
    x = x[np.all(np.isfinite(x), axis=1)]
    if max_events is not None and len(x) > max_events:
        rng = np.random.default_rng([seed, index])
        x = x[np.sort(rng.choice(len(x), max_events, replace=False))]
    if len(x) < 20:
        raise InputError(
            f"quak: signal prior {name}: {len(x)} usable events (after the preselection); "
            "a density needs far more"
        )
    return x


def prior_flow(
    x: np.ndarray,
    config: FlowConfig,
    seed: int,
    device: str,
    progress: bool,
    label: str,
    log_columns: tuple[bool, ...] = (),
) -> DensityFlow:
    """The unconditional flow of one prior sample, trained once per process."""
    digest = hashlib.sha1(np.ascontiguousarray(x, dtype=np.float64).tobytes()).hexdigest()
    key = (digest, x.shape, config, seed, device, log_columns)
    flow = _FLOWS.get(key)
    if flow is None:
        flow = DensityFlow(
            config,
            conditional=False,
            seed=seed,
            device=device,
            progress=progress,
            log_columns=log_columns,
        )
        flow.label = label
        flow.fit(x)
        _FLOWS[key] = flow
    return flow
