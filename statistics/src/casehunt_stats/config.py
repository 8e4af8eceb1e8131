"""The statistics configuration shared by the framework and the reviewer rerun."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["StatsConfig"]


@dataclasses.dataclass(frozen=True)
class StatsConfig:
    """Every setting of the statistical analysis, with CASE defaults.

    Attributes:
        sqrt_s: centre-of-mass energy in GeV; x = mjj / sqrt_s in the dijet function.
        fit_range: ``[lo, hi]`` of the background fit in GeV; None takes it from the
            data (lowest selected mjj rounded down, highest rounded up, to ``bin_width``).
        bin_width: width of the fine likelihood bins in GeV (CASE: 4 GeV).
        ftest_threshold: F-test p-value below which the larger model is taken (0.10).
        max_rel_uncertainty: cap on the relative fit uncertainty at the signal mass
            for taking the larger model (0.15).
        n_params: candidate numbers of dijet-function parameters, smallest first.
        mass_hypotheses: ``{"start", "stop", "step"}`` in GeV (stop inclusive) or an
            explicit list; None = 100 GeV steps inside the fit range.
        resolution: Gaussian-fallback signal width as a fraction of the mass.
        mass_scale_unc: signal mass-scale uncertainty (fraction, CASE 1%).
        resolution_unc: signal resolution uncertainty (fraction, CASE 3.5%).
        luminosity: integrated luminosity in fb^-1 (cross sections only when set).
        presel_efficiency: signal preselection efficiency used for cross sections.
        signal_efficiency: signal selection efficiency of a method's selection
            used for its cross-section limits (None: no method cross sections).
        cl: confidence level of the upper limits (0.95).
        limit_calculator: ``"asymptotics"`` (default) or ``"toybased"`` (pyhf).
        limit_toys: number of toys when ``limit_calculator == "toybased"``.
        compute_limits: compute CLs limits in the rerun (slowest step).
        global_toys: background-only toys for the global significance (0 = off).
        min_events: fewer selected events in the fit range than this: the region is
            recorded as failed instead of fitted.
        poor_fit_pvalue: chi2 p-value under which the fit range is retried with a
            raised lower / lowered upper edge (CASE); 0 disables the retry.
        seed: random seed for toys.
    """

    sqrt_s: float = 13000.0
    fit_range: tuple[float, float] | None = None
    bin_width: float = 4.0
    ftest_threshold: float = 0.10
    max_rel_uncertainty: float = 0.15
    n_params: tuple[int, ...] = (3, 4, 5)
    mass_hypotheses: Any = None
    resolution: float = 0.05
    mass_scale_unc: float = 0.01
    resolution_unc: float = 0.035
    luminosity: float | None = None
    presel_efficiency: float = 1.0
    signal_efficiency: float | None = None
    cl: float = 0.95
    limit_calculator: str = "asymptotics"
    limit_toys: int = 1000
    compute_limits: bool = True
    global_toys: int = 0
    min_events: int = 50
    poor_fit_pvalue: float = 0.0
    seed: int = 12345

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> StatsConfig:
        """Build a config from a mapping; unknown keys and bad values raise ValueError."""
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise ValueError(f"statistics config must be a mapping, got {type(d).__name__}")
        valid = [f.name for f in dataclasses.fields(cls)]
        for key in d:
            if key not in valid:
                raise ValueError(
                    f"unknown statistics config key {key!r}; valid keys: {', '.join(valid)}"
                )
        kwargs = dict(d)
        if kwargs.get("fit_range") is not None:
            fr = kwargs["fit_range"]
            if not isinstance(fr, (list, tuple)) or len(fr) != 2:
                raise ValueError(f"fit_range must be [lo, hi] in GeV, got {fr!r}")
            kwargs["fit_range"] = (_num("fit_range", fr[0]), _num("fit_range", fr[1]))
        if "n_params" in kwargs:
            npar = kwargs["n_params"]
            if isinstance(npar, int) and not isinstance(npar, bool):
                npar = [npar]
            if not isinstance(npar, (list, tuple)):
                raise ValueError(f"n_params must be a list of integers, got {npar!r}")
            kwargs["n_params"] = tuple(npar)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict that ``from_dict`` turns back into this config."""
        out = dataclasses.asdict(self)
        if self.fit_range is not None:
            out["fit_range"] = [float(self.fit_range[0]), float(self.fit_range[1])]
        out["n_params"] = list(self.n_params)
        if isinstance(self.mass_hypotheses, (list, tuple)):
            out["mass_hypotheses"] = [float(m) for m in self.mass_hypotheses]
        elif isinstance(self.mass_hypotheses, Mapping):
            out["mass_hypotheses"] = dict(self.mass_hypotheses)
        return out

    def replace(self, **changes: Any) -> StatsConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def masses(self, fit_range: tuple[float, float]) -> np.ndarray:
        """The mass hypotheses in GeV; the default is 100 GeV steps well inside the range."""
        mh = self.mass_hypotheses
        if mh is None:
            lo, hi = fit_range
            start = math.ceil(lo * 1.15 / 100.0) * 100.0
            stop = math.floor(hi * 0.85 / 100.0) * 100.0
            if stop < start:
                return np.array([], dtype=float)
            return np.arange(start, stop + 1e-6, 100.0)
        if isinstance(mh, Mapping):
            start, stop, step = float(mh["start"]), float(mh["stop"]), float(mh.get("step", 100))
            return np.arange(start, stop + 1e-6 * step, step)
        return np.asarray(mh, dtype=float)


