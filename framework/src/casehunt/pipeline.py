"""`casehunt run`: the whole analysis, from files to a results directory.

reader -> derived columns -> preselection (cutflow) -> optional signal injection ->
signal regions -> every enabled method, k-folded in every region -> selection at a
fixed efficiency with the threshold from the sidebands -> saved scores and selections ->
statistics (casehunt_stats) -> plots, manifest and report.
"""

from __future__ import annotations

import shutil
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from casehunt.config import Config
from casehunt.engine import Engine, Task, TaskStore
from casehunt.errors import ConfigError, RegionError
from casehunt.folds import assign_folds
from casehunt.injection import InjectionSummary, inject, signal_for_significance
from casehunt.kfold import (
    FoldedScores,
    MethodFailure,
    checked_fit_summary,
    fold_seed,
    scores_in_event_order,
    train_fold,
    train_folds,
)
from casehunt.manifest import build_manifest, input_record
from casehunt.methods import SelectionMethod
from casehunt.plugins import Registry, make_plugin_manager
from casehunt.preselection import Preselection
from casehunt.regions import SignalRegion
from casehunt.results import (
    staging_directory,
    write_json,
    write_scores,
    write_selection,
    write_signal_templates,
    write_spectrum,
)
from casehunt.sample import Sample, load_preselected
from casehunt.selection import select, sideband_threshold


@dataclass
class RunResult:
    """What a run produced (also written to disk)."""

    output: Path
    cutflow: dict[str, Any]
    injection: dict[str, Any] | None
    selections: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    statistics: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def method_seed(seed: int, method: str, region_index: int) -> int:
    """A seed per (run seed, method, region); folds get their own from it (kfold.fold_seed)."""
    return fold_seed(seed, zlib.crc32(method.encode()) * 1000 + region_index)


def _progress(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="fold", leave=False)


def _read(
    config: Config,
    pm: Any,
    section: str,
    files: list[str],
    preselection: Preselection,
    registry: Registry,
    **kwargs: Any,
) -> tuple[Sample, list[dict[str, Any]]]:
    sec = config[section]
    samples, records = [], []
    for file in files:
        path = config.path(file)
        reader = registry.reader_for(str(path), sec["format"])(path)
        samples.append(
            load_preselected(
                reader,
                preselection,
                pm,
                config.to_dict(),
                start=sec["start"] or 0,
                stop=sec["stop"],
                chunk_size=int(config["input"]["chunk_size"]),
                **kwargs,
            )
        )
        records.append({**input_record(path, reader.n_events()), "role": section})
    return (samples[0] if len(samples) == 1 else Sample.concatenate(samples)), records


def _injection_region(config: Config, regions: list[SignalRegion]) -> SignalRegion:
    name = config["injection"]["region"]
    if name is None:
        return regions[0]
    for region in regions:
        if region.name == name:
            return region
    raise ConfigError(
        f"injection.region: no region {name!r}; regions are {', '.join(r.name for r in regions)}"
    )


def _inject_signal(
    config: Config,
    pm: Any,
    registry: Registry,
    cuts: list[Any],
    data: Sample,
    regions: list[SignalRegion],
    rng: np.random.Generator,
) -> tuple[Sample, InjectionSummary | None, dict | None, dict[int, np.ndarray], list[dict]]:
    """Data with signal injected as configured (or shuffled alone), and what was done."""
    inj = config["injection"]
    if inj["signal"] is None:
        return data.take(rng.permutation(data.n_events)), None, None, {}, []
    feature = config["regions"]["resonant_feature"]
    signal_presel = Preselection(cuts)
    pool, inputs = _read(
        config, pm, "injection", [inj["signal"]], signal_presel, registry,
        injected=True, label_value=1,
    )  # fmt: skip
    region = _injection_region(config, regions)
    if inj["n_events"] is not None:
        amount = {"n_events": inj["n_events"]}
    else:
        m_data = np.asarray(data.events[feature])
        amount = {
            "n_in_region": signal_for_significance(m_data, region, float(inj["s_over_sqrt_b"]))
        }
    data, summary = inject(data, pool, rng, region=region, resonant_feature=feature, **amount)
    templates = {}
    if inj["signal_mass"] is not None:
        templates[int(inj["signal_mass"])] = np.asarray(pool.events[feature])
    return data, summary, signal_presel.cutflow.to_dict(), templates, inputs


