"""The statistics configuration shared by the framework and the reviewer rerun."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .dijet import FAMILIES

__all__ = ["StatsConfig"]


@dataclasses.dataclass(frozen=True)
class StatsConfig:
    """Every setting of the statistical analysis, with CASE defaults.

    All masses, ranges and widths are in the units of the resonant feature (GeV for
    mjj or a jet mass).

    Attributes:
        background: the background function, ``"dijet"`` (the CMS dijet function, for
            mjj; default) or ``"exppoly"`` (exp of a polynomial in the feature scaled
            to [0, 1] over the fit range, for any other feature, e.g. a jet mass).
        sqrt_s: centre-of-mass energy in GeV; x = mjj / sqrt_s in the dijet function.
        fit_range: ``[lo, hi]`` of the background fit; None takes it from the data
            (lowest selected value rounded down, highest rounded up, to ``bin_width``).
        bin_width: width of the fine likelihood bins (CASE: 4 GeV).
        chi2_bin_width: width of uniform bins for the chi2, the F-test and the plots;
            None: the CMS dijet bins for ``dijet``, 5 x ``bin_width`` for ``exppoly``.
        ftest_threshold: F-test p-value below which the larger model is taken (0.10).
        max_rel_uncertainty: cap on the relative fit uncertainty at the signal mass
            for taking the larger model (0.15).
        n_params: candidate numbers of background-function parameters, smallest first
            (3, 4, 5 for ``dijet``; 2 to 6 for ``exppoly``, 2 being a plain exponential).
        mass_hypotheses: ``{"start", "stop", "step"}`` (stop inclusive) or an explicit
            list; None = for ``dijet`` 100 GeV steps inside the fit range (15% margins),
            for ``exppoly`` steps of 10 x ``bin_width`` (10% margins of the range).
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
        bumphunter_toys: pseudo-experiments of the BumpHunter cross-check of each
            selection's likelihood scan (arXiv:1101.0390; 0 = off).
        bumphunter_widths: ``[min, max]`` BumpHunter window widths in (CMS dijet)
            bins; None = 1 bin to half the bins (the paper's choice).
        bumphunter_same_range: only BumpHunter windows centred within the scan's
            signal masses, so that its global p-value pays for the same look-elsewhere
            as the likelihood scan's.
        bumphunter_exclusion_p: when BumpHunter's most significant window has a local
            p-value below this, its background is refitted without that window, in the
            data and in every pseudo-experiment (the ATLAS dijet searches used 0.01);
            None = off.
    """

    background: str = "dijet"
    sqrt_s: float = 13000.0
    fit_range: tuple[float, float] | None = None
    bin_width: float = 4.0
    chi2_bin_width: float | None = None
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
    bumphunter_toys: int = 0
    bumphunter_widths: tuple[int, int] | None = None
    bumphunter_same_range: bool = False
    bumphunter_exclusion_p: float | None = None

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
        if isinstance(kwargs.get("bumphunter_widths"), list):
            kwargs["bumphunter_widths"] = tuple(kwargs["bumphunter_widths"])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict that ``from_dict`` turns back into this config."""
        out = dataclasses.asdict(self)
        if self.fit_range is not None:
            out["fit_range"] = [float(self.fit_range[0]), float(self.fit_range[1])]
        out["n_params"] = list(self.n_params)
        if self.bumphunter_widths is not None:
            out["bumphunter_widths"] = list(self.bumphunter_widths)
        if isinstance(self.mass_hypotheses, (list, tuple)):
            out["mass_hypotheses"] = [float(m) for m in self.mass_hypotheses]
        elif isinstance(self.mass_hypotheses, Mapping):
            out["mass_hypotheses"] = dict(self.mass_hypotheses)
        return out

    def replace(self, **changes: Any) -> StatsConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def fit_options(self) -> dict[str, Any]:
        """The background-function keywords of the fits (fit_with_ftest, fit_binned)."""
        return {"family": self.background, "chi2_bin_width": self.chi2_bin_width}

    def masses(self, fit_range: tuple[float, float]) -> np.ndarray:
        """The mass hypotheses; the default is regular steps well inside the range."""
        mh = self.mass_hypotheses
        if mh is None and self.background == "exppoly":
            lo, hi = fit_range
            step = 10.0 * self.bin_width
            start = math.ceil((lo + 0.1 * (hi - lo)) / step) * step
            stop = math.floor((hi - 0.1 * (hi - lo)) / step) * step
            return np.arange(start, stop + 1e-6 * step, step) if stop >= start else np.array([])
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

    if c.background not in FAMILIES:
        raise ValueError(f"background must be one of {', '.join(FAMILIES)}, got {c.background!r}")
    positive("sqrt_s")
    positive("bin_width")
    if c.chi2_bin_width is not None:
        positive("chi2_bin_width")
        if c.chi2_bin_width < c.bin_width:
            raise ValueError(
                f"chi2_bin_width ({c.chi2_bin_width}) must be at least bin_width ({c.bin_width})"
            )
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
        if c.background == "dijet" and not 0 < lo < hi < c.sqrt_s:
            raise ValueError(f"fit_range must satisfy 0 < lo < hi < sqrt_s, got {c.fit_range!r}")
        if not lo < hi:
            raise ValueError(f"fit_range must satisfy lo < hi, got {c.fit_range!r}")
        object.__setattr__(c, "fit_range", (lo, hi))
    npar = tuple(c.n_params)
    allowed = FAMILIES[c.background]
    if not npar or any(isinstance(n, bool) or n not in allowed for n in npar):
        raise ValueError(
            f"n_params must be a non-empty list drawn from {', '.join(map(str, allowed))} "
            f"for background {c.background!r}, got {c.n_params!r}"
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
    _validate_bumphunter(c)


def _validate_bumphunter(c: StatsConfig) -> None:
    v = _int("bumphunter_toys", c.bumphunter_toys)
    if v < 0:
        raise ValueError(f"bumphunter_toys must be >= 0, got {v!r}")
    object.__setattr__(c, "bumphunter_toys", v)
    w = c.bumphunter_widths
    if w is not None:
        if not isinstance(w, (list, tuple)) or len(w) != 2:
            raise ValueError(f"bumphunter_widths must be [min, max] in bins, got {w!r}")
        lo, hi = (_int("bumphunter_widths", x) for x in w)
        if not 1 <= lo <= hi:
            raise ValueError(f"bumphunter_widths must satisfy 1 <= min <= max, got {w!r}")
        object.__setattr__(c, "bumphunter_widths", (lo, hi))
    if not isinstance(c.bumphunter_same_range, bool):
        raise ValueError(
            f"bumphunter_same_range must be true or false, got {c.bumphunter_same_range!r}"
        )
    x = c.bumphunter_exclusion_p
    if x is not None:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 < x < 1:
            raise ValueError(f"bumphunter_exclusion_p must be in (0, 1) or null, got {x!r}")
        object.__setattr__(c, "bumphunter_exclusion_p", float(x))
