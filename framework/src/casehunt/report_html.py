"""One self-contained HTML page per results directory (or campaign), rebuilt from its JSON alone.

The page is a single file that opens offline and can be attached to a review: inline CSS,
every plot embedded as a base64 PNG, no JavaScript, and all text escaped. Every number is
read from the JSON files of the directory (manifest, cutflow, summary, stats/), so
``casehunt report DIR`` rebuilds it at any time with the casehunt core only. Missing or
failed pieces are stated on the page instead of raising: a half-finished directory is
exactly when a reviewer needs to see what is there.

Also registered as the built-in reporter (hook ``casehunt_write_report``) and home of the
``casehunt report`` / ``casehunt export hepdata`` command-line entries.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from casehunt import __version__
from casehunt.hookspecs import hookimpl

REPORT_NAME = "report.html"
CAMPAIGN_FILE = "campaign.json"

log = logging.getLogger(__name__)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1b1b1b; background: #fafafa; line-height: 1.4; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 2rem 3rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #3465a4; padding-bottom: 0.2rem; margin-top: 2.2rem; }
h3 { margin-top: 1.4rem; }
nav { font-size: 0.9rem; }
nav a { margin-right: 0.8rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.88rem; background: #fff; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.55rem; text-align: right; vertical-align: top; }
th { background: #e8eef7; }
td:first-child, th:first-child { text-align: left; }
td.text, th.text { text-align: left; }
figure { margin: 0.8rem 0 1.4rem; }
figure img { max-width: 100%; border: 1px solid #ddd; background: #fff; }
figcaption { font-size: 0.85rem; color: #555; }
pre { background: #f0f0f0; padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }
code { font-size: 0.9em; }
.note { color: #555; font-style: italic; }
.bad { color: #a40000; font-weight: bold; }
.good { color: #2e7d32; }
details { margin: 0.4rem 0 0.8rem; }
summary { cursor: pointer; font-weight: 600; }
footer { color: #777; font-size: 0.8rem; margin-top: 3rem; }
"""


# --- small HTML builders (everything that is not Html is escaped) -----------------------


class Html(str):
    """Text that is already HTML, built here from escaped parts."""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def fmt(x: Any, spec: str = ".4g") -> str:
    """A number for display; None (a missing value) as a dash."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return format(x, spec) if math.isfinite(x) else str(x)
    return str(x)


def _cell(x: Any) -> str:
    return x if isinstance(x, Html) else esc(fmt(x))


def table(header: list[Any], rows: Iterable[list[Any]], text_cols: Iterable[int] = ()) -> Html:
    """An HTML table; columns in ``text_cols`` are left-aligned."""
    text = set(text_cols)

    def attr(i: int) -> str:
        return ' class="text"' if i in text else ""

    head = "".join(f"<th{attr(i)}>{_cell(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td{attr(i)}>{_cell(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n")


def para(text: Any, cls: str = "") -> Html:
    attr = f' class="{cls}"' if cls else ""
    return Html(f"<p{attr}>{_cell(text)}</p>\n")


def note(text: str) -> Html:
    return para(text, "note")


def bad(text: str) -> Html:
    return Html(f'<span class="bad">{esc(text)}</span>')


def code(text: Any) -> Html:
    return Html(f"<code>{esc(text)}</code>")


def pre(text: str) -> Html:
    return Html(f"<pre>{esc(text)}</pre>\n")


def details(summary: str, body: str) -> Html:
    return Html(f"<details><summary>{esc(summary)}</summary>\n{body}</details>\n")


def heading(level: int, text: str) -> Html:
    return Html(f"<h{level}>{esc(text)}</h{level}>\n")


def section(anchor: str, title: str, parts: Iterable[str]) -> Html:
    return Html(
        f'<section id="{esc(anchor)}">\n<h2>{esc(title)}</h2>\n{"".join(parts)}</section>\n'
    )


class Figures:
    """Embeds PNGs of a plots/ folder as data URIs and remembers which were shown."""

    def __init__(self, plots_dir: Path) -> None:
        self.plots_dir = plots_dir
        self.shown: set[str] = set()

    def figure(self, name: str, caption: str) -> Html:
        path = self.plots_dir / name
        if not path.is_file():
            return Html("")
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        self.shown.add(name)
        return Html(
            f'<figure id="fig-{esc(path.stem)}"><img alt="{esc(caption)}" '
            f'src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)} (<code>plots/{esc(name)}</code>)</figcaption></figure>\n"
        )

    def remaining(self) -> list[Html]:
        """Every PNG not shown yet, so that no plot of the directory is left out."""
        if not self.plots_dir.is_dir():
            return []
        names = sorted(p.name for p in self.plots_dir.glob("*.png") if p.name not in self.shown)
        return [self.figure(name, Path(name).stem) for name in names]


def page(title: str, header: str, sections: list[tuple[str, str, list[str]]]) -> str:
    """The whole document: head with inline CSS, a contents line, the sections."""
    nav = " ".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, parts) for a, t, parts in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{header}<nav>{nav}</nav>\n{body}"
        f"<footer>Written by casehunt {esc(__version__)} from the JSON files of this "
        "directory; rebuild with <code>casehunt report DIR</code>.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def _read_json(path: Path) -> tuple[Any, str | None]:
    """(content, None), or (None, why not) for a missing or unreadable file."""
    if not path.is_file():
        return None, f"{path.name} is missing"
    try:
        return json.loads(path.read_text()), None
    except (OSError, ValueError) as exc:
        return None, f"{path.name} could not be read: {exc}"


def _get(d: Any, *keys: str) -> Any:
    """d[k1][k2]..., or None where any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


