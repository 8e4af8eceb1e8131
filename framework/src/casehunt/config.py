"""The analysis configuration: a YAML file, checked key by key before anything runs.

Every section has a fixed set of keys; an unknown key is an error that names it and
lists the valid ones (a typo must not silently fall back to a default). Relative paths
are resolved against the configuration file's folder.

The resonant feature (`regions.resonant_feature`, mjj by default; any column, e.g. the
heavier jet's mass `mj1`) is where the signal is localised: the windows, sidebands,
injection amounts, selections, signal templates and statistics are all in it. For a
feature other than mjj the statistics fit the exponential polynomial (`exppoly`) instead
of the CMS dijet function unless `statistics.background` says otherwise.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from casehunt.errors import ConfigError
from casehunt.preselection import resolve_config as resolve_preselection
from casehunt.regions import (
    CASE_EDGES,
    SignalRegion,
    regions_from_edges,
    staggered_edges,
    window_region,
)

#: Keys under `methods.<name>` that the core reads; every other key is the method's option.
METHOD_KEYS: dict[str, Any] = {
    "enabled": True,
    # which events a per-region method trains on besides the signal region: "region"
    # (the region's sidebands), "all" (everything outside the signal region, as CATHODE
    # needs for its density estimate) or a width in GeV on each side. The selection
    # threshold is always set in the region's own sidebands.
    "training_sidebands": "region",
}

SECTIONS: dict[str, dict[str, Any]] = {
    "run": {"name": "casehunt", "seed": 1, "n_folds": 5},
    "input": {"data": None, "format": None, "start": 0, "stop": None, "chunk_size": 200_000},
    "preselection": {},  # checked by casehunt.preselection
    "regions": {
        "resonant_feature": "mjj",
        "windows": None,  # [[low, high], ...]
        "sideband_width": 200.0,  # with `windows`, in the feature's units (GeV)
        "edges": None,  # [[e0, e1, ...], ...]: inner bins are signal regions
        "preset": None,  # "case": CASE's staggered sets A and B
        "sliding": None,  # {start, stop, width_fraction, n_sets}
    },
    "injection": {
        "signal": None,
        "format": None,
        "start": 0,
        "stop": None,
        "n_events": None,  # events injected in all
        "s_over_sqrt_b": None,  # or: S / sqrt(B) in `region`
        "region": None,  # region name; default: the first region
        # names the signal template for the statistics: the signal's value of the
        # resonant feature (GeV), e.g. the X mass when the feature is a jet mass
        "signal_mass": None,
        "cross_section": None,  # pb, optional, recorded for the statistics
    },
    "selection": {"efficiency": 0.01, "efficiency_by_region": {}},
    "methods": {},  # name -> options (+ the core's keys in METHOD_KEYS)
    # passed to casehunt_stats.StatsConfig; `background` defaults to "exppoly" when the
    # resonant feature is not mjj (written into the resolved config, so the manifest and
    # `casehunt stats rerun` use it too)
    "statistics": {},
    "output": {"plots": True, "statistics": True},
    # `casehunt campaign`: the injection study (one run per amount and seed); give exactly
    # one list of amounts. `cross_section` is in fb and needs `luminosity` in fb^-1.
    "campaign": {
        "s_over_sqrt_b": None,
        "n_events": None,
        "cross_section": None,
        "luminosity": None,
        "seeds": 3,  # a count (run.seed, run.seed + 1, ...) or a list of seeds
        "limits": True,  # CLs limits at every point (the injection-calibrated limit)
    },
}

CAMPAIGN_UNITS = ("s_over_sqrt_b", "n_events", "cross_section")


def _check_keys(section: str, given: Mapping[str, Any], valid: Mapping[str, Any]) -> None:
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}; valid keys in "
            f"`{section}`: {', '.join(valid)}"
        )


def _number(section: str, key: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{section}.{key} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{section}.{key} must be positive, got {value!r}")
    return float(value)


class Config:
    """A validated configuration. `raw` keeps what the user wrote, `data` the resolved values."""

    def __init__(self, raw: Mapping[str, Any], base_dir: Path | str = ".") -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError("the configuration must be a mapping of sections")
        _check_keys("config", raw, SECTIONS)
        self.base_dir = Path(base_dir)
        self.raw = copy.deepcopy(dict(raw))
        data: dict[str, Any] = {}
        for section, defaults in SECTIONS.items():
            given = raw.get(section) or {}
            if not isinstance(given, Mapping):
                raise ConfigError(f"section `{section}` must be a mapping, got {given!r}")
            if section in ("methods", "statistics"):
                data[section] = copy.deepcopy(dict(given))
                continue
            if section == "preselection":
                data[section] = resolve_preselection(given)
                continue
            _check_keys(section, given, defaults)
            data[section] = {**copy.deepcopy(defaults), **copy.deepcopy(dict(given))}
        self.data = data
        self._validate()
        feature = data["regions"]["resonant_feature"]
        if not isinstance(feature, str) or not feature:
            raise ConfigError(f"regions.resonant_feature must be a column name, got {feature!r}")
        if feature != "mjj" and "background" not in data["statistics"]:
            data["statistics"]["background"] = "exppoly"

    @classmethod
    def from_file(cls, path: str | Path) -> Config:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found")
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        try:
            return cls(raw or {}, base_dir=path.resolve().parent)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.data[section]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)

    def path(self, value: str | Path) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    # -------------------------------------------------------------------------------
    def _validate(self) -> None:
        run, inp, inj, sel = self["run"], self["input"], self["injection"], self["selection"]
        if not isinstance(run["seed"], int) or isinstance(run["seed"], bool):
            raise ConfigError(f"run.seed must be an integer, got {run['seed']!r}")
        if not isinstance(run["n_folds"], int) or run["n_folds"] < 2:
            raise ConfigError(f"run.n_folds must be an integer >= 2, got {run['n_folds']!r}")
        if inp["data"] is None:
            raise ConfigError("input.data is required: the path of the data file(s)")
        if isinstance(inp["data"], str):
            inp["data"] = [inp["data"]]
        if not isinstance(inp["data"], list) or not all(isinstance(p, str) for p in inp["data"]):
            raise ConfigError("input.data must be a path or a list of paths")
        _number("input", "chunk_size", inp["chunk_size"], positive=True)
        if self.has_campaign():
            self._validate_campaign()
        elif inj["signal"] is not None:
            if (inj["n_events"] is None) == (inj["s_over_sqrt_b"] is None):
                raise ConfigError(
                    "injection: give exactly one of injection.n_events and injection.s_over_sqrt_b"
                )
            if inj["n_events"] is not None and (
                not isinstance(inj["n_events"], int) or inj["n_events"] < 0
            ):
                raise ConfigError(
                    f"injection.n_events must be a count >= 0, got {inj['n_events']!r}"
                )
            if (
                inj["s_over_sqrt_b"] is not None
                and _number("injection", "s_over_sqrt_b", inj["s_over_sqrt_b"]) < 0
            ):
                raise ConfigError("injection.s_over_sqrt_b must be >= 0")
        elif inj["n_events"] or inj["s_over_sqrt_b"]:
            raise ConfigError("injection.signal (the signal file) is required to inject signal")
        eff = _number("selection", "efficiency", sel["efficiency"], positive=True)
        if eff >= 1:
            raise ConfigError(f"selection.efficiency must be in (0, 1), got {eff}")
        for name, value in (sel["efficiency_by_region"] or {}).items():
            if not 0 < _number("selection.efficiency_by_region", name, value, positive=True) < 1:
                raise ConfigError(f"selection.efficiency_by_region.{name} must be in (0, 1)")
        if not self["methods"]:
            raise ConfigError("methods: enable at least one method (see `casehunt plugins`)")
        for name, options in self["methods"].items():
            if options is None:
                self["methods"][name] = {}
            elif not isinstance(options, Mapping):
                raise ConfigError(f"methods.{name} must be a mapping of options, got {options!r}")
            else:
                self._check_method_keys(name, options)
        self.regions()  # checks the regions section

    def has_campaign(self) -> bool:
        """Whether the configuration describes an injection campaign."""
        return bool(self.raw.get("campaign"))

    def _validate_campaign(self) -> None:
        camp, inj = self["campaign"], self["injection"]
        if inj["signal"] is None or inj["signal_mass"] is None:
            raise ConfigError(
                "campaign: injection.signal (the signal file) and injection.signal_mass (GeV) "
                "are required: the campaign injects that signal and tests its mass"
            )
        if inj["n_events"] is not None or inj["s_over_sqrt_b"] is not None:
            raise ConfigError(
                "campaign: the amounts come from campaign.<unit>; remove injection.n_events "
                "and injection.s_over_sqrt_b"
            )
        given = [u for u in CAMPAIGN_UNITS if camp[u] is not None]
        if len(given) != 1:
            raise ConfigError(
                f"campaign: give exactly one of {', '.join('campaign.' + u for u in CAMPAIGN_UNITS)}"
                f" (got {', '.join(given) or 'none'})"
            )
        levels = camp[given[0]]
        if not isinstance(levels, list) or not levels:
            raise ConfigError(f"campaign.{given[0]} must be a non-empty list of amounts")
        for value in levels:
            if _number("campaign", given[0], value) < 0:
                raise ConfigError(f"campaign.{given[0]}: amounts must be >= 0, got {value!r}")
        if len(set(levels)) != len(levels):
            raise ConfigError(f"campaign.{given[0]}: duplicate amounts {levels}")
        if given[0] == "n_events" and not all(isinstance(v, int) for v in levels):
            raise ConfigError("campaign.n_events: amounts must be integer event counts")
        if given[0] == "cross_section":
            if camp["luminosity"] is None:
                raise ConfigError("campaign.cross_section needs campaign.luminosity (fb^-1)")
            _number("campaign", "luminosity", camp["luminosity"], positive=True)
        seeds = camp["seeds"]
        if isinstance(seeds, bool) or not (
            (isinstance(seeds, int) and seeds >= 1)
            or (
                isinstance(seeds, list)
                and seeds
                and all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)
                and len(set(seeds)) == len(seeds)
            )
        ):
            raise ConfigError(
                f"campaign.seeds must be a count >= 1 or a list of distinct integers, got {seeds!r}"
            )
        if not isinstance(camp["limits"], bool):
            raise ConfigError("campaign.limits must be true or false")

    def campaign(self) -> dict[str, Any]:
        """The campaign's unit, amounts, seeds, luminosity and whether to compute limits."""
        if not self.has_campaign():
            raise ConfigError("the configuration has no `campaign` section")
        camp = self["campaign"]
        unit = next(u for u in CAMPAIGN_UNITS if camp[u] is not None)
        seeds = camp["seeds"]
        if isinstance(seeds, int):
            seeds = [self["run"]["seed"] + i for i in range(seeds)]
        return {
            "unit": unit,
            "levels": sorted(float(v) for v in camp[unit]),
            "seeds": list(seeds),
            "luminosity": None if camp["luminosity"] is None else float(camp["luminosity"]),
            "limits": camp["limits"],
        }

    def region_at(self, mass: float) -> SignalRegion:
        """The signal region that tests `mass`: `injection.region` if set, else the region
        holding `mass` nearest its centre."""
        regions = self.regions()
        name = self["injection"]["region"]
        if name is not None:
            for region in regions:
                if region.name == name:
                    return region
            raise ConfigError(
                f"injection.region: no region {name!r}; regions are "
                f"{', '.join(r.name for r in regions)}"
            )
        holding = [r for r in regions if r.low <= mass < r.high]
        if not holding:
            raise ConfigError(f"no signal region contains the signal mass {mass:g} GeV")
        return min(holding, key=lambda r: abs(r.center - mass) / (r.high - r.low))

    @staticmethod
    def _check_method_keys(name: str, options: Mapping[str, Any]) -> None:
        if not isinstance(options.get("enabled", True), bool):
            raise ConfigError(f"methods.{name}.enabled must be true or false")
        sidebands = options.get("training_sidebands", "region")
        if sidebands not in ("region", "all") and (
            isinstance(sidebands, bool) or not isinstance(sidebands, (int, float)) or sidebands <= 0
        ):
            raise ConfigError(
                f"methods.{name}.training_sidebands must be 'region', 'all' or a positive width "
                f"in GeV, got {sidebands!r}"
            )

    def enabled_methods(self) -> dict[str, dict[str, Any]]:
        """Method name -> its own options, for the methods not switched off."""
        return {
            name: {k: v for k, v in options.items() if k not in METHOD_KEYS}
            for name, options in self["methods"].items()
            if options.get("enabled", True)
        }

    def training_region(self, method: str, region: SignalRegion) -> SignalRegion:
        """The window a per-region method trains on: its signal region and sidebands."""
        sidebands = self["methods"][method].get("training_sidebands", "region")
        if sidebands == "region":
            return region
        width = float("inf") if sidebands == "all" else float(sidebands)
        return SignalRegion(
            region.low, region.high, region.low - width, region.high + width, region.name
        )

    def regions(self) -> list[SignalRegion]:
        """The signal regions with their sidebands, from whichever form was given."""
        r = self["regions"]
        forms = [k for k in ("windows", "edges", "preset", "sliding") if r[k] is not None]
        if len(forms) != 1:
            raise ConfigError(
                "regions: give exactly one of regions.windows, regions.edges, regions.preset, "
                f"regions.sliding (got {', '.join(forms) or 'none'})"
            )
        form = forms[0]
        if form == "windows":
            width = _number("regions", "sideband_width", r["sideband_width"], positive=True)
            out = []
            for w in r["windows"]:
                if not (isinstance(w, (list, tuple)) and len(w) == 2):
                    raise ConfigError(f"regions.windows entries must be [low, high], got {w!r}")
                out.append(window_region(float(w[0]), float(w[1]), width))
        else:
            if form == "preset":
                if r["preset"] != "case":
                    raise ConfigError(
                        f"regions.preset: unknown preset {r['preset']!r} (known: case)"
                    )
                sets: list[Any] = list(CASE_EDGES.values())
            elif form == "edges":
                sets = r["edges"]
                if sets and not isinstance(sets[0], (list, tuple)):
                    sets = [sets]
            else:
                s = r["sliding"]
                valid = {"start": None, "stop": None, "width_fraction": 0.2, "n_sets": 2}
                _check_keys("regions.sliding", s, valid)
                s = {**valid, **s}
                sets = staggered_edges(
                    _number("regions.sliding", "start", s["start"], positive=True),
                    _number("regions.sliding", "stop", s["stop"], positive=True),
                    float(s["width_fraction"]),
                    int(s["n_sets"]),
                )
            out = [region for edges in sets for region in regions_from_edges(edges)]
        names = [reg.name for reg in out]
        if len(set(names)) != len(names):
            raise ConfigError(f"regions: duplicate signal regions {names}")
        return sorted(out, key=lambda reg: (reg.low, reg.high))

    def efficiency(self, region: SignalRegion) -> float:
        return float(
            self["selection"]["efficiency_by_region"].get(
                region.name, self["selection"]["efficiency"]
            )
        )
