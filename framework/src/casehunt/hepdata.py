"""Export the final numbers of a run or a campaign as a HEPData submission.

HEPData is where the numbers behind a paper's figures are published; ``hepdata_lib``
(optional extra ``casehunt[hepdata]``) writes and validates the YAML. Like the HTML report,
the tables are built from the JSON files of the directory only:

* a run results directory: the cutflow; per selection the mjj spectrum with its
  background fit, the local significance scan and the 95% CL limits with expected bands;
* a campaign directory (``campaign.json``): the signal needed for 3 and 5 sigma per
  method and for the inclusive search with their ratios, and the Asimov significance
  against the injected amount.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from casehunt.errors import CasehuntError, InputError

SQRT_S_TEV = 13.0
DIGITS = 6  # significant digits written (hepdata_lib's default is 5)


class HEPDataUnavailableError(CasehuntError):
    """hepdata_lib, the optional extra casehunt[hepdata], is not installed."""


class HEPDataExportError(CasehuntError):
    """The directory cannot be exported, or the written submission is not valid."""


@contextlib.contextmanager
def _quiet_imports() -> Iterator[None]:
    # hepdata_validator imports jsonschema.RefResolver, deprecated upstream; nothing to act on
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*RefResolver is deprecated", category=DeprecationWarning
        )
        yield


def _hepdata_lib() -> Any:
    try:
        with _quiet_imports():
            import hepdata_lib
    except ImportError as exc:
        raise HEPDataUnavailableError(
            f"the HEPData export needs hepdata_lib ({exc}); install it with "
            "`pip install casehunt[hepdata]`"
        ) from None
    return hepdata_lib


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    # Submission.create_files writes submission.tar.gz into the working directory
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _table_name(text: str) -> str:
    """A table name that is also a safe file name (hepdata_lib derives one from it)."""
    return re.sub(r"[^A-Za-z0-9 _.-]+", "_", text).strip() or "table"


def _values(values: list[Any]) -> list[Any]:
    """Numbers as they are; missing ones as '-', HEPData's mark for no value."""
    return ["-" if v is None else v for v in values]


class _Builder:
    """Makes Tables and Variables with the qualifiers every table of one export shares."""

    def __init__(self, lib: Any, sqrt_s_tev: float, luminosity_fb: float | None) -> None:
        self.lib = lib
        self.sqrt_s_tev = sqrt_s_tev
        self.luminosity_fb = luminosity_fb

    def table(self, name: str, description: str, location: str) -> Any:
        t = self.lib.Table(_table_name(name))
        t.description = description
        t.location = location
        t.keywords["cmenergies"] = [self.sqrt_s_tev * 1000.0]
        t.keywords["reactions"] = ["P P --> JET JET X"]
        return t

    def independent(
        self, name: str, values: list[Any], units: str = "", binned: bool = False
    ) -> Any:
        v = self.lib.Variable(name, is_independent=True, is_binned=binned, units=units)
        v.values = values if binned else _values(values)
        v.digits = DIGITS
        return v

    def dependent(self, name: str, values: list[Any], units: str = "", **qualifiers: Any) -> Any:
        v = self.lib.Variable(
            name,
            is_independent=False,
            is_binned=False,
            units=units,
            zero_uncertainties_warning=False,
        )
        v.values = _values(values)
        v.digits = DIGITS
        v.add_qualifier("SQRT(S)", self.sqrt_s_tev, "TeV")
        if self.luminosity_fb is not None:
            v.add_qualifier("LUMINOSITY", self.luminosity_fb, "fb$^{-1}$")
        for key, value in qualifiers.items():
            if value is not None:
                v.add_qualifier(key.upper().replace("_", " "), value)
        return v

    def uncertainty(self, label: str, values: list[Any], symmetric: bool = True) -> Any:
        u = self.lib.Uncertainty(label, is_symmetric=symmetric)
        u.values = values
        return u


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None


# --- run results directory ---------------------------------------------------------------


def _cutflow_table(b: _Builder, cutflows: dict[str, Any]) -> Any:
    data = cutflows["data"]
    steps = ["all events"] + [c["description"] for c in data["cuts"]]
    t = b.table("Cutflow", "Events passing each preselection cut, cumulatively.", "cutflow.json")
    t.add_variable(b.independent("Selection step", steps))
    for key, label in (("data", "Data"), ("signal", "Injected signal sample")):
        cf = cutflows.get(key)
        if not isinstance(cf, dict) or len(cf["cuts"]) != len(data["cuts"]):
            continue
        t.add_variable(
            b.dependent(
                f"{label} events", [cf["initial"]] + [c["events"] for c in cf["cuts"]], "events"
            )
        )
        t.add_variable(
            b.dependent(
                f"{label} cumulative efficiency", [1.0] + [c["cumulative"] for c in cf["cuts"]]
            )
        )
    return t


