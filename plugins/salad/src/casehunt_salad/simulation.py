"""The background simulation SALAD reweights: read once per process, as data are read.

The simulation is a file in the development-data layout. It is read as the core reads a
data file (``casehunt.sample.read_simulated``: every plugin's derived columns, finite
values checked) and, by default, preselected with the default CASE cuts of every plugin,
since the data the method sees passed them too (the pattern of QUAK's signal priors). It
is simulation, not data: reading it is no label leak. Every fold and signal region uses
the same simulation, so it is read once per process, not once per fold.
"""

from __future__ import annotations

import os
from pathlib import Path

from casehunt.errors import InputError
from casehunt.events import EventTable
from casehunt.sample import clear_simulated_cache, read_simulated


def clear_cache() -> None:
    """Forget every simulation read in this process."""
    clear_simulated_cache()


def check_simulation_path(path: str | os.PathLike[str]) -> Path:
    """The simulation's path, or an InputError naming it (before any training starts)."""
    p = Path(path).expanduser()
    if not p.is_file():
        what = "no such file" if not p.exists() else "not a file"
        raise InputError(
            f"salad: simulation {str(path)!r}: {what} (option 'simulation'; relative paths are "
            f"relative to the working directory {os.getcwd()}; make one with "
            "`casehunt generate qcd --pythia 'Tune:pp = 5' ...`)"
        )
    return p


def read_simulation(path: Path, preselect: bool) -> EventTable:
    """The simulated events with every derived column, preselected unless told not to."""
    return read_simulated(path, preselect=preselect)