# --- the run report --------------------------------------------------------------------


def _header(title: str, manifest: dict[str, Any] | None, problems: list[str]) -> Html:
    parts = [heading(1, title)]
    if manifest is None:
        parts.append(note("No manifest.json: the date, versions and provenance are unknown."))
    else:
        versions = manifest.get("versions") or {}
        rows: list[list[Any]] = [
            ["created", manifest.get("created")],
            ["casehunt version", versions.get("casehunt")],
            ["casehunt-stats version", versions.get("casehunt-stats")],
            ["git revision", manifest.get("git_revision") or "unknown"],
            ["command", " ".join(str(a) for a in manifest.get("command") or [])],
        ]
        parts.append(table(["", ""], rows, text_cols=(0, 1)))
    for problem in problems:
        parts.append(para(bad(problem)))
    return Html("".join(parts))


def _cutflow_table(cutflow: dict[str, Any]) -> Html:
    rows: list[list[Any]] = [["(all events)", "", cutflow.get("initial"), "", ""]]
    for cut in cutflow.get("cuts") or []:
        rows.append(
            [
                cut.get("cut"),
                cut.get("description"),
                cut.get("events"),
                fmt(cut.get("relative"), ".4f"),
                fmt(cut.get("cumulative"), ".4f"),
            ]
        )
    head = ["cut", "description", "events", "efficiency (relative)", "efficiency (cumulative)"]
    return table(head, rows, text_cols=(0, 1))


def _cutflow_section(cutflows: Any, error: str | None) -> list[str]:
    if not isinstance(cutflows, dict):
        return [note(f"No cutflow: {error or 'cutflow.json holds no cutflow'}.")]
    parts: list[str] = []
    for key, label in (("data", "Data"), ("signal", "Injected signal sample")):
        cf = cutflows.get(key)
        parts.append(heading(3, label))
        if isinstance(cf, dict):
            parts.append(_cutflow_table(cf))
            parts.append(para(f"{fmt(cf.get('final'))} of {fmt(cf.get('initial'))} events pass."))
        else:
            parts.append(note("No cutflow (no signal was injected)." if key == "signal" else "-"))
    return parts


def _injection_section(injection: Any, config: dict[str, Any]) -> list[str]:
    settings = config.get("injection") or {}
    if not isinstance(injection, dict):
        return [note("No signal was injected in this run (injection.signal is not set).")]
    frac = None
    if injection.get("n_background_in_region"):
        frac = injection.get("n_in_region", 0) / injection["n_background_in_region"]
    rows: list[list[Any]] = [
        ["signal sample", settings.get("signal")],
        ["simulated signal mass [GeV]", settings.get("signal_mass")],
        ["requested", _injection_request(settings)],
        ["signal events injected (all masses)", injection.get("n_injected")],
        ["region of the amount", injection.get("region")],
        ["injected events in its signal region (S)", injection.get("n_in_region")],
        ["data events in that signal region (B)", injection.get("n_background_in_region")],
        ["S / B", fmt(frac, ".4g")],
        ["S / sqrt(B)", fmt(injection.get("s_over_sqrt_b"), ".3f")],
        ["signal pool after preselection", injection.get("pool_size")],
    ]
    return [table(["", ""], rows, text_cols=(0, 1))]


def _injection_request(settings: dict[str, Any]) -> str:
    if settings.get("n_events") is not None:
        return f"{settings['n_events']} events"
    if settings.get("s_over_sqrt_b") is not None:
        return f"S/sqrt(B) = {settings['s_over_sqrt_b']} in the region"
    return "–"