def _spectrum_table(b: _Builder, method: str, region: str, reg: dict[str, Any]) -> Any:
    spec, fit = reg["spectrum"], reg["fit"]
    edges = spec["edges"]
    t = b.table(
        f"mjj spectrum {method} {region}",
        f"Dijet invariant mass of the events selected by {method} in {region}, and the "
        f"{fit['n_params']}-parameter dijet-function background fit (chi2/ndf = "
        f"{fit['chi2']:.1f}/{fit['ndof']}).",
        f"stats/{method}.json",
    )
    t.add_variable(b.independent("$m_{jj}$", list(itertools.pairwise(edges)), "GeV", binned=True))
    quals = {"method": method, "region": region}
    t.add_variable(b.dependent("Selected events", spec["observed"], "events", **quals))
    expected = b.dependent(
        "Background fit",
        spec["expected"],
        "events",
        **quals,
        fit_function=f"dijet, {fit['n_params']} parameters",
    )
    if spec.get("expected_unc") is not None:
        expected.add_uncertainty(b.uncertainty("fit uncertainty", spec["expected_unc"]))
    t.add_variable(expected)
    return t


def _scan_table(b: _Builder, method: str, region: str, reg: dict[str, Any]) -> Any | None:
    points = (reg.get("scan") or {}).get("points") or []
    if not points:
        return None
    t = b.table(
        f"Local significance {method} {region}",
        f"Local significance of a resonance against the background fit, per mass "
        f"hypothesis, for the selection of {method} in {region}.",
        f"stats/{method}.json",
    )
    t.add_variable(b.independent("Signal mass", [p["mass"] for p in points], "GeV"))
    quals = {"method": method, "region": region}
    t.add_variable(b.dependent("Local significance", [p.get("z") for p in points], **quals))
    t.add_variable(b.dependent("Local p-value", [p.get("p_value") for p in points], **quals))
    return t


def _limit_table(b: _Builder, method: str, region: str, reg: dict[str, Any]) -> Any | None:
    limits = [lim for lim in reg.get("limits") or [] if "error" not in lim]
    if not limits:
        return None
    cl = limits[0].get("cl", 0.95)
    pct = f"{100 * cl:.0f}% CL"
    t = b.table(
        f"Limits {method} {region}",
        f"Observed and expected {pct} CLs upper limits for the selection of {method} in "
        f"{region}, with the 1 and 2 standard-deviation bands of the expected limit.",
        f"stats/{method}.json",
    )
    t.add_variable(b.independent("Signal mass", [lim["mass"] for lim in limits], "GeV"))
    quals = {"method": method, "region": region}
    columns = [("yield", "signal yield", "events")]
    if all(lim.get("observed_xsec_fb") is not None for lim in limits):
        columns.append(("xsec_fb", "cross section", "fb"))
    for key, label, units in columns:
        t.add_variable(
            b.dependent(
                f"Observed {pct} limit on the {label}",
                [lim[f"observed_{key}"] for lim in limits],
                units,
                **quals,
            )
        )
        bands = [lim[f"expected_{key}"] for lim in limits]
        median = [e[2] for e in bands]
        expected = b.dependent(f"Expected {pct} limit on the {label}", median, units, **quals)
        for label_unc, lo, hi in (("1 sigma", 1, 3), ("2 sigma", 0, 4)):
            expected.add_uncertainty(
                b.uncertainty(
                    label_unc, [(e[lo] - e[2], e[hi] - e[2]) for e in bands], symmetric=False
                )
            )
        t.add_variable(expected)
    return t


def _run_tables(lib: Any, directory: Path) -> tuple[list[Any], str]:
    manifest = _read(directory / "manifest.json")
    stats_cfg = _get_stats_config(manifest)
    b = _Builder(
        lib,
        float(stats_cfg.get("sqrt_s") or SQRT_S_TEV * 1000.0) / 1000.0,
        stats_cfg.get("luminosity"),
    )
    tables = [_cutflow_table(b, _read(directory / "cutflow.json"))]
    stats_dir = directory / "stats"
    files = sorted(stats_dir.glob("*.json"), key=lambda p: (p.stem != "inclusive", p.stem))
    for path in files:
        result = _read(path)
        for region, reg in (result.get("regions") or {}).items():
            if reg.get("status") != "ok":
                continue
            tables.append(_spectrum_table(b, path.stem, region, reg))
            tables += [
                t
                for t in (
                    _scan_table(b, path.stem, region, reg),
                    _limit_table(b, path.stem, region, reg),
                )
                if t is not None
            ]
    name = ((manifest.get("config") or {}).get("run") or {}).get("name", directory.name)
    return tables, f"casehunt run {name}: dijet resonance search with anomaly detection."


def _get_stats_config(manifest: dict[str, Any]) -> dict[str, Any]:
    return ((manifest.get("config") or {}).get("statistics")) or {}


# --- campaign directory -------------------------------------------------------------------


