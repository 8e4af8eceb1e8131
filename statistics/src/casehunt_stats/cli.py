"""``casehunt-stats`` command line: ``casehunt-stats rerun RESULTS_DIR``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import StatsConfig
from .errors import StatsError

__all__ = ["main"]


def _load_config_file(path: Path) -> StatsConfig:
    if not path.is_file():
        raise StatsError(f"config file not found: {path}")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise StatsError(f"{path}: PyYAML is not installed; use a JSON config") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise StatsError(f"cannot parse {path}: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StatsError(f"cannot parse {path}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("statistics"), dict):
        data = data["statistics"]
    try:
        return StatsConfig.from_dict(data or {})
    except (ValueError, TypeError) as exc:
        raise StatsError(f"invalid config in {path}: {exc}") from exc


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _summary(results: dict[str, dict]) -> str:
    rows = [("method", "region", "n_par", "chi2/ndof", "max Z", "at [GeV]", "status")]
    for method, res in results.items():
        for name, reg in res["regions"].items():
            if reg["status"] != "ok":
                rows.append((method, name, "-", "-", "-", "-", "failed: " + reg.get("reason", "")))
                continue
            fit, scan = reg["fit"], reg["scan"]
            rows.append((
                method, name, str(fit["n_params"]), f"{fit['chi2']:.1f}/{fit['ndof']}",
                _fmt(scan["max_z"], ".2f"), _fmt(scan["max_z_mass"], ".0f"), "ok",
            ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1]
             for r in rows]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 2 on a StatsError)."""
    parser = argparse.ArgumentParser(
        prog="casehunt-stats", description="casehunt statistics backend"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("rerun", help="recompute stats/ and plots/ from saved selections")
    p.add_argument("results_dir", type=Path, help="a casehunt results directory")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.add_argument("--config", type=Path, help="statistics config (.json, or .yaml with PyYAML)")
    args = parser.parse_args(argv)

    from .rerun import analyze_results

    try:
        config = _load_config_file(args.config) if args.config else None
        results = analyze_results(args.results_dir, config=config, plots=not args.no_plots)
    except StatsError as exc:
        print(f"casehunt-stats: error: {exc}", file=sys.stderr)
        return 2
    print(_summary(results))
    print(f"results written to {args.results_dir / 'stats'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
