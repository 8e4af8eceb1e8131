"""The VRNN tagger's targets of issue 7: background jet-mass sculpting and max SIC.

    python plugins/vrnn/scripts/measure.py --seeds 0,1,2 --out results/vrnn_measure

Samples (``make samples``, constituents stored): background generated/qcd_const.h5,
signals generated/signal_wp3500_x500_y100_const.h5 (2-prong X -> qq) and
generated/signal_wp3500_x500_y100_3prong.h5 (3-prong), all with the CASE preselection.
The background is split in half at random per seed: the "data" half (plus injected
signal) trains the tagger, the other half is the test background; the signal events not
injected are the test signal.

For each alignment (``full``, ``centred``), signal and seed, the tagger is trained on the
data half with that signal injected at S/sqrt(B) (default 2) in the signal region
3.3-3.7 TeV, then measured:

- sculpting: on the test background's jets (all mjj), the cut on the jet score that
  keeps 10% of them; the Jensen-Shannon divergence between the jet-mass distribution of
  the kept jets and of all jets (0: no sculpting; bins of 20 GeV up to 600 GeV), the
  ratio of their mean masses, and the Pearson correlation of score and mass;
- max SIC (BENCHMARK.md: thresholds passed by at least 25 test background events) and
  AUC of the event score (the larger of the two jets') in the signal region, and the jet
  AUC of signal jets against background jets (all mjj).

Prints a table and writes results.json and jet_mass.png to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import protocol as P  # the benchmark protocol: max SIC, AUC, the signal region

from casehunt.derived import derive_columns
from casehunt.events import EventTable
from casehunt.methods import TrainingData
from casehunt.preselection import Preselection, builtin_cuts, resolve_config
from casehunt.readers import open_events
from casehunt_vrnn import VRNNTagger

REPO = Path(__file__).resolve().parents[3]
GENERATED = REPO / "generated"
BACKGROUND = "qcd_const.h5"
SIGNALS = {
    "2prong": "signal_wp3500_x500_y100_const.h5",
    "3prong": "signal_wp3500_x500_y100_3prong.h5",
}
MASS_BINS = np.arange(0.0, 620.0, 20.0)
KEEP = 0.10


def load(path: Path) -> EventTable:
    events = open_events(path).read((*P.RAW_COLUMNS, "jet_const"))
    events = events.with_columns(**derive_columns(events))
    return events.take(Preselection(builtin_cuts(resolve_config({}))).apply(events))


def jsd(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two histograms."""
    p = p_counts / p_counts.sum()
    q = q_counts / q_counts.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        ok = a > 0
        return float(np.sum(a[ok] * np.log2(a[ok] / m[ok])))

    return 0.5 * kl(p) + 0.5 * kl(q)


def sculpting(jet_scores: np.ndarray, jet_mass: np.ndarray) -> dict:
    s, m = jet_scores.ravel(), jet_mass.ravel()
    cut = np.quantile(s, 1 - KEEP)
    kept = s > cut
    all_h = np.histogram(m, MASS_BINS)[0].astype(float)
    kept_h = np.histogram(m[kept], MASS_BINS)[0].astype(float)
    return {
        "kept_fraction": float(kept.mean()),
        "jsd": jsd(kept_h, all_h),
        "mean_mass_ratio": float(m[kept].mean() / m.mean()),
        "pearson_score_mass": float(np.corrcoef(s, m)[0, 1]),
        "hist_all": all_h.tolist(),
        "hist_kept": kept_h.tolist(),
    }