def _campaign_tables(lib: Any, campaign: dict[str, Any]) -> tuple[list[Any], str]:
    from casehunt.campaign_plots import discovery_rows, significance_curves, unit_of

    unit = unit_of(campaign)
    mass = campaign.get("signal_mass")
    b = _Builder(lib, SQRT_S_TEV, campaign.get("luminosity_fb"))
    rows = discovery_rows(campaign)
    if not rows:
        raise HEPDataExportError("campaign.json holds no results to export")
    t = b.table(
        "Discovery sensitivity",
        "Signal needed for a 3 and a 5 standard-deviation excess (median over the seeds) per "
        "method and for the inclusive search, the ratio inclusive / method (how many times "
        "less signal a method needs), and the calibrated 95% CL limit.",
        "campaign.json",
    )
    t.add_variable(b.independent("Search", [r["name"] for r in rows]))
    quals: dict[str, Any] = {
        "signal_mass": f"{mass:g} GeV" if isinstance(mass, (int, float)) else None
    }
    for key, label in (("3sigma", "3 sigma"), ("5sigma", "5 sigma")):
        t.add_variable(
            b.dependent(f"Signal for {label}", [r[f"xsec_{key}"] for r in rows], unit, **quals)
        )
    for key, label in (("3sigma", "3 sigma"), ("5sigma", "5 sigma")):
        t.add_variable(
            b.dependent(
                f"Inclusive / method at {label}", [r[f"improvement_{key}"] for r in rows], **quals
            )
        )
    t.add_variable(
        b.dependent("Calibrated 95% CL limit", [r["calibrated_limit"] for r in rows], unit, **quals)
    )
    tables = [t]

    curves = {k: c for k, c in significance_curves(campaign).items() if c["level"].size}
    if curves:
        levels = sorted({float(v) for c in curves.values() for v in c["level"]})
        s = b.table(
            "Asimov significance vs injected signal",
            "Median Asimov significance over the seeds against the injected amount, per "
            "search; the uncertainty is the range over the seeds.",
            "campaign.json",
        )
        s.add_variable(b.independent("Injected signal", levels, unit))
        for name, c in curves.items():
            at = {float(v): i for i, v in enumerate(c["level"])}
            med = [float(c["median"][at[v]]) if v in at else None for v in levels]
            spread = [
                (float(c["low"][at[v]] - c["median"][at[v]]), float(c["high"][at[v]] - c["median"][at[v]]))
                if v in at else (0.0, 0.0)
                for v in levels
            ]  # fmt: skip
            var = b.dependent("Asimov significance", med, **quals, method=name)
            var.add_uncertainty(b.uncertainty("seed range", spread, symmetric=False))
            s.add_variable(var)
        tables.append(s)
    return tables, f"casehunt campaign {campaign.get('name', '')}: sensitivity of the methods."


# --- writing and validating ---------------------------------------------------------------


def _check_output(directory: Path, out: Path) -> None:
    """Refuse to overwrite anything that is not an earlier export (create_files deletes out)."""
    directory, out = directory.resolve(), out.resolve()
    if directory.is_relative_to(out):
        raise HEPDataExportError(f"{out}: the submission folder must not be or contain {directory}")
    if out.exists() and any(out.iterdir()) and not (out / "submission.yaml").is_file():
        raise HEPDataExportError(
            f"{out}: exists and is not a HEPData submission folder; choose another -o"
        )


def validate_submission(folder: Path) -> list[str]:
    """hepdata_validator's messages for a submission folder (empty when it is valid)."""
    _hepdata_lib()
    with _quiet_imports():
        # the validator leaves the YAML files it reads open (closed by the garbage collector)
        warnings.filterwarnings("ignore", category=ResourceWarning)
        from hepdata_validator.full_submission_validator import FullSubmissionValidator

        validator = FullSubmissionValidator()
        if validator.validate(directory=str(folder)):
            return []
        return [
            f"{Path(file).name}: {m.message}"
            for file, messages in validator.get_messages().items()
            for m in messages
        ]


def export_hepdata(directory: Path, out: Path) -> Path:
    """Write a HEPData submission folder ``out`` and ``out``.tar.gz; return the archive.

    ``directory`` is a results directory of `casehunt run` or a campaign directory.
    The submission is validated with hepdata_validator; an invalid one raises.
    """
    lib = _hepdata_lib()
    directory, out = Path(directory), Path(out).resolve()
    if (directory / "campaign.json").is_file():
        tables, comment = _campaign_tables(lib, _read(directory / "campaign.json"))
    elif (directory / "manifest.json").is_file():
        tables, comment = _run_tables(lib, directory)
    else:
        raise InputError(
            f"{directory}: neither a results directory (manifest.json) nor a campaign "
            "directory (campaign.json)"
        )
    _check_output(directory, out)
    submission = lib.Submission()
    submission.comment = comment
    for t in tables:
        submission.add_table(t)
    archive = out.with_name(out.name + ".tar.gz")
    with tempfile.TemporaryDirectory() as tmp, _cwd(Path(tmp)), _quiet_imports():
        submission.create_files(str(out), validate=False, remove_old=True)
        shutil.move(Path(tmp) / "submission.tar.gz", archive)
    problems = validate_submission(out)
    if problems:
        raise HEPDataExportError(
            f"{out}: the HEPData submission is not valid:\n  " + "\n  ".join(problems)
        )
    return archive