def _selection_section(summary: Any, error: str | None, figures: Figures) -> list[str]:
    selections = _get(summary, "selections")
    if not isinstance(selections, dict) or not selections:
        return [note(f"No selections: {error or 'summary.json lists none'}.")]
    rows = []
    for method, regions in selections.items():
        for region, sel in (regions or {}).items():
            reg = sel.get("region") or {}
            window = f"[{fmt(reg.get('low'), '.0f')}, {fmt(reg.get('high'), '.0f')})"
            kept = "–"
            if sel.get("injected_signal_region") is not None:
                n_kept, n_sr = (
                    sel.get("injected_selected_signal_region"),
                    sel["injected_signal_region"],
                )
                share = f" ({n_kept / n_sr:.1%})" if n_sr else ""
                kept = f"{n_kept} of {n_sr}{share}"
            rows.append(
                [
                    method,
                    region,
                    window,
                    fmt(sel.get("efficiency"), ".4g"),
                    fmt(sel.get("threshold"), ".5g"),
                    sel.get("n_selected"),
                    f"{fmt(sel.get('n_selected_signal_region'))} of {fmt(sel.get('n_signal_region'))}",
                    f"{fmt(sel.get('n_selected_sideband'))} of {fmt(sel.get('n_sideband'))}",
                    kept,
                    sel.get("injected_selected"),
                ]
            )
    head = [
        "method",
        "region",
        "SR [GeV]",
        "efficiency",
        "threshold",
        "selected",
        "selected in SR",
        "selected in SB",
        "injected signal kept in SR",
        "injected selected (all)",
    ]
    parts: list[str] = [table(head, rows, text_cols=(0, 1, 2))]
    parts.append(
        note(
            "The threshold gives the target efficiency in the sidebands (SB); "
            "'x of y': selected of all events there."
        )
    )
    for method in selections:
        parts.append(
            figures.figure(
                f"mjj_{method}.png", f"{method}: resonant-feature spectrum before and after"
            )
        )
    return parts


def _is_flat(value: Any) -> bool:
    """A scalar or a list of scalars: one table cell."""
    if isinstance(value, list):
        return all(not isinstance(v, (dict, list)) for v in value)
    return not isinstance(value, dict)


def _flat_cell(value: Any) -> str:
    return ", ".join(fmt(v) for v in value) if isinstance(value, list) else fmt(value)


def fit_summary_table(fits: list[dict[str, Any]]) -> tuple[list[str], list[list[str]], list[str]]:
    """(header, one row per fold, nested keys) of a selection's fold fit summaries.

    Keys whose value is a scalar or a list of scalars in every fold become columns, in
    the order they first appear; the others (nested objects, such as a feature screen's
    rounds) are named, for the JSON that follows the table.
    """
    keys: list[str] = []
    for fit in fits:
        keys += [k for k in fit if k not in keys]
    flat = [k for k in keys if all(_is_flat(f[k]) for f in fits if k in f)]
    nested = [k for k in keys if k not in flat]
    rows = [[str(i), *(_flat_cell(f.get(k)) for k in flat)] for i, f in enumerate(fits)]
    return ["fold", *flat], rows, nested


def _fold_models_section(summary: Any) -> list[str]:
    """What each fold's model chose (its fit summary), per method and region."""
    parts: list[str] = []
    for method, regions in (_get(summary, "selections") or {}).items():
        for region, sel in (regions or {}).items():
            fits = sel.get("fit") if isinstance(sel, dict) else None
            if not isinstance(fits, list) or not fits:
                continue
            fits = [f if isinstance(f, dict) else {} for f in fits]
            head, rows, nested = fit_summary_table(fits)
            parts += [heading(3, f"{method}, {region}"), table(head, rows)]
            if nested:
                body = json.dumps([{k: f.get(k) for k in nested} for f in fits], indent=2)
                parts.append(details(f"Per fold: {', '.join(nested)} (JSON)", pre(body)))
    if parts:
        parts.append(
            note(
                "Each fold's model reports what it chose from its training data "
                "(the method's fit summary; selections.<method>.<region>.fit in summary.json)."
            )
        )
    return parts


#: The background functions of casehunt_stats, by their name in the fit results.
FUNCTION_NAMES = {"dijet": "dijet function", "exppoly": "exponential polynomial"}


def _load_stats(results_dir: Path) -> tuple[dict[str, tuple[Any, str | None]], str | None]:
    """{method: (stats json, error)} with the inclusive search first; or why there is none."""
    stats_dir = results_dir / "stats"
    if not stats_dir.is_dir():
        return {}, (
            "No statistics in this results directory (no stats/ folder): output.statistics "
            "was off, or run `casehunt stats rerun DIR` and then `casehunt report DIR`."
        )
    files = sorted(stats_dir.glob("*.json"), key=lambda p: (p.stem != "inclusive", p.stem))
    if not files:
        return {}, "The stats/ folder holds no results (no stats/*.json)."
    return {p.stem: _read_json(p) for p in files}, None


def _regions(stats: dict[str, tuple[Any, str | None]]) -> Iterable[tuple[str, str | None, Any]]:
    """(method, region or None, region result or error string) over every stats file."""
    for method, (data, error) in stats.items():
        regions = _get(data, "regions")
        if not isinstance(regions, dict):
            yield method, None, error or "no regions in the file"
            continue
        for name, reg in regions.items():
            yield method, name, reg


def _failed(reg: Any) -> str | None:
    """Why a region has no result, or None when it has one."""
    if isinstance(reg, str):
        return reg
    if not isinstance(reg, dict):
        return "no result"
    if reg.get("status") != "ok":
        return reg.get("reason") or f"status {reg.get('status')!r}"
    return None