def run_one(
    alignment: str,
    signal_name: str,
    seed: int,
    background: EventTable,
    signal: EventTable,
    point: float,
    options: dict,
) -> dict:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    half = rng.permutation(background.n_events) < background.n_events // 2
    data_bkg, test_bkg = background.take(half), background.take(~half)
    n_sig = P.n_signal_for(point, int(P.in_sr(data_bkg).sum()))
    order = rng.permutation(signal.n_events)
    pool, test_sig = (
        signal.take(np.sort(order[: signal.n_events // 2])),
        signal.take(np.sort(order[signal.n_events // 2 :])),
    )
    events, _, n_drawn = P.inject(data_bkg, pool, n_sig, rng)

    method = VRNNTagger({"alignment": alignment, "progress": False, **options}, seed=seed)
    t0 = time.perf_counter()
    method.fit(TrainingData.for_region(events, None))
    t_fit = time.perf_counter() - t0
    jb = method.jet_scores(test_bkg)
    js = method.jet_scores(test_sig)
    mass = np.asarray(test_bkg["jet_m"])
    sr_b, sr_s = P.in_sr(test_bkg), P.in_sr(test_sig)
    eb, es = jb.max(axis=1)[sr_b], js.max(axis=1)[sr_s]
    return {
        "alignment": alignment,
        "signal": signal_name,
        "seed": seed,
        "s_over_sqrt_b": point,
        "signal_in_sr": n_sig,
        "signal_injected": n_drawn,
        "training_events": events.n_events,
        "test_background_sr": int(sr_b.sum()),
        "test_signal_sr": int(sr_s.sum()),
        "fit_s": t_fit,
        "best_epoch": method.vrnn_.best_epoch_,
        "max_sic": P.max_sic(eb, es),
        "auc": P.auc(eb, es),
        "jet_auc": P.auc(jb.ravel(), js.ravel()),
        "sculpting": sculpting(jb, mass),
        "sculpting_msd": sculpting(jb, np.asarray(test_bkg["jet_msd"])),
    }


def plot(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    centres = 0.5 * (MASS_BINS[1:] + MASS_BINS[:-1])
    first = results[0]["sculpting"]["hist_all"]
    ax.step(centres, np.asarray(first) / np.sum(first), where="mid", color="k", label="all jets")
    for alignment, colour in (("full", "tab:blue"), ("centred", "tab:red")):
        rows = [r for r in results if r["alignment"] == alignment and r["signal"] == "2prong"]
        if not rows:
            continue
        h = np.sum([r["sculpting"]["hist_kept"] for r in rows], axis=0)
        j = np.median([r["sculpting"]["jsd"] for r in rows])
        ax.step(
            centres,
            h / h.sum(),
            where="mid",
            color=colour,
            label=f"10% most anomalous, {alignment} (JSD {j:.3f})",
        )
    ax.set_xlabel("background jet mass [GeV]")
    ax.set_ylabel("fraction of jets")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "jet_mass.png", dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--s-over-sqrt-b", type=float, default=2.0)
    ap.add_argument("--alignments", default="full,centred")
    ap.add_argument("--signals", default="2prong,3prong")
    ap.add_argument("--options", default="{}", help="JSON options of the tagger")
    ap.add_argument("--out", default=str(REPO / "results" / "vrnn_measure"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    background = load(GENERATED / BACKGROUND)
    signals = {name: load(GENERATED / SIGNALS[name]) for name in args.signals.split(",")}
    results = []
    for name, signal in signals.items():
        for alignment in args.alignments.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                r = run_one(
                    alignment,
                    name,
                    seed,
                    background,
                    signal,
                    args.s_over_sqrt_b,
                    json.loads(args.options),
                )
                results.append(r)
                print(
                    f"{name} {alignment:8s} seed {seed}: max SIC {r['max_sic']:.2f} "
                    f"AUC {r['auc']:.3f} jet AUC {r['jet_auc']:.3f} | 10% cut: JSD "
                    f"{r['sculpting']['jsd']:.4f} (msd {r['sculpting_msd']['jsd']:.4f}) "
                    f"<m> ratio {r['sculpting']['mean_mass_ratio']:.2f} "
                    f"corr {r['sculpting']['pearson_score_mass']:.2f} | fit {r['fit_s']:.0f} s",
                    flush=True,
                )
                (out / "results.json").write_text(json.dumps(results, indent=1))
    summary = {}
    for name in signals:
        for alignment in args.alignments.split(","):
            rows = [r for r in results if r["signal"] == name and r["alignment"] == alignment]
            summary[f"{name}/{alignment}"] = {
                k: P.summary([r[k] for r in rows]) for k in ("max_sic", "auc", "jet_auc", "fit_s")
            } | {
                "jsd": P.summary([r["sculpting"]["jsd"] for r in rows]),
                "jsd_msd": P.summary([r["sculpting_msd"]["jsd"] for r in rows]),
            }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print("\n| signal / alignment | max SIC | AUC | jet AUC | JSD (jet m, 10% cut) | JSD (msd) |")
    print("|---|---|---|---|---|---|")
    for key, s in summary.items():
        print(
            f"| {key} | {P.fmt(s['max_sic'])} | {P.fmt(s['auc'], 3)} | {P.fmt(s['jet_auc'], 3)} "
            f"| {P.fmt(s['jsd'], 4)} | {P.fmt(s['jsd_msd'], 4)} |"
        )
    plot(results, out)


if __name__ == "__main__":
    main()
