"""A short markdown report of a run: what was selected and what the statistics found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casehunt.report_html import fit_summary_table


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec) if isinstance(x, (int, float)) else str(x)


def _md_cell(text: str) -> str:
    """Text safe in one markdown table cell: no column break, no line break."""
    return " ".join(text.replace("|", "\\|").splitlines())


def write_markdown_report(path: Path, result: Any, config: Any, manifest: dict[str, Any]) -> None:
    lines = [f"# casehunt run `{config['run']['name']}`", ""]
    lines += [
        f"Created {manifest['created']}, casehunt {manifest['versions'].get('casehunt', '?')}, "
        f"git {manifest.get('git_revision') or 'unknown'}.",
        "",
    ]
    lines += [
        "## Preselection",
        "",
        "| cut | events | relative | cumulative |",
        "|---|---|---|---|",
    ]
    lines.append(f"| (all) | {result.cutflow['initial']} | | |")
    for row in result.cutflow["cuts"]:
        lines.append(
            f"| {row['description']} | {row['events']} | {row['relative']:.3f} | {row['cumulative']:.3f} |"
        )
    if result.injection:
        inj = result.injection
        lines += [
            "",
            "## Signal injection",
            "",
            f"{inj['n_injected']} signal events injected, {inj['n_in_region']} in {inj['region']} "
            f"over {inj['n_background_in_region']} data events there (S/sqrt(B) = {_fmt(inj['s_over_sqrt_b'])}).",
        ]
    lines += [
        "",
        "## Selections",
        "",
        "| method | region | efficiency | selected | selected in SR | injected selected in SR |",
        "|---|---|---|---|---|---|",
    ]
    for method, regions in result.selections.items():
        for region, sel in regions.items():
            lines.append(
                f"| {method} | {region} | {sel['efficiency']:.3g} | {sel['n_selected']} | "
                f"{sel['n_selected_signal_region']} "
                f"| {_fmt(sel.get('injected_selected_signal_region'))} |"
            )
    lines += _fold_model_lines(result.selections)
    if result.statistics:
        lines += [
            "",
            "## Statistics",
            "",
            "Every number is in `stats/*.json`; the plots are in `plots/`.",
            "",
        ]
        lines += _stats_rows(result.statistics)
    lines += ["", "## Timings", ""] + [f"- {k}: {v:.1f} s" for k, v in result.timings.items()]
    lines += ["", "## Plots", ""] + [
        f"![{p.stem}](plots/{p.name})" for p in sorted((path.parent / "plots").glob("*.png"))
    ]
    path.write_text("\n".join(lines) + "\n")


def _fold_model_lines(selections: dict[str, Any]) -> list[str]:
    """A table per selection whose fold models reported what they chose (fit summaries)."""
    lines: list[str] = []
    for method, regions in selections.items():
        for region, sel in regions.items():
            if not sel.get("fit"):
                continue
            head, rows, nested = fit_summary_table(sel["fit"])
            lines += ["", f"### {method}, {region}", ""]
            lines += ["| " + " | ".join(map(_md_cell, head)) + " |", "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            if nested:
                lines += ["", f"Also per fold in `summary.json`: {', '.join(nested)}."]
    return ["", "## Fold models", *lines] if lines else []


def _stats_rows(statistics: dict[str, Any]) -> list[str]:
    """One markdown row per (method, region): the chosen fit and the largest excess."""
    rows = [
        "| selection | region | fit parameters | chi2 / ndof | max local Z | at mass [GeV] |",
        "|---|---|---|---|---|---|",
    ]
    for method, res in statistics.items():
        for region, reg in res.get("regions", {}).items():
            if reg.get("status") != "ok":
                rows.append(f"| {method} | {region} | failed: {reg.get('reason', '?')} | | | |")
                continue
            fit, scan = reg["fit"], reg.get("scan") or {}
            rows.append(
                f"| {method} | {region} | {fit['n_params']} | {fit['chi2']:.1f} / {fit['ndof']} "
                f"| {_fmt(scan.get('max_z'), '.2f')} | {_fmt(scan.get('max_z_mass'), '.0f')} |"
            )
    return rows