def _ftest_text(ftest: dict[str, Any] | None) -> str:
    if not ftest:
        return "–"
    steps = []
    for t in ftest.get("tests") or []:
        verdict = "taken" if t.get("accepted") else "not taken"
        steps.append(
            f"{t.get('n_small')}→{t.get('n_large')}: p = {fmt(t.get('p_value'), '.3g')} ({verdict})"
        )
    return "; ".join(steps) or "one candidate"


def _fits_section(stats: dict, stats_error: str | None, figures: Figures) -> list[str]:
    if stats_error:
        return [note(stats_error)]
    rows: list[list[Any]] = []
    parts: list[str] = []
    candidates: list[str] = []
    for method, region, reg in _regions(stats):
        why = _failed(reg)
        if why:
            rows.append(
                [method, region or "–", bad(f"failed: {why}"), "–", "–", "–", "–", "–", "–"]
            )
            continue
        fit = reg.get("fit") or {}
        ftest = reg.get("ftest") or {}
        rng = fit.get("fit_range") or [None, None]
        rows.append(
            [
                method,
                region,
                f"{FUNCTION_NAMES.get(fit.get('background', 'dijet'), '?')}, "
                f"{fit.get('n_params')} parameters",
                ftest.get("chosen_n_params", fit.get("n_params")),
                _ftest_text(ftest),
                f"{fmt(fit.get('chi2'), '.1f')} / {fmt(fit.get('ndof'))}",
                fmt(fit.get("chi2_pvalue"), ".3g"),
                f"[{fmt(rng[0], '.0f')}, {fmt(rng[1], '.0f')}]",
                fmt(fit.get("n_events"), ".0f"),
            ]
        )
        cand = ftest.get("candidates") or {}
        candidates.append(
            details(
                f"{method} {region}: every candidate fit",
                table(
                    ["parameters", "chi2", "ndf", "-log L"],
                    [
                        [k, fmt(c.get("chi2"), ".2f"), c.get("ndof"), fmt(c.get("nll"), ".2f")]
                        for k, c in cand.items()
                    ],
                ),
            )
        )
        parts.append(
            figures.figure(
                f"stats_{method}_{region}.png",
                f"{method} {region}: background fit with pulls (left), local p-value scan "
                "and 95% CL limits (right)",
            )
        )
    head = [
        "selection",
        "region",
        "function",
        "n params (F-test)",
        "F-tests",
        "chi2 / ndf",
        "chi2 p-value",
        "fit range [GeV]",
        "events fitted",
    ]
    return [
        table(head, rows, text_cols=(0, 1, 2, 4)),
        note(
            "dijet function: f(x) = p0 (1-x)^p1 / x^(p2 + p3 ln x + p4 ln² x), "
            "x = mjj / sqrt(s); exponential polynomial: f(x) = p0 exp(p1 x + p2 x² + ...), "
            "x = the resonant feature scaled to [0, 1] over the fit range."
        ),
        *candidates,
        *parts,
    ]


def _significance_section(stats: dict, stats_error: str | None) -> list[str]:
    if stats_error:
        return [note(stats_error)]
    rows: list[list[Any]] = []
    point_tables: list[str] = []
    for method, region, reg in _regions(stats):
        why = _failed(reg)
        if why:
            rows.append([method, region or "–", bad(f"no scan: {why}"), "–", "–", "–"])
            continue
        scan = reg.get("scan") or {}
        points = scan.get("points") or []
        rows.append(
            [
                method,
                region,
                fmt(scan.get("max_z"), ".2f"),
                fmt(scan.get("max_z_mass"), ".0f"),
                fmt(scan.get("min_p_value"), ".3g"),
                len(points),
            ]
        )
        point_tables.append(
            details(
                f"{method} {region}: every mass hypothesis",
                table(
                    ["mass [GeV]", "local Z", "local p-value", "signal yield", "fitted mass [GeV]"],
                    [
                        [
                            fmt(p.get("mass"), ".0f"),
                            fmt(p.get("z"), ".2f"),
                            fmt(p.get("p_value"), ".3g"),
                            f"{fmt(p.get('signal_yield'), '.1f')} ± {fmt(p.get('signal_yield_err'), '.1f')}",
                            fmt(p.get("fitted_mass"), ".0f"),
                        ]
                        for p in points
                    ],
                ),
            )
        )
    head = ["selection", "region", "max local Z", "at mass [GeV]", "min local p-value", "masses"]
    parts: list[str] = [table(head, rows, text_cols=(0, 1)), *point_tables]
    glob_rows = []
    for method, (data, _) in stats.items():
        glob = _get(data, "global")
        if isinstance(glob, dict):
            p_value = fmt(glob.get("p_value"), ".3g")
            if glob.get("p_err") is not None:  # stats files before the toy error omit it
                p_value += f" ± {fmt(glob['p_err'], '.2g')}"
            glob_rows.append(
                [
                    method,
                    fmt(glob.get("observed_max_local_z"), ".2f"),
                    glob.get("n_toys"),
                    glob.get("n_exceed"),
                    p_value,
                    fmt(glob.get("z"), ".2f"),
                ]
            )
    parts.append(heading(3, "Global significance"))
    if glob_rows:
        parts.append(
            table(
                ["selection", "max local Z", "toys", "toys above", "global p-value", "global Z"],
                glob_rows,
                text_cols=(0,),
            )
        )
        parts.append(note("With no toy above the observed maximum, p is below 1 / toys."))
    else:
        parts.append(note("Not computed (statistics.global_toys is 0)."))
    parts += _bumphunter_comparison(stats)
    parts.append(note("The scans are plotted next to each background fit above."))
    return parts