def _num(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{key} must be finite, got {value!r}")
    return float(value)


def _int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{key} must be an integer, got {value!r}")
    return int(value)


def _validate(c: StatsConfig) -> None:
    def positive(key: str) -> None:
        v = _num(key, getattr(c, key))
        if v <= 0:
            raise ValueError(f"{key} must be > 0, got {v!r}")
        object.__setattr__(c, key, v)

    def fraction(key: str, *, open_low: bool = True) -> None:
        v = _num(key, getattr(c, key))
        if not ((v > 0 if open_low else v >= 0) and v < 1 + 1e-12):
            raise ValueError(f"{key} must be in (0, 1], got {v!r}")
        object.__setattr__(c, key, v)

    positive("sqrt_s")
    positive("bin_width")
    fraction("ftest_threshold")
    positive("max_rel_uncertainty")
    positive("resolution")
    fraction("mass_scale_unc", open_low=False)
    fraction("resolution_unc", open_low=False)
    fraction("presel_efficiency")
    if c.cl is None or not (0 < _num("cl", c.cl) < 1):
        raise ValueError(f"cl must be in (0, 1), got {c.cl!r}")
    object.__setattr__(c, "cl", float(c.cl))
    if c.luminosity is not None:
        positive("luminosity")
    if c.signal_efficiency is not None:
        fraction("signal_efficiency")
    pf = _num("poor_fit_pvalue", c.poor_fit_pvalue)
    if not 0 <= pf < 1:
        raise ValueError(f"poor_fit_pvalue must be in [0, 1), got {pf!r}")
    object.__setattr__(c, "poor_fit_pvalue", pf)
    if c.fit_range is not None:
        lo, hi = (_num("fit_range", v) for v in c.fit_range)
        if not 0 < lo < hi < c.sqrt_s:
            raise ValueError(f"fit_range must satisfy 0 < lo < hi < sqrt_s, got {c.fit_range!r}")
        object.__setattr__(c, "fit_range", (lo, hi))
    npar = tuple(c.n_params)
    if not npar or any(isinstance(n, bool) or n not in (3, 4, 5) for n in npar):
        raise ValueError(
            f"n_params must be a non-empty list drawn from 3, 4, 5, got {c.n_params!r}"
        )
    object.__setattr__(c, "n_params", tuple(sorted(set(int(n) for n in npar))))
    mh = c.mass_hypotheses
    if mh is not None:
        if isinstance(mh, Mapping):
            extra = set(mh) - {"start", "stop", "step"}
            if extra or not {"start", "stop"} <= set(mh):
                raise ValueError(
                    "mass_hypotheses mapping needs keys start, stop (and optional step), "
                    f"got {sorted(mh)}"
                )
            for k in mh:
                _num(f"mass_hypotheses.{k}", mh[k])
            if float(mh.get("step", 100)) <= 0 or float(mh["stop"]) < float(mh["start"]):
                raise ValueError(f"mass_hypotheses needs start <= stop and step > 0, got {mh}")
            object.__setattr__(c, "mass_hypotheses", dict(mh))
        elif isinstance(mh, (list, tuple)):
            vals = [_num("mass_hypotheses", v) for v in mh]
            if any(v <= 0 for v in vals):
                raise ValueError("mass_hypotheses must be positive masses in GeV")
            object.__setattr__(c, "mass_hypotheses", tuple(vals))
        else:
            raise ValueError(
                f"mass_hypotheses must be a {{start, stop, step}} mapping or a list, got {mh!r}"
            )
    if c.limit_calculator not in ("asymptotics", "toybased"):
        raise ValueError(
            f"limit_calculator must be 'asymptotics' or 'toybased', got {c.limit_calculator!r}"
        )
    for key in ("limit_toys", "global_toys", "min_events", "seed"):
        v = _int(key, getattr(c, key))
        if v < 0:
            raise ValueError(f"{key} must be >= 0, got {v!r}")
        object.__setattr__(c, key, v)
    if not isinstance(c.compute_limits, bool):
        raise ValueError(f"compute_limits must be true or false, got {c.compute_limits!r}")