def run_analysis(
    config: Config,
    output: Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    block_plugins: tuple[str, ...] = (),
    plugins: tuple[Any, ...] = (),
    engine: Engine | None = None,
) -> RunResult:
    """Run every enabled method on every region and write the results directory.

    `plugins` are extra plugin objects registered for this run (as pytest's `plugins=`).
    With an `engine`, every (method, region, fold) is a task on it (e.g. a local dask
    cluster); without one, they run here one after the other. The results are the same.
    """
    t_start = time.perf_counter()
    if config.has_campaign():
        raise ConfigError(
            "the configuration has a `campaign` section: run it with `casehunt campaign`"
        )
    pm = make_plugin_manager(block=block_plugins, extra=plugins)
    registry = Registry(pm)
    methods = {
        name: (registry.method(name), opts) for name, opts in config.enabled_methods().items()
    }
    for cls, opts in methods.values():
        cls(opts, seed=0)  # option errors before any reading
    stats_config = stats_config_of(config)
    regions = config.regions()
    feature = config["regions"]["resonant_feature"]
    seed = config["run"]["seed"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))

    with staging_directory(output, overwrite) as stage:
        timings: dict[str, float] = {}
        # --- input and preselection --------------------------------------------------
        cuts = [
            c
            for cs in pm.hook.casehunt_preselection_cuts(config=config["preselection"])
            for c in cs or []
        ]
        presel = Preselection(cuts)
        data, inputs = _read(config, pm, "input", config["input"]["data"], presel, registry)
        cutflow = presel.cutflow.to_dict()
        if data.n_events == 0:
            raise RegionError(
                "no data events pass the preselection; loosen the cuts (cutflow above)"
            )
        for cls, opts in methods.values():
            _check_columns(cls, opts, data)

        data, injection, signal_cutflow, signal_templates, signal_inputs = _inject_signal(
            config, pm, registry, cuts, data, regions, rng
        )
        inputs += signal_inputs
        timings["read_and_preselect_s"] = time.perf_counter() - t_start

        # --- methods ---------------------------------------------------------------
        m = np.asarray(data.events[feature], dtype=np.float64)
        for region in regions:
            if not region.in_signal_region(m).any():
                raise RegionError(
                    f"region {region.name}: no events in the signal region [{region.low:g}, "
                    f"{region.high:g}) after the preselection; move the window or loosen the cuts"
                )
        folds = assign_folds(data.n_events, config["run"]["n_folds"], seed)
        n_folds = config["run"]["n_folds"]
        selections: dict[str, dict[str, dict[str, Any]]] = {}
        total = sum(
            n_folds * (len(regions) if cls.training == "per_region" else 1)
            for cls, _ in methods.values()
        )
        bar = _progress(total, progress, "training")
        if engine is not None:
            all_scores = _scores_on_engine(
                engine, stage, methods, data, regions, folds, config, bar, timings
            )
        for name, (cls, opts) in methods.items():
            t0 = time.perf_counter()
            selections[name] = {}
            global_scores: FoldedScores | None = None
            for i, region in enumerate(regions):
                bar.set_description(f"{name} {region.name}")
                if engine is not None:
                    scores, fits = all_scores[name, i if cls.training == "per_region" else None]
                elif cls.training == "global" and global_scores is not None:
                    folded = global_scores  # trained once, selected in every region
                else:
                    folded = train_folds(
                        cls,
                        opts,
                        data.events,
                        config.training_region(name, region)
                        if cls.training == "per_region"
                        else None,
                        folds=folds,
                        seed=method_seed(seed, name, i if cls.training == "per_region" else 0),
                        resonant_feature=feature,
                        on_fold=lambda _k: bar.update(),
                    )
                    global_scores = folded if cls.training == "global" else None
                if engine is None:
                    scores, fits = folded.scores, folded.fit_summaries()
                selections[name][region.name] = record_selection(
                    stage,
                    name,
                    region,
                    scores,
                    data,
                    m,
                    folds,
                    config.efficiency(region),
                    feature,
                    fits,
                )
            timings.setdefault(f"{name}_s", time.perf_counter() - t0)
        bar.close()

        seeds = seed_record(seed, {n: cls.training for n, (cls, _) in methods.items()}, regions)
        result = finish_run(
            stage, output, config, pm,
            data=data, cutflow=cutflow, signal_cutflow=signal_cutflow,
            signal_templates=signal_templates, inputs=inputs, injection=injection,
            regions=regions, selections=selections, seeds=seeds, stats_config=stats_config,
            timings=timings, t_start=t_start,
        )  # fmt: skip
    return result