def _bumphunter_comparison(stats: dict) -> list[str]:
    """BumpHunter next to the likelihood scan, where the rerun computed it (bumphunter_toys)."""
    rows = []
    for method, region, reg in _regions(stats):
        bh = reg.get("bumphunter") if isinstance(reg, dict) else None
        if not isinstance(bh, dict):
            continue
        if "error" in bh:
            rows.append([method, region, bad(f"failed: {bh['error']}"), *["–"] * 5])
            continue
        lik = bh.get("likelihood") or {}
        win = bh.get("window")
        p_err = f"{fmt(bh.get('global_p'), '.3g')} ± {fmt(bh.get('global_p_err'), '.2g')}"
        lik_p = "–"
        if lik.get("global_p") is not None:
            lik_p = f"{fmt(lik.get('global_p'), '.3g')} ± {fmt(lik.get('global_p_err'), '.2g')}"
        rows.append([
            method, region,
            f"[{fmt(win[0], '.0f')}, {fmt(win[1], '.0f')})" if win else "no excess",
            f"{fmt(bh.get('local_p'), '.3g')} (t = {fmt(bh.get('t'), '.2f')})",
            f"{p_err} ({bh.get('n_toys')} toys)",
            f"{fmt(lik.get('max_z_mass'), '.0f')} (Z = {fmt(lik.get('max_z'), '.2f')})",
            lik_p,
            fmt(bh.get("max_z_mass_in_window")),
        ])  # fmt: skip
    if not rows:
        return []
    head = ["selection", "region", "BumpHunter window [GeV]", "local p", "global p",
            "likelihood max Z at [GeV]", "likelihood global p", "max Z in window"]  # fmt: skip
    return [
        heading(3, "BumpHunter cross-check"),
        table(head, rows, text_cols=(0, 1, 2)),
        note("BumpHunter (arXiv:1101.0390) assumes no signal shape; its global p is expected "
             "to be larger than the likelihood scan's for a resonance of the expected width."),
    ]  # fmt: skip


def _band(values: Any, spec: str = ".4g") -> list[str]:
    """The five expected quantiles (-2, -1, median, +1, +2 sigma) as strings."""
    if not isinstance(values, list) or len(values) != 5:
        return ["–"] * 5
    return [fmt(v, spec) for v in values]


def _limits_section(stats: dict, stats_error: str | None) -> list[str]:
    if stats_error:
        return [note(stats_error)]
    parts: list[str] = []
    for method, region, reg in _regions(stats):
        parts.append(heading(3, f"{method} {region or ''}".strip()))
        why = _failed(reg)
        if why:
            parts.append(para(bad(f"no limits: {why}")))
            continue
        limits = reg.get("limits") or []
        if not limits:
            parts.append(note("No limits computed (statistics.compute_limits is false)."))
            continue
        rows = []
        for lim in limits:
            if "error" in lim:
                rows.append(
                    [fmt(lim.get("mass"), ".0f"), bad(f"failed: {lim['error']}")] + ["–"] * 11
                )
                continue
            e = _band(lim.get("expected_yield"), ".4g")
            x = _band(lim.get("expected_xsec_fb"), ".4g")
            rows.append(
                [
                    fmt(lim.get("mass"), ".0f"),
                    fmt(lim.get("observed_yield"), ".4g"),
                    e[2],
                    e[1],
                    e[3],
                    e[0],
                    e[4],
                    fmt(lim.get("observed_xsec_fb"), ".4g"),
                    x[2],
                    x[1],
                    x[3],
                    x[0],
                    x[4],
                ]
            )
        cl = next((lim.get("cl") for lim in limits if lim.get("cl") is not None), 0.95)
        head = [
            "mass [GeV]",
            "observed [events]",
            "expected",
            "−1σ",
            "+1σ",
            "−2σ",
            "+2σ",
            "observed [fb]",
            "expected [fb]",
            "−1σ [fb]",
            "+1σ [fb]",
            "−2σ [fb]",
            "+2σ [fb]",
        ]
        parts.append(table(head, rows))
        parts.append(note(f"{fmt(100 * cl, '.0f')}% CL CLs upper limits on the signal yield "
                          "and, where a luminosity and efficiency are set, the cross section."))  # fmt: skip
    return parts


def _timings_section(timings: Any) -> list[str]:
    if not isinstance(timings, dict) or not timings:
        return [note("No timings recorded.")]
    return [table(["step", "seconds"], [[k, fmt(v, ".1f")] for k, v in timings.items()])]


