"""`casehunt campaign`: the CASE injection study for every method, as pure tasks.

CASE (arXiv:2412.03747, Sec. 7-8) retrained every method at several injected signal
cross sections, because a weakly supervised method's signal efficiency depends on how
much signal the data hold, and compared the cross section each method needs for a
3 sigma / 5 sigma discovery with the inclusive search. Here one campaign is:

1. read and preselect the data and the signal pool once (``prepared/``);
2. for every amount and seed, inject (exactly as ``casehunt run`` with that amount and
   ``run.seed``) and train every (method, region, fold) as its own task;
3. per amount and seed, assemble the folds into a normal results directory
   (``runs/<amount>_seed<seed>/``: scores, selections, fits, significances, limits);
4. per method and seed, the injection scan of casehunt-stats on those selections:
   Asimov significance and CLs limit at every amount, the injection-calibrated limit and
   the 3 sigma / 5 sigma discovery amounts, next to the inclusive search;
5. ``campaign.json``, plots and one report.

Steps 2-4 are tasks of :mod:`casehunt.engine`, each a pure function of its arguments
whose result is stored under its key, so the same command runs on one core, a local
cluster or a batch farm, and a killed campaign finishes only what was missing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
import shutil
import statistics as pystats
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from casehunt.config import Config
from casehunt.engine import Engine, EngineReport, Task, TaskStore
from casehunt.errors import CasehuntError, ConfigError, RegionError
from casehunt.folds import assign_folds
from casehunt.injection import InjectionSummary, inject, signal_for_significance
from casehunt.kfold import checked_fit_summary, scores_in_event_order, train_fold
from casehunt.manifest import build_manifest, sha256
from casehunt.plugins import Registry, get_registry, make_plugin_manager
from casehunt.preselection import Preselection
from casehunt.regions import SignalRegion
from casehunt.results import write_json
from casehunt.sample import Sample

INCLUSIVE = "inclusive"
FORMAT_VERSION = 1


class CampaignError(CasehuntError):
    """A campaign cannot start or its output folder holds another campaign."""


# --- what one (amount, seed) point is ---------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One injected amount and seed, and where its prepared inputs are (hashable: cached)."""

    prepared: str
    unit: str
    level: float
    seed: int
    n_folds: int
    feature: str
    region: SignalRegion  # the region that tests the signal mass (S/sqrt(B) is set there)
    events_per_unit: float  # preselected signal events per unit of `level` (not S/sqrt(B))

    @property
    def tag(self) -> str:
        return f"{self.unit}_{self.level:g}_seed{self.seed}"


def _n_events_to_inject(point: Point, data: Sample) -> dict[str, int]:
    if point.unit == "s_over_sqrt_b":
        m = np.asarray(data.events[point.feature])
        return {"n_in_region": signal_for_significance(m, point.region, point.level)}
    return {"n_events": round(point.level * point.events_per_unit)}


