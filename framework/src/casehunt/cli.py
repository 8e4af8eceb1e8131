"""The `casehunt` command: run an analysis, list plugins, generate events, rerun statistics."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from casehunt import __version__
from casehunt.errors import CasehuntError


def _cmd_run(args: argparse.Namespace) -> int:
    from casehunt.config import Config
    from casehunt.pipeline import run_analysis

    config = Config.from_file(args.config)
    if args.seed is not None:
        config["run"]["seed"] = args.seed
    output = Path(args.output) if args.output else Path("results") / config["run"]["name"]
    with contextlib.ExitStack() as stack:
        engine = None
        if args.workers is not None or args.scheduler is not None:
            from casehunt.engine import make_engine

            engine = stack.enter_context(make_engine(args.scheduler, args.workers))
        result = run_analysis(
            config,
            output,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            block_plugins=tuple(args.disable_plugin),
            engine=engine,
        )
    print(f"results written to {result.output} in {result.timings['total_s']:.1f} s")
    for method, regions in result.selections.items():
        for region, sel in regions.items():
            injected = sel.get("injected_selected_signal_region")
            extra = f", injected signal selected in SR: {injected}" if injected is not None else ""
            print(
                f"  {method:>10} {region}: {sel['n_selected']} events selected at "
                f"{sel['efficiency']:.3g} efficiency{extra}"
            )
    return 0


def _cmd_campaign(args: argparse.Namespace) -> int:
    from casehunt.campaign import run_campaign
    from casehunt.config import Config
    from casehunt.engine import make_engine

    config = Config.from_file(args.config)
    output = Path(args.output) if args.output else Path("results") / config["run"]["name"]
    with make_engine(args.scheduler, args.workers, serial=args.serial) as engine:
        campaign = run_campaign(
            config,
            output,
            engine,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            block_plugins=tuple(args.disable_plugin),
        )
    tasks = campaign["tasks"]
    print(
        f"campaign written to {output} in {campaign['timings']['total_s']:.1f} s: "
        f"{tasks['computed']} tasks computed, {tasks['reused']} reused, "
        f"{len(tasks['failed'])} failed"
    )
    unit = campaign["unit"]
    for name, res in campaign["results"].items():
        z5, gain = res["xsec_5sigma"]["median"], res["improvement_5sigma"]
        text = "not reached" if z5 is None else f"{z5:.4g} {unit}"
        extra = "" if gain is None or name == "inclusive" else f" ({gain:.2f}x less than inclusive)"
        print(f"  {name:>10}: 5 sigma at {text}{extra}")
    for failure in tasks["failed"]:
        print(f"casehunt: task {failure['task']} failed: {failure['error']}", file=sys.stderr)
    if tasks["failed"]:
        print(
            f"casehunt: {len(tasks['failed'])} task(s) failed (tracebacks in "
            f"{output / 'campaign.json'}); the others are kept: rerun the same command to retry",
            file=sys.stderr,
        )
        return 1
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from casehunt.plugins import get_registry

    registry = get_registry(block=args.disable_plugin)
    rows = [info.to_dict() for info in registry.listing()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    widths = {
        k: max([len(k)] + [len(r[k]) for r in rows])
        for k in ("kind", "name", "distribution", "version")
    }
    header = "  ".join(k.upper().ljust(w) for k, w in widths.items()) + "  DESCRIPTION"
    print(header)
    for r in rows:
        print("  ".join(r[k].ljust(w) for k, w in widths.items()) + "  " + r["description"])
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from casehunt import generate

    return int(generate.main(args))


def _cmd_stats(args: argparse.Namespace) -> int:
    from casehunt_stats.cli import main as stats_main

    return int(stats_main(args.stats_args))


def _add_disable_plugin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--disable-plugin", action="append", default=[], metavar="NAME",
        help="block a plugin by name (repeatable)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casehunt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"casehunt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the analysis of a configuration file")
    run.add_argument("config", help="YAML configuration (see examples/demo.yaml)")
    run.add_argument("-o", "--output", help="results directory (default: results/<run.name>)")
    run.add_argument(
        "--overwrite", action="store_true", help="replace an existing results directory"
    )
    run.add_argument("--seed", type=int, help="override run.seed")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, help="train the folds on a local dask cluster of N processes"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="train the folds on an existing dask scheduler"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_disable_plugin(run)
    run.set_defaults(func=_cmd_run)

    camp = sub.add_parser(
        "campaign",
        help="the injection study: every method at several signal amounts and seeds",
    )
    camp.add_argument("config", help="YAML configuration with a `campaign` section")
    camp.add_argument("-o", "--output", help="campaign folder (default: results/<run.name>)")
    camp.add_argument(
        "--overwrite", action="store_true", help="start afresh, deleting the campaign folder"
    )
    engine = camp.add_mutually_exclusive_group()
    engine.add_argument(
        "--workers", type=int, help="worker processes of the local cluster (default: cores)"
    )
    engine.add_argument(
        "--scheduler", metavar="ADDRESS", help="an existing dask scheduler, e.g. tcp://host:8786"
    )
    engine.add_argument("--serial", action="store_true", help="every task in this process")
    camp.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_disable_plugin(camp)
    camp.set_defaults(func=_cmd_campaign)

    plugins = sub.add_parser("plugins", help="list installed methods and readers")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    _add_disable_plugin(plugins)
    plugins.set_defaults(func=_cmd_plugins)

    gen = sub.add_parser(
        "generate", help="generate events with Pythia 8 (needs casehunt[generate])"
    )
    try:
        from casehunt import generate

        generate.add_arguments(gen)
    except ImportError as exc:  # the generator module itself is part of casehunt
        gen.set_defaults(generate_import_error=str(exc))
    gen.set_defaults(func=_cmd_generate)

    from casehunt.report_html import add_export_parser

    add_export_parser(sub)  # `casehunt report DIR`, `casehunt export hepdata DIR -o OUT`

    stats = sub.add_parser(
        "stats", help="the statistics backend (casehunt-stats), e.g. `stats rerun DIR`"
    )
    stats.add_argument("stats_args", nargs=argparse.REMAINDER, help="arguments of casehunt-stats")
    stats.set_defaults(func=_cmd_stats)
    return parser


def _stats_error() -> type[Exception]:
    try:
        from casehunt_stats import StatsError
    except ImportError:  # a broken stats install must not hide the real error
        return CasehuntError
    return StatsError


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CasehuntError as exc:
        print(f"casehunt: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except _stats_error() as exc:
        print(f"casehunt: statistics error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("casehunt: interrupted; no results directory was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