def _provenance_section(manifest: dict[str, Any] | None) -> list[str]:
    if manifest is None:
        return [note("No manifest.json: no provenance.")]
    parts: list[str] = [heading(3, "Input files")]
    inputs = manifest.get("inputs") or []
    parts.append(
        table(
            ["role", "path", "events", "bytes", "sha256"],
            [
                [
                    i.get("role"),
                    i.get("path"),
                    i.get("events"),
                    i.get("bytes"),
                    code(i.get("sha256")),
                ]
                for i in inputs
            ],
            text_cols=(0, 1, 4),
        )
        if inputs
        else note("No input files recorded.")
    )
    seeds = manifest.get("seeds") or {}
    parts.append(heading(3, "Seeds"))
    rows: list[list[Any]] = [["run", "", seeds.get("run")]]
    for method, regions in (seeds.get("methods") or {}).items():
        for region, seed in (regions or {}).items():
            rows.append([method, region, seed])
    for key, value in seeds.items():
        if key not in ("run", "methods"):
            rows.append([key, "", json.dumps(value)])
    parts.append(table(["seed of", "region", "seed"], rows, text_cols=(0, 1)))
    parts.append(heading(3, "Software"))
    env = [["python", manifest.get("python")], ["platform", manifest.get("platform")]]
    env += [[name, version] for name, version in (manifest.get("versions") or {}).items()]
    parts.append(table(["package", "version"], env, text_cols=(0, 1)))
    config = manifest.get("config")
    if config is not None:
        parts.append(
            details(
                "The full configuration (YAML)",
                pre(yaml.safe_dump(config, sort_keys=False, default_flow_style=False)),
            )
        )
    extra = {k: v for k, v in manifest.items() if k in ("regions", "events_after_preselection")}
    if extra:
        parts.append(details("Regions and event counts (JSON)", pre(json.dumps(extra, indent=2))))
    return parts


def build_run_report(results_dir: Path) -> str:
    """The HTML text of the report of a `casehunt run` results directory."""
    results_dir = Path(results_dir)
    manifest, manifest_error = _read_json(results_dir / "manifest.json")
    cutflow, cutflow_error = _read_json(results_dir / "cutflow.json")
    summary, summary_error = _read_json(results_dir / "summary.json")
    manifest = manifest if isinstance(manifest, dict) else None
    config = (manifest or {}).get("config") or {}
    if cutflow is None and isinstance(summary, dict) and summary.get("cutflow"):
        cutflow = {"data": summary["cutflow"], "signal": None}
    injection = _get(summary, "injection") if summary else (manifest or {}).get("injection")
    name = _get(config, "run", "name") or results_dir.name
    problems = [e for e in (manifest_error, summary_error) if e]
    stats, stats_error = _load_stats(results_dir)
    problems += [f"stats/{m}.json: {err}" for m, (_, err) in stats.items() if err]
    figures = Figures(results_dir / "plots")
    sections: list[tuple[str, str, list[str]]] = [
        ("cutflow", "Preselection cutflow", _cutflow_section(cutflow, cutflow_error)),
        ("injection", "Signal injection", _injection_section(injection, config)),
        ("selections", "Selections", _selection_section(summary, summary_error, figures)),
    ]
    fold_models = _fold_models_section(summary)
    if fold_models:
        sections.append(("fold-models", "Fold models", fold_models))
    sections += [
        ("fits", "Background fits", _fits_section(stats, stats_error, figures)),
        ("significance", "Significance scans", _significance_section(stats, stats_error)),
        ("limits", "Limits", _limits_section(stats, stats_error)),
    ]
    others = figures.remaining()
    if others:
        sections.append(("plots", "Other plots", list(others)))
    sections += [
        ("timings", "Timings", _timings_section(_get(summary, "timings"))),
        ("provenance", "Provenance", _provenance_section(manifest)),
    ]
    return page(
        f"casehunt run {name}", _header(f"casehunt run {name}", manifest, problems), sections
    )


def write_html_report(results_dir: Path, out: Path | None = None) -> Path:
    """Write ``report.html`` (or ``out``) for a results directory of `casehunt run`."""
    results_dir = Path(results_dir)
    out = Path(out) if out is not None else results_dir / REPORT_NAME
    out.write_text(build_run_report(results_dir), encoding="utf-8")
    return out


@hookimpl
def casehunt_write_report(results: dict[str, Any], outdir: str, config: dict[str, Any]) -> None:
    """The built-in reporter: report.html next to the JSON files it is built from.

    A report that cannot be written must not cost the run (the results are all in the
    JSON files): it is logged, and ``casehunt report DIR`` rebuilds it later.
    """
    try:
        write_html_report(Path(outdir))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("report.html not written (%s: %s); rebuild it with `casehunt report DIR`",
                    type(exc).__name__, exc)  # fmt: skip


# --- the campaign report ---------------------------------------------------------------