def _load(path: str) -> Any:
    """A prepared pickle, cached per process (keyed by its modification time too)."""
    return _load_cached(path, Path(path).stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _load_cached(path: str, _mtime_ns: int) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


@functools.lru_cache(maxsize=2)
def injected_sample(point: Point) -> tuple[Sample, InjectionSummary, np.ndarray]:
    """The data of one point and its fold assignment: the same as `casehunt run` gives.

    The generator is seeded as in :func:`casehunt.pipeline.run_analysis`, so a campaign
    point equals a run with that amount injected and ``run.seed`` = the point's seed.
    Cached per process: every fold task of a point on a worker reuses it.
    """
    data: Sample = _load(str(Path(point.prepared) / "data.pkl"))
    pool: Sample = _load(str(Path(point.prepared) / "pool.pkl"))
    rng = np.random.default_rng(np.random.SeedSequence([point.seed, 1]))
    sample, summary = inject(
        data,
        pool,
        rng,
        region=point.region,
        resonant_feature=point.feature,
        **_n_events_to_inject(point, data),
    )
    return sample, summary, assign_folds(sample.n_events, point.n_folds, point.seed)


# --- tasks (module-level functions: they run on workers) --------------------------------
def fold_task(
    point: Point, config: Config, method: str, region_index: int | None, k: int
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scores of fold `k`'s events by the model trained on the other folds, and the
    model's fit summary."""
    from casehunt.pipeline import method_seed

    cls = get_registry().method(method)
    data, _, folds = injected_sample(point)
    region = None
    if region_index is not None:
        region = config.training_region(method, config.regions()[region_index])
    model, scores = train_fold(
        cls,
        config.enabled_methods()[method],
        data.events,
        region,
        folds,
        k,
        seed=method_seed(point.seed, method, region_index or 0),
        resonant_feature=point.feature,
    )
    return scores, checked_fit_summary(model)


def _fold_result(stored: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """A stored fold result; a bare score array (stored before fit summaries) has none."""
    return (stored, {}) if isinstance(stored, np.ndarray) else stored


def assemble_task(
    point: Point, config: Config, output: str, store_root: str, meta: dict[str, Any]
) -> dict[str, Any]:
    """One results directory from the fold scores of a point, with its statistics."""
    from casehunt.pipeline import finish_run, record_selection, seed_record, stats_config_of
    from casehunt.results import staging_directory

    t_start = time.perf_counter()
    store = TaskStore(store_root)
    data, summary, folds = injected_sample(point)
    regions = config.regions()
    m = np.asarray(data.events[point.feature], dtype=np.float64)
    pm = make_plugin_manager()
    selections: dict[str, dict[str, dict[str, Any]]] = {}
    missing: dict[str, str] = {}
    run_dir = Path(output) / "runs" / point.tag
    for stale in run_dir.parent.glob(f".{point.tag}.partial-*"):  # left by a killed attempt
        shutil.rmtree(stale, ignore_errors=True)
    with staging_directory(run_dir, overwrite=True) as stage:
        for name, training in meta["methods"].items():
            keys = {
                i: fold_keys(point, name, i if training == "per_region" else None, point.n_folds)
                for i in range(len(regions))
            }
            absent = [key for ks in keys.values() for key in ks if not store.has(key)]
            if absent:
                missing[name] = f"fold task(s) failed: {', '.join(sorted(set(absent)))}"
                continue
            selections[name] = {}
            for i, region in enumerate(regions):
                results = [_fold_result(store.load(key)) for key in keys[i]]
                scores = scores_in_event_order([part for part, _ in results], folds)
                selections[name][region.name] = record_selection(
                    stage,
                    name,
                    region,
                    scores,
                    data,
                    m,
                    folds,
                    config.efficiency(region),
                    config["regions"]["resonant_feature"],
                    [fit for _, fit in results],
                )
        seeds = seed_record(point.seed, {n: meta["methods"][n] for n in selections}, regions)
        mass = int(config["injection"]["signal_mass"])
        pool: Sample = _load(str(Path(point.prepared) / "pool.pkl"))
        result = finish_run(
            stage, run_dir, config, pm,
            data=data, cutflow=meta["cutflow"], signal_cutflow=meta["signal_cutflow"],
            signal_templates={mass: np.asarray(pool.events[point.feature])},
            inputs=meta["inputs"], injection=summary, regions=regions, selections=selections,
            seeds=seeds, stats_config=stats_config_of(config), timings={}, t_start=t_start,
        )  # fmt: skip
    return {
        "run": f"runs/{point.tag}",
        "injection": summary.to_dict(),
        "selections": result.selections,
        "missing": missing,
    }


def scan_task(
    config: Config,
    method: str,
    mass: float,
    region: str,
    run_keys: dict[float, str],
    store_root: str,
    output: str,
    luminosity: float,
    limits: bool,
) -> dict[str, Any]:
    """The injection scan of one method and seed: Z and limits at each amount it has.

    Amounts whose run is missing, or holds no selection of this method (a failed fold),
    are left out; ``levels`` in the result says which amounts were scanned.
    """
    from casehunt_stats import StatsConfig
    from casehunt_stats.injection import injection_scan
    from casehunt_stats.signal_shape import SignalModel
    from casehunt_stats.storage import read_inclusive, read_selection, read_signal_templates

    store = TaskStore(store_root)
    runs = {lv: store.load(key) for lv, key in run_keys.items() if store.has(key)}
    runs = {lv: r for lv, r in runs.items() if method == INCLUSIVE or method in r["selections"]}
    if not runs:
        raise CampaignError(f"{method}: no amount has a result to scan")
    stats = StatsConfig.from_dict(config["statistics"])
    first = Path(output) / next(iter(runs.values()))["run"]
    signal = SignalModel.from_samples(
        read_signal_templates(first / "signal_templates.h5"), resolution=stats.resolution
    )

    # preselected signal events per unit of the amount; with nothing injected, the others'
    # (for S/sqrt(B) it depends on the region's background, not only on the luminosity)
    ratios = [r["injection"]["n_injected"] / lv for lv, r in runs.items() if lv > 0]
    nominal = float(np.median(ratios)) if ratios else luminosity

    def callback(level: float) -> tuple[np.ndarray, float, float]:
        run = runs[level]
        folder = Path(output) / run["run"]
        n_inj = run["injection"]["n_injected"]
        per_unit = n_inj / level if level > 0 else nominal
        if method == INCLUSIVE:
            return read_inclusive(folder / "inclusive.h5"), 1.0, per_unit
        _, regions = read_selection(folder / method / "selection.h5")
        sel = run["selections"][method][region]
        eff = sel.get("injected_selected", 0) / n_inj if n_inj else 0.0
        return regions[region]["mjj"], eff, per_unit

    scan = injection_scan(
        callback, sorted(runs), mass=mass, signal=signal, luminosity=luminosity,
        config=stats, compute_limits=limits,
    )  # fmt: skip
    return {**scan.to_dict(), "levels": sorted(runs)}


# --- keys ------------------------------------------------------------------------------
def fold_keys(point: Point, method: str, region_index: int | None, n_folds: int) -> list[str]:
    where = "global" if region_index is None else f"region{region_index}"
    return [f"folds/{point.tag}/{method}/{where}/fold{k}" for k in range(n_folds)]


# --- the driver --------------------------------------------------------------------------
def _config_hash(config: Config) -> str:
    """What the stored results depend on: everything but the list of amounts and seeds."""
    data = config.to_dict()
    camp = dict(data["campaign"])
    for key in ("s_over_sqrt_b", "n_events", "cross_section", "seeds"):
        camp.pop(key, None)
    data["campaign"] = camp
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _open_output(output: Path, config: Config, overwrite: bool) -> None:
    stamp = output / "campaign_config.json"
    digest = _config_hash(config)
    if output.exists() and overwrite:
        shutil.rmtree(output)
    if output.exists():
        if not stamp.is_file():
            raise CampaignError(
                f"{output}: exists and holds no campaign; choose another --output or use "
                "--overwrite"
            )
        if json.loads(stamp.read_text()).get("hash") != digest:
            raise CampaignError(
                f"{output}: holds a campaign of another configuration (only the amounts and "
                "seeds may change between reruns); use --overwrite or another --output"
            )
    output.mkdir(parents=True, exist_ok=True)
    write_json(stamp, {"hash": digest, "config": config.to_dict()})


def _prepare(
    config: Config, output: Path, pm: Any, registry: Registry
) -> tuple[dict[str, Any], Sample]:
    """Read and preselect data and signal once; later tasks load the pickles."""
    from casehunt.pipeline import _check_columns, _read

    folder = output / "prepared"
    meta_path = folder / "meta.json"
    if meta_path.is_file() and (folder / "data.pkl").is_file():
        meta = json.loads(meta_path.read_text())
        for record in meta["inputs"]:  # stored results are only valid for the same inputs
            path = Path(record["path"])
            if not path.is_file() or sha256(path) != record["sha256"]:
                raise CampaignError(
                    f"{path}: the input changed (or vanished) since this campaign began; "
                    "use --overwrite or another --output"
                )
        return meta, _load(str(folder / "data.pkl"))
    cuts = [
        c
        for cs in pm.hook.casehunt_preselection_cuts(config=config["preselection"])
        for c in cs or []
    ]
    presel = Preselection(cuts)
    data, inputs = _read(config, pm, "input", config["input"]["data"], presel, registry)
    if data.n_events == 0:
        raise RegionError("no data events pass the preselection; loosen the cuts")
    for name in config.enabled_methods():
        _check_columns(registry.method(name), config.enabled_methods()[name], data)
    signal_presel = Preselection(cuts)
    inj = config["injection"]
    pool, signal_inputs = _read(
        config, pm, "injection", [inj["signal"]], signal_presel, registry,
        injected=True, label_value=1,
    )  # fmt: skip
    signal_cutflow = signal_presel.cutflow.to_dict()
    n_read = signal_cutflow["initial"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, obj in (("data", data), ("pool", pool)):
        tmp = folder / f".{name}.pkl.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(folder / f"{name}.pkl")
    meta = {
        "cutflow": presel.cutflow.to_dict(),
        "signal_cutflow": signal_cutflow,
        "signal_presel_efficiency": pool.n_events / n_read if n_read else None,
        "inputs": inputs + signal_inputs,
        "n_events": data.n_events,
        "pool_size": pool.n_events,
    }
    write_json(meta_path, meta)
    return meta, data


def _summarise(values: list[float | None]) -> dict[str, Any]:
    found = [v for v in values if v is not None]
    return {"median": pystats.median(found) if found else None, "per_seed": values}


def run_campaign(
    config: Config,
    output: Path,
    engine: Engine,
    *,
    overwrite: bool = False,
    progress: bool = True,
    block_plugins: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run (or finish) the campaign of `config` into `output`; returns campaign.json's data."""
    from casehunt.pipeline import stats_config_of

    t_start = time.perf_counter()
    if not config.has_campaign():
        raise ConfigError("the configuration has no `campaign` section (see the README)")
    spec = config.campaign()
    pm = make_plugin_manager(block=block_plugins)
    registry = Registry(pm)
    methods = {name: registry.method(name) for name in config.enabled_methods()}
    for name, cls in methods.items():
        cls(config.enabled_methods()[name], seed=0)  # option errors before any work
    stats_config_of(config)
    mass = float(config["injection"]["signal_mass"])
    region = config.region_at(mass)
    regions = config.regions()
    output = Path(output)
    _open_output(output, config, overwrite)
    store = TaskStore(output / "tasks")
    meta, data = _prepare(config, output, pm, registry)
    meta["methods"] = {name: cls.training for name, cls in methods.items()}
    if spec["unit"] == "cross_section":
        eff = meta["signal_presel_efficiency"]
        events_per_unit = spec["luminosity"] * (eff or 0.0)
    else:
        events_per_unit = 1.0
    m = np.asarray(data.events[config["regions"]["resonant_feature"]])
    for reg in regions:
        if not reg.in_signal_region(m).any():
            raise RegionError(f"region {reg.name}: no events in the signal region")
    points = {
        (level, seed): Point(
            str(output / "prepared"),
            spec["unit"],
            level,
            seed,
            config["run"]["n_folds"],
            config["regions"]["resonant_feature"],
            region,
            events_per_unit,
        )
        for level in spec["levels"]
        for seed in spec["seeds"]
    }
    _check_pool(list(points.values()), data, output / "prepared" / "pool.pkl")

    # One batch, in dependency order: the folds of every method, region and point; a
    # results directory per point after its folds; a scan per method and seed after its
    # points' runs. On a cluster a point's statistics start as soon as its folds are done.
    tasks = []
    run_keys = {key: f"runs/{p.tag}" for key, p in points.items()}
    for key, point in points.items():
        folds = []
        for name, cls in methods.items():
            for i in range(len(regions)) if cls.training == "per_region" else [None]:
                for k, fold in enumerate(fold_keys(point, name, i, point.n_folds)):
                    tasks.append(Task(fold, fold_task, (point, config, name, i, k)))
                    folds.append(fold)
        args = (point, config, str(output), str(store.root), meta)
        tasks.append(Task(run_keys[key], assemble_task, args, after=tuple(folds)))
    lumi = spec["luminosity"] if spec["unit"] == "cross_section" else 1.0
    # the key names the amounts, so a scan made before amounts were added is not reused
    amounts = hashlib.sha256(repr(spec["levels"]).encode()).hexdigest()[:12]
    scans: dict[tuple[str, int], str] = {}
    for name in [INCLUSIVE, *methods]:
        for seed in spec["seeds"]:
            mine = {lv: run_keys[lv, seed] for lv in spec["levels"]}
            scans[name, seed] = f"scans/{name}/seed{seed}/{amounts}"
            scan_args = (config, name, mass, region.name, mine, str(store.root), str(output),
                         lumi, spec["limits"])  # fmt: skip
            tasks.append(
                Task(
                    scans[name, seed],
                    scan_task,
                    scan_args,
                    after=tuple(mine.values()),
                )
            )
    report = _stage(engine, tasks, store, "tasks", progress)

    runs = {point_key: store.load(key) for point_key, key in run_keys.items() if store.has(key)}
    for point_key, run in runs.items():
        if run["missing"]:  # assembled without a failed method: redo it on the next run
            store.discard(run_keys[point_key])
    campaign = _campaign_summary(
        config, spec, mass, region, methods, store, scans, runs, report, meta
    )
    campaign["timings"] = {
        "total_s": time.perf_counter() - t_start,
        # task seconds computed in this invocation, summed where they ran (the cost)
        "task_s": _task_seconds(report.task_seconds),
    }
    _write_outputs(output, campaign)
    for scan_key in scans.values():  # like those runs, a scan that lacked an amount is redone
        if store.has(scan_key) and store.load(scan_key)["levels"] != spec["levels"]:
            store.discard(scan_key)
    return campaign


def _check_pool(points: list[Point], data: Sample, pool_path: Path) -> None:
    """Every amount must fit in the signal pool (checked before any task starts)."""
    pool: Sample = _load(str(pool_path))
    for point in points:
        ((kind, need),) = _n_events_to_inject(point, data).items()
        m = np.asarray(pool.events[point.feature])
        have = pool.n_events if kind == "n_events" else int(point.region.in_signal_region(m).sum())
        if need > have:
            raise CampaignError(
                f"campaign.{point.unit}: the amount {point.level:g} needs {need} signal events"
                f"{'' if kind == 'n_events' else ' in ' + point.region.name} but the preselected "
                f"signal pool has {have}; use a larger pool or smaller amounts"
            )


def _task_seconds(seconds: dict[str, float]) -> dict[str, Any]:
    """Worker seconds by kind of task, folds by method: what a bigger campaign will cost."""
    out: dict[str, Any] = {"folds": {}, "runs": 0.0, "scans": 0.0}
    counts: dict[str, int] = {}
    for key, s in seconds.items():
        kind = key.split("/")[0]
        if kind == "folds":
            method = key.split("/")[2]
            out["folds"][method] = out["folds"].get(method, 0.0) + s
            counts[method] = counts.get(method, 0) + 1
        else:
            out[kind] = out.get(kind, 0.0) + s
    out["mean_fold_s"] = {m: out["folds"][m] / counts[m] for m in counts}
    return out


def _stage(
    engine: Engine, tasks: list[Task], store: TaskStore, desc: str, progress: bool
) -> EngineReport:
    from tqdm.auto import tqdm

    with tqdm(total=len(tasks), disable=not progress, desc=desc, unit="task") as bar:
        return engine.run(tasks, store, on_done=lambda _key: bar.update())


def _campaign_summary(
    config: Config,
    spec: dict[str, Any],
    mass: float,
    region: SignalRegion,
    methods: dict[str, Any],
    store: TaskStore,
    scans: dict[tuple[str, int], str],
    runs: dict[tuple[float, int], dict[str, Any]],
    report: EngineReport,
    meta: dict[str, Any],
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in [INCLUSIVE, *methods]:
        points: list[dict[str, Any]] = []
        per_seed: dict[str, list[float | None]] = {
            "xsec_3sigma": [],
            "xsec_5sigma": [],
            "calibrated_limit": [],
        }
        for seed in spec["seeds"]:
            key = scans[name, seed]
            scan = store.load(key) if store.has(key) else None
            for p in (scan or {}).get("points", []):
                points.append({"level": p["injected_xsec"], "seed": seed, **p})
            per_seed["xsec_3sigma"].append(scan and scan["xsec_3sigma"])
            per_seed["xsec_5sigma"].append(scan and scan["xsec_5sigma"])
            per_seed["calibrated_limit"].append(scan and scan["calibrated_limit_xsec"])
        results[name] = {"points": points, **{k: _summarise(v) for k, v in per_seed.items()}}
    inclusive = results[INCLUSIVE]
    for res in results.values():
        for level in ("3sigma", "5sigma"):
            mine, ref = res[f"xsec_{level}"]["median"], inclusive[f"xsec_{level}"]["median"]
            ratio = mine / ref if mine is not None and ref else None
            res[f"ratio_{level}_to_inclusive"] = ratio
            res[f"improvement_{level}"] = 1.0 / ratio if ratio else None
    unit = {"s_over_sqrt_b": "S/sqrt(B)", "n_events": "events", "cross_section": "fb"}
    return {
        "format_version": FORMAT_VERSION,
        "name": config["run"]["name"],
        "signal_mass": mass,
        "region": region.to_dict(),
        "unit": unit[spec["unit"]],
        "amount": spec["unit"],
        "luminosity_fb": spec["luminosity"],
        "methods": list(methods),
        "levels": spec["levels"],
        "seeds": spec["seeds"],
        "results": results,
        "tasks": report.to_dict(),
        "runs": {f"{lv:g}_seed{s}": r["run"] for (lv, s), r in sorted(runs.items())},
        "manifest": build_manifest(
            config.to_dict(),
            {"campaign": spec["seeds"]},
            meta["inputs"],
            events_after_preselection=meta["n_events"],
            signal_pool=meta["pool_size"],
        ),
    }


def _write_outputs(output: Path, campaign: dict[str, Any]) -> None:
    from casehunt.report_html import write_campaign_report

    write_json(output / "campaign.json", campaign)
    write_campaign_report(output)  # draws plots/ from campaign.json and embeds them