def seed_record(seed: int, methods: dict[str, str], regions: list[SignalRegion]) -> dict[str, Any]:
    """The seeds of a run for its manifest: the run's, and each method's per region.

    `methods` maps a method to its training ("per_region" or "global"); a global method is
    trained once, with the seed of region index 0, whichever region it is selected in.
    """
    return {
        "run": seed,
        "methods": {
            n: {
                r.name: method_seed(seed, n, i if training == "per_region" else 0)
                for i, r in enumerate(regions)
            }
            for n, training in methods.items()
        },
    }


def _fold_scores(
    cls: type[SelectionMethod],
    options: dict[str, Any],
    events: Any,
    region: SignalRegion | None,
    folds: np.ndarray,
    k: int,
    seed: int,
    feature: str,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One fold as a task: the scores of fold `k` by the model trained on the others.

    Also the model's fit summary, since the model itself stays with the worker.
    """
    model, scores = train_fold(
        cls, options, events, region, folds, k, seed=seed, resonant_feature=feature
    )
    return scores, checked_fit_summary(model)


def _scores_on_engine(
    engine: Engine,
    stage: Path,
    methods: dict[str, tuple[type[SelectionMethod], dict[str, Any]]],
    data: Sample,
    regions: list[SignalRegion],
    folds: np.ndarray,
    config: Config,
    bar: Any,
    timings: dict[str, float],
) -> dict[tuple[str, int | None], tuple[np.ndarray, list[dict[str, Any]]]]:
    """Every (method, region, fold) as a task on `engine`; a failed task fails the run.

    Gives the scores in event order and the fit summary of each fold's model.
    """
    seed, feature = config["run"]["seed"], config["regions"]["resonant_feature"]
    n_folds = int(folds.max()) + 1
    events = engine.share(data.events)
    tasks, keys = [], {}
    for name, (cls, opts) in methods.items():
        for i in range(len(regions)) if cls.training == "per_region" else [None]:
            region = None if i is None else config.training_region(name, regions[i])
            keys[name, i] = [f"{name}/{i}/fold{k}" for k in range(n_folds)]
            method_seed_ = method_seed(seed, name, i or 0)
            tasks += [
                Task(
                    key, _fold_scores, (cls, opts, events, region, folds, k, method_seed_, feature)
                )
                for k, key in enumerate(keys[name, i])
            ]
    store = TaskStore(stage / ".tasks")
    report = engine.run(tasks, store, on_done=lambda _key: bar.update())
    if report.failed:
        first = report.failed[0]
        raise MethodFailure(f"task {first.key} failed: {first.error}\n{first.traceback}")
    out = {}
    for (name, i), fold_keys in keys.items():
        results = [store.load(key) for key in fold_keys]
        out[name, i] = (
            scores_in_event_order([scores for scores, _ in results], folds),
            [fit for _, fit in results],
        )
        timings[f"{name}_s"] = timings.get(f"{name}_s", 0.0) + sum(
            report.task_seconds.get(key, 0.0) for key in fold_keys
        )
    shutil.rmtree(store.root)
    return out


def record_selection(
    stage: Path,
    name: str,
    region: SignalRegion,
    scores: np.ndarray,
    data: Sample,
    m: np.ndarray,
    folds: np.ndarray,
    efficiency: float,
    feature: str = "mjj",
    fits: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Select at `efficiency` with the threshold from the sidebands; write the scores file.

    `fits`, the fold models' fit summaries, join the record when any is not empty.

    `m` holds the resonant feature `feature` (saved as the `mjj` dataset, see results.py).
    """
    threshold = sideband_threshold(scores, m, region, efficiency)
    chosen = select(scores, threshold)
    write_scores(
        stage / name / region.name / "scores.h5",
        event_id=data.event_id,
        mjj=m,
        score=scores,
        fold=folds,
        selected=chosen,
        injected=data.injected,
        labels=data.labels,
        attrs={
            "method": name,
            "region": region.name,
            "threshold": threshold,
            "resonant_feature": feature,
        },
    )
    out = _selection_summary(region, efficiency, threshold, chosen, data, scores, m)
    if fits and any(fits):
        out["fit"] = fits
    return out


def finish_run(
    stage: Path,
    output: Path,
    config: Config,
    pm: Any,
    *,
    data: Sample,
    cutflow: dict[str, Any],
    signal_cutflow: dict[str, Any] | None,
    signal_templates: dict[int, np.ndarray],
    inputs: list[dict[str, Any]],
    injection: InjectionSummary | None,
    regions: list[SignalRegion],
    selections: dict[str, dict[str, dict[str, Any]]],
    seeds: dict[str, Any],
    stats_config: Any,
    timings: dict[str, float],
    t_start: float,
) -> RunResult:
    """Everything after the scores: selections, spectra, manifest, plots, statistics, report."""
    feature = config["regions"]["resonant_feature"]
    for name, sels in selections.items():
        write_selection(stage / name / "selection.h5", name, sels, feature)
        pm.hook.casehunt_method_finished(method=name, result=_public(sels), config=config.to_dict())
    m = np.asarray(data.events[feature], dtype=np.float64)
    write_spectrum(stage / "inclusive.h5", m, n_events=data.n_events, resonant_feature=feature)
    if signal_templates:
        write_signal_templates(stage / "signal_templates.h5", signal_templates, feature)
    write_json(stage / "cutflow.json", {"data": cutflow, "signal": signal_cutflow})
    manifest = build_manifest(
        config.to_dict(),
        seeds,
        inputs,
        regions=[r.to_dict() for r in regions],
        injection=None if injection is None else injection.to_dict(),
        events_after_preselection=data.n_events,
    )
    write_json(stage / "manifest.json", manifest)
    if config["output"]["plots"]:
        from casehunt.plots import plot_mjj_selection

        (stage / "plots").mkdir(exist_ok=True)
        for name, sels in selections.items():
            plot_mjj_selection(
                stage / "plots" / f"mjj_{name}.png", name, m, sels, data.injected, feature
            )

    statistics = None
    if stats_config is not None:
        t0 = time.perf_counter()
        from casehunt_stats.rerun import analyze_results

        statistics = analyze_results(stage, stats_config, plots=config["output"]["plots"])
        timings["statistics_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    result = RunResult(
        output,
        cutflow,
        manifest["injection"],
        {n: _public(s) for n, s in selections.items()},
        statistics,
        timings,
    )
    write_json(
        stage / "summary.json",
        {
            "cutflow": cutflow,
            "injection": result.injection,
            "selections": result.selections,
            "timings": timings,
        },
    )
    pm.hook.casehunt_write_report(
        results=_report_data(result), outdir=str(stage), config=config.to_dict()
    )
    from casehunt.report import write_markdown_report

    write_markdown_report(stage / "report.md", result, config, manifest)
    return result


def stats_config_of(config: Config) -> Any:
    """The statistics settings of a run, or None when `output.statistics` is off."""
    return _stats_config(config) if config["output"]["statistics"] else None


def _stats_config(config: Config) -> Any:
    """The statistics settings, checked before any work (casehunt-stats owns the keys)."""
    from casehunt_stats import StatsConfig

    try:
        return StatsConfig.from_dict(config["statistics"])
    except ValueError as exc:
        raise ConfigError(f"statistics: {exc}") from None


def _check_columns(cls: Any, options: dict[str, Any], data: Sample) -> None:
    missing = sorted(set(cls(options, 0).required_columns()) - set(data.events.columns))
    if missing:
        raise ConfigError(
            f"method {cls.name!r} needs column(s) {', '.join(missing)} that the input does not "
            f"provide (available: {', '.join(data.events.columns)})"
        )


def _selection_summary(
    region: SignalRegion,
    eff: float,
    threshold: float,
    chosen: np.ndarray,
    data: Sample,
    scores: np.ndarray,
    m: np.ndarray,
) -> dict[str, Any]:
    sr, sb = region.in_signal_region(m), region.in_sideband(m)
    out: dict[str, Any] = {
        "region": region,
        "efficiency": eff,
        "threshold": float(threshold),
        "event_id": data.event_id[chosen],
        "mjj": m[chosen],
        "score": scores[chosen],
        "n_selected": int(chosen.sum()),
        "n_signal_region": int(sr.sum()),
        "n_selected_signal_region": int((chosen & sr).sum()),
        "n_sideband": int(sb.sum()),
        "n_selected_sideband": int((chosen & sb).sum()),
    }
    if data.injected.any():
        inj = data.injected
        out["injected_selected"] = int((chosen & inj).sum())
        out["injected_signal_region"] = int((inj & sr).sum())
        out["injected_selected_signal_region"] = int((chosen & inj & sr).sum())
    return out


def _public(selections: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The JSON-friendly part of the selection summaries (no per-event arrays)."""
    out = {}
    for name, sel in selections.items():
        out[name] = {
            k: v for k, v in sel.items() if k not in ("event_id", "mjj", "score", "region")
        }
        out[name]["region"] = sel["region"].to_dict()
    return out


def _report_data(result: RunResult) -> dict[str, Any]:
    return {
        "cutflow": result.cutflow,
        "injection": result.injection,
        "selections": result.selections,
        "statistics": result.statistics,
        "timings": result.timings,
    }