def _unit(campaign: dict[str, Any]) -> str:
    from casehunt.campaign_plots import unit_of

    return unit_of(campaign)


def _seed_list(values: list[Any], spec: str = ".4g") -> str:
    return ", ".join(fmt(v, spec) for v in values) if values else "–"


def _ratio_cell(row: dict[str, Any], key: str) -> Any:
    from casehunt.campaign_plots import INCLUSIVE

    value = row[key]
    if row["name"] == INCLUSIVE:
        return "1 (reference)"
    return "–" if value is None else f"{value:.3g}×"


def _discovery_section(campaign: dict[str, Any], figures: Figures) -> list[str]:
    from casehunt.campaign_plots import DISCOVERY_PNG, discovery_rows

    rows_in = discovery_rows(campaign)
    if not rows_in:
        return [note("campaign.json holds no results.")]
    unit = _unit(campaign)
    rows = [
        [
            r["name"],
            fmt(r["xsec_3sigma"], ".4g"),
            _seed_list(r["xsec_3sigma_per_seed"]),
            _ratio_cell(r, "improvement_3sigma"),
            fmt(r["xsec_5sigma"], ".4g"),
            _seed_list(r["xsec_5sigma_per_seed"]),
            _ratio_cell(r, "improvement_5sigma"),
            fmt(r["calibrated_limit"], ".4g"),
            _seed_list(r["calibrated_limit_per_seed"]),
        ]
        for r in rows_in
    ]
    head = [
        "search",
        f"3σ: median [{unit}]",
        "3σ: per seed",
        "3σ: inclusive / method",
        f"5σ: median [{unit}]",
        "5σ: per seed",
        "5σ: inclusive / method",
        f"calibrated limit: median [{unit}]",
        "calibrated limit: per seed",
    ]
    return [
        table(head, rows, text_cols=(0, 2, 5, 8)),
        note(
            "Signal needed for a 3σ and a 5σ excess (median over seeds); 'inclusive / method' "
            "is how many times less signal the method needs than the inclusive search."
        ),
        figures.figure(DISCOVERY_PNG, "Signal needed for 3σ and 5σ, and the ratio to inclusive"),
    ]


def _injection_scan_section(campaign: dict[str, Any], figures: Figures) -> list[str]:
    from casehunt.campaign_plots import SIGNIFICANCE_PNG, amount_label, result_names

    parts: list[str] = [
        figures.figure(SIGNIFICANCE_PNG, "Asimov significance against the injected signal")
    ]
    head = [
        amount_label(campaign),
        "seed",
        "signal efficiency",
        "selected",
        "expected signal",
        "Asimov Z",
        f"excluded [{_unit(campaign)}]",
        "status",
    ]
    for name in result_names(campaign):
        points = (campaign["results"][name] or {}).get("points") or []
        rows = [
            [
                fmt(p.get("level"), ".4g"),
                p.get("seed"),
                fmt(p.get("signal_efficiency"), ".4g"),
                p.get("n_selected"),
                fmt(p.get("expected_signal"), ".4g"),
                fmt(p.get("asimov_z"), ".2f"),
                fmt(p.get("excluded_xsec"), ".4g"),
                p.get("status")
                if p.get("status") == "ok"
                else bad(f"{p.get('status')}: {p.get('reason')}"),
            ]
            for p in points
        ]
        parts.append(
            details(f"{name}: every point ({len(rows)})", table(head, rows, text_cols=(7,)))
        )
    return parts


def _tasks_section(campaign: dict[str, Any]) -> list[str]:
    tasks = campaign.get("tasks") or {}
    failed = tasks.get("failed") or []
    parts: list[str] = [
        table(
            ["tasks", "computed", "reused", "failed"],
            [[tasks.get("total"), tasks.get("computed"), tasks.get("reused"), len(failed)]],
        )
    ]
    if not failed:
        parts.append(para("No task failed.", "good"))
    for task in failed:
        parts.append(para(Html(f"{bad(task.get('task', '?'))}: {esc(task.get('error', ''))}")))
        parts.append(
            details(f"traceback of {task.get('task', '?')}", pre(task.get("traceback") or ""))
        )
    return parts


def _runs_section(campaign_dir: Path, runs: Any) -> list[str]:
    if not isinstance(runs, dict) or not runs:
        return [note("No runs listed.")]
    rows = []
    for tag, where in runs.items():
        run = campaign_dir / str(where)  # relative to the campaign, or absolute
        rel = run.relative_to(campaign_dir) if run.is_relative_to(campaign_dir) else run
        if (run / REPORT_NAME).is_file():
            link = Html(f'<a href="{esc((rel / REPORT_NAME).as_posix())}">{esc(rel)}</a>')
        elif run.is_dir():
            link = Html(f'{esc(rel)} <span class="note">(no report.html)</span>')
        else:
            link = Html(f"{esc(rel)} {bad('(missing)')}")
        rows.append([tag, link])
    return [table(["run", "results directory"], rows, text_cols=(0, 1))]


