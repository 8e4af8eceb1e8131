"""A short markdown report of a run: what was selected and what the statistics found."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _fmt(x: Any, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec) if isinstance(x, (int, float)) else str(x)


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
    if result.statistics:
        lines += [
            "",
            "## Statistics",
            "",
            "See `stats/*.json` for every number; plots in `plots/`.",
            "",
        ]
        lines += ["```", _stats_summary(result.statistics), "```"]
    lines += ["", "## Timings", ""] + [f"- {k}: {v:.1f} s" for k, v in result.timings.items()]
    lines += ["", "## Plots", ""] + [
        f"![{p.stem}](plots/{p.name})" for p in sorted((path.parent / "plots").glob("*.png"))
    ]
    path.write_text("\n".join(lines) + "\n")


def _stats_summary(statistics: dict[str, Any]) -> str:
    try:
        from casehunt_stats.rerun import summary_table

        return summary_table(statistics)
    except ImportError:
        import json

        return json.dumps(statistics, indent=1, default=str)[:4000]
