"""Physics processes as Pythia 8 settings.

The settings reproduce the development dataset (``shared/data/README.md``, whose HDF5
attributes record the exact Pythia strings): pp at sqrt(s) = 13 TeV with Pythia's
defaults for multi-parton interactions, showers and hadronisation (all on).

* ``qcd``: ``HardQCD:all`` above a pTHat threshold (default 1 TeV).
* ``wprime``: W' -> X Y as in the LHC Olympics 2020 R&D sample. X and Y are Pythia's
  charged Higgs (PDG 37) and A0 (PDG 36), re-purposed: masses set by hand and decays
  forced. Y -> q qbar (d, u, s, c, equal shares). X is either 2-prong, X -> q qbar'
  (u dbar, c sbar), or 3-prong, X -> q q q' (u u d, c c s). Pythia's resonance decays
  support the three-body decay of a colour singlet into three quarks: it generates flat
  phase space and connects the colours through a junction (``ResonanceDecays::
  pickColours``), the same colour structure as an R-parity-violating neutralino
  decay, and the junction is then hadronised by the string model. Charge is conserved
  (u u d has charge +1 like H+; the H- decays to the antiquarks). ``meMode = 100``
  makes Pythia use the branching ratios as given, which is what a re-purposed
  particle needs (with other modes Pythia would compute charged-Higgs partial widths
  and close the channels it does not know).

Only strings are built here, so the module imports without Pythia installed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from casehunt.generate.errors import ConfigError

#: Centre-of-mass energy [GeV].
SQRT_S = 13000.0

#: PDG ids of the re-purposed X and Y.
X_ID = 37
Y_ID = 36
WPRIME_ID = 34

#: Settings that the chunk-seeding scheme owns; users may not override them.
RESERVED_KEYS = frozenset({"random:seed", "random:setseed"})

#: Largest seed Pythia accepts (``Random:seed`` range).
MAX_PYTHIA_SEED = 900_000_000

_SETTING_RE = re.compile(r"^\s*[^=\s][^=]*=\s*\S.*$")


@dataclass(frozen=True)
class Process:
    """A process: its name, its normalised options, and its own Pythia settings."""

    name: str
    #: Value of the file attribute ``process`` (the reference files use "qcd" / "signal").
    label: str
    options: Mapping[str, Any] = field(default_factory=dict)
    settings: tuple[str, ...] = ()


def _num(x: float) -> str:
    """Format a float the way the reference files record it (``repr``: 3500.0)."""
    return repr(float(x))


def qcd(pthat_min: float = 1000.0) -> Process:
    """QCD dijets: all 2 -> 2 QCD processes with pTHat > ``pthat_min`` [GeV]."""
    pthat_min = float(pthat_min)
    if not pthat_min > 0:
        raise ConfigError(f"qcd option pthat_min must be positive, got {pthat_min}")
    return Process(
        name="qcd",
        label="qcd",
        options={"pthat_min": pthat_min},
        settings=("HardQCD:all = on", f"PhaseSpace:pTHatMin = {_num(pthat_min)}"),
    )


def _window(m: float) -> tuple[float, float]:
    """Breit-Wigner truncation for X and Y: m +- min(100 GeV, m/2), as in the reference."""
    half = min(100.0, 0.5 * m)
    return m - half, m + half


def wprime(
    mass: float = 3500.0,
    mx: float = 500.0,
    my: float = 100.0,
    x_prongs: int = 2,
    width: float = 10.0,
) -> Process:
    """W' (``mass``, ``width``) -> X (``mx``) Y (``my``); X 2- or 3-prong, Y -> q qbar.

    The W' line shape is truncated at 0.8 and 1.2 times its mass; X and Y have 1 GeV
    widths (narrow compared with the jet mass resolution), as in the reference sample.
    """
    mass, mx, my, width = float(mass), float(mx), float(my), float(width)
    if int(x_prongs) != x_prongs or int(x_prongs) not in (2, 3):
        raise ConfigError(f"wprime option x_prongs must be 2 or 3, got {x_prongs!r}")
    x_prongs = int(x_prongs)
    for key, value in (("mass", mass), ("mx", mx), ("my", my), ("width", width)):
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"wprime option {key} must be a positive number, got {value}")
    if mx + my >= mass:
        raise ConfigError(
            f"wprime: X + Y masses ({mx} + {my} GeV) must be below the W' mass ({mass} GeV)"
        )
    if mx < 10.0 or my < 10.0:
        raise ConfigError("wprime: X and Y masses must be at least 10 GeV (decays to quarks)")
    x_lo, x_hi = _window(mx)
    y_lo, y_hi = _window(my)
    if x_prongs == 2:
        x_decay = (f"{X_ID}:oneChannel = 1 0.5 100 2 -1", f"{X_ID}:addChannel = 1 0.5 100 4 -3")
    else:
        x_decay = (f"{X_ID}:oneChannel = 1 0.5 100 2 2 1", f"{X_ID}:addChannel = 1 0.5 100 4 4 3")
    settings = (
        "NewGaugeBoson:ffbar2Wprime = on",
        f"{WPRIME_ID}:m0 = {_num(mass)}",
        f"{WPRIME_ID}:mWidth = {_num(width)}",
        f"{WPRIME_ID}:mMin = {_num(0.8 * mass)}",
        f"{WPRIME_ID}:mMax = {_num(1.2 * mass)}",
        f"{WPRIME_ID}:oneChannel = 1 1.0 100 {X_ID} {Y_ID}",
        f"{X_ID}:m0 = {_num(mx)}",
        f"{X_ID}:mWidth = 1.0",
        f"{X_ID}:mMin = {_num(x_lo)}",
        f"{X_ID}:mMax = {_num(x_hi)}",
        *x_decay,
        f"{Y_ID}:m0 = {_num(my)}",
        f"{Y_ID}:mWidth = 1.0",
        f"{Y_ID}:mMin = {_num(y_lo)}",
        f"{Y_ID}:mMax = {_num(y_hi)}",
        f"{Y_ID}:oneChannel = 1 0.25 100 1 -1",
        f"{Y_ID}:addChannel = 1 0.25 100 2 -2",
        f"{Y_ID}:addChannel = 1 0.25 100 3 -3",
        f"{Y_ID}:addChannel = 1 0.25 100 4 -4",
    )
    return Process(
        name="wprime",
        label="signal",
        options={"mass": mass, "mx": mx, "my": my, "x_prongs": x_prongs, "width": width},
        settings=settings,
    )


PROCESSES: dict[str, Callable[..., Process]] = {"qcd": qcd, "wprime": wprime}
_OPTIONS: dict[str, frozenset[str]] = {
    "qcd": frozenset({"pthat_min"}),
    "wprime": frozenset({"mass", "mx", "my", "x_prongs", "width"}),
}


def make_process(name: str, options: Mapping[str, Any] | None = None) -> Process:
    """Build a process by name, rejecting unknown names and option keys by name."""
    if name not in PROCESSES:
        raise ConfigError(f"unknown process {name!r}; choose one of {sorted(PROCESSES)}")
    options = dict(options or {})
    unknown = sorted(set(options) - _OPTIONS[name])
    if unknown:
        raise ConfigError(
            f"unknown option(s) {unknown} for process {name!r}; allowed: {sorted(_OPTIONS[name])}"
        )
    return PROCESSES[name](**options)


def check_extra_settings(extra: Iterable[str]) -> tuple[str, ...]:
    """Validate pass-through settings ("Key = value"); the seed keys are reserved.

    Extra settings let a "simulation" sample differ from "data" (another tune, other
    shower parameters) while the process stays the same.
    """
    out = []
    for s in extra:
        if not isinstance(s, str) or not _SETTING_RE.match(s):
            raise ConfigError(f"Pythia setting {s!r} is not of the form 'Key = value'")
        key = s.split("=", 1)[0].strip().lower()
        if key in RESERVED_KEYS:
            raise ConfigError(
                f"Pythia setting {s!r} is reserved: the generator seeds each chunk itself "
                "(use the seed option instead)"
            )
        out.append(s.strip())
    return tuple(out)


def base_settings(seed: int) -> list[str]:
    """Beam and seed settings common to every process (13 TeV pp, Pythia defaults)."""
    if not 1 <= seed <= MAX_PYTHIA_SEED:
        # Pythia treats seed 0 as "seed from the clock", which would break reproducibility.
        raise ConfigError(f"seed must be in [1, {MAX_PYTHIA_SEED}], got {seed}")
    return [
        f"Beams:eCM = {SQRT_S:.0f}.",
        "Print:quiet = on",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
    ]


def pythia_settings(process: Process, seed: int, extra: Iterable[str] = ()) -> list[str]:
    """The full list of settings for one Pythia run: base, process, then extra settings."""
    return [*base_settings(seed), *process.settings, *check_extra_settings(extra)]