def _campaign_header(campaign: dict[str, Any], error: str | None) -> Html:
    name = campaign.get("name") or "campaign"
    parts = [heading(1, f"casehunt campaign {name}")]
    if error:
        parts.append(para(bad(error)))
    manifest = campaign.get("manifest") or {}
    rows: list[list[Any]] = [
        ["signal mass [GeV]", fmt(campaign.get("signal_mass"), ".0f")],
        ["injected amount in", campaign.get("unit")],
        ["luminosity [fb⁻¹]", fmt(campaign.get("luminosity_fb"), ".4g")],
        ["methods", ", ".join(str(m) for m in campaign.get("methods") or []) or "–"],
        ["levels", ", ".join(fmt(v, ".4g") for v in campaign.get("levels") or []) or "–"],
        ["seeds", ", ".join(str(s) for s in campaign.get("seeds") or []) or "–"],
        ["created", manifest.get("created")],
        ["casehunt version", (manifest.get("versions") or {}).get("casehunt")],
        ["git revision", manifest.get("git_revision") or "unknown"],
    ]
    parts.append(table(["", ""], rows, text_cols=(0, 1)))
    return Html("".join(parts))


def build_campaign_report(campaign_dir: Path) -> str:
    """The HTML text of a campaign directory's report (draws its two plots into plots/)."""
    from casehunt.campaign_plots import write_campaign_plots

    campaign_dir = Path(campaign_dir)
    campaign, error = _read_json(campaign_dir / CAMPAIGN_FILE)
    if not isinstance(campaign, dict):
        campaign, error = {}, error or f"{CAMPAIGN_FILE} is not a JSON object"
    figures = Figures(campaign_dir / "plots")
    if campaign.get("results"):
        write_campaign_plots(campaign, figures.plots_dir)
    sections: list[tuple[str, str, list[str]]] = [
        ("discovery", "Discovery sensitivity", _discovery_section(campaign, figures)),
        (
            "injection",
            "Significance against injected signal",
            _injection_scan_section(campaign, figures),
        ),
        ("tasks", "Tasks", _tasks_section(campaign)),
        ("runs", "Runs", _runs_section(campaign_dir, campaign.get("runs"))),
    ]
    others = figures.remaining()
    if others:
        sections.append(("plots", "Other plots", list(others)))
    sections += [
        ("timings", "Timings", _timings_section(campaign.get("timings"))),
        ("provenance", "Provenance", _provenance_section(campaign.get("manifest"))),
    ]
    name = campaign.get("name") or campaign_dir.name
    return page(f"casehunt campaign {name}", _campaign_header(campaign, error), sections)


def write_campaign_report(campaign_dir: Path, out: Path | None = None) -> Path:
    """Write ``report.html`` (or ``out``) for a campaign directory from its campaign.json."""
    campaign_dir = Path(campaign_dir)
    out = Path(out) if out is not None else campaign_dir / REPORT_NAME
    out.write_text(build_campaign_report(campaign_dir), encoding="utf-8")
    return out


# --- command line: `casehunt report DIR`, `casehunt export hepdata DIR -o OUT` -----------


def add_export_parser(sub: Any) -> None:
    """Add the `report` and `export` subcommands to casehunt's subparsers."""
    report = sub.add_parser(
        "report", help="rebuild report.html of a results or campaign directory from its JSON"
    )
    report.add_argument("directory", help="results directory of `casehunt run`, or a campaign")
    report.add_argument("-o", "--output", help="HTML file (default: DIR/report.html)")
    report.set_defaults(func=cmd_export, export_action="report")

    export = sub.add_parser("export", help="export results in other formats")
    formats = export.add_subparsers(dest="export_format", required=True)
    hep = formats.add_parser("hepdata", help="a HEPData submission (needs casehunt[hepdata])")
    hep.add_argument("directory", help="results directory of `casehunt run`, or a campaign")
    hep.add_argument("-o", "--output", required=True, help="submission folder to write")
    hep.set_defaults(func=cmd_export, export_action="hepdata")


def cmd_export(args: argparse.Namespace) -> int:
    """Run `casehunt report` or `casehunt export hepdata`; CasehuntError on bad input."""
    from casehunt.errors import InputError

    directory = Path(args.directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: no such directory")
    out = Path(args.output) if args.output else None
    if args.export_action == "report":
        if (directory / CAMPAIGN_FILE).is_file():
            path = write_campaign_report(directory, out)
        elif (directory / "manifest.json").is_file() or (directory / "summary.json").is_file():
            path = write_html_report(directory, out)
        else:
            raise InputError(
                f"{directory}: neither a results directory (manifest.json) nor a campaign "
                f"({CAMPAIGN_FILE})"
            )
        print(f"report written to {path}")
        return 0
    from casehunt.hepdata import export_hepdata

    if out is None:
        raise InputError("casehunt export hepdata: give the submission folder with -o OUT")
    archive = export_hepdata(directory, out)
    print(f"HEPData submission written to {out} and {archive}")
    return 0
