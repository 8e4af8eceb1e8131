"""BumpHunter against the profile-likelihood scan on injected toys (a measurement, not a test).

Run: ``.venv/bin/python statistics/scripts/bumphunter_vs_likelihood.py [--toys N]``.
Each toy: 30 000 events from a 3-parameter dijet function (1.5-6 TeV) plus a
Gaussian signal at 3.5 TeV (5% width) with a yield of a few expected sigma;
background fitted with the package's F-test fit; the likelihood scan (Minuit,
shape nuisances profiled) every 100 GeV; BumpHunter on the CMS dijet bins.
Printed: a markdown table per toy (likelihood max-Z mass and local Z, BumpHunter
window, both global p-values with their toy errors), the fraction of toys where
the BumpHunter window contains the likelihood max-Z mass, the median |window
centre - max-Z mass|, how often and how the global p-values differ (toy by toy, their
16-84% over the toys, and a paired Wilcoxon test), each search's trials factor (the
global p a largest excess of local Z 2 and 3 would have, over the local p), the median
local-Z difference, and the run time. ``--exclusion-p 0.01`` refits BumpHunter's
background without its most significant window (the ATLAS dijet procedure).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

from casehunt_stats import SignalModel, SignalShape, expected_significance, fit_with_ftest
from casehunt_stats.bumphunter import bumphunter_cross_check
from casehunt_stats.significance import significance_scan
from casehunt_stats.toys import sample_dijet

TRUTH = (1.0, 10.0, 5.0)
RANGE = (1500.0, 6000.0)
MASS = 3500.0
N_BKG = 30000


def signal_yield(target_z: float, rng: np.random.Generator) -> float:
    """Signal events with a median expected local Z of ``target_z`` (Asimov, profiled)."""
    mjj = sample_dijet(TRUTH, N_BKG, RANGE, rng)
    fit = fit_with_ftest(mjj, fit_range=RANGE)[0].chosen
    shape = SignalShape.gaussian(MASS)
    z1 = expected_significance(fit, shape, 100.0)
    return 100.0 * target_z / z1  # Z is linear in s for s << b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toys", type=int, default=30, help="injected toys")
    ap.add_argument("--bh-toys", type=int, default=1000, help="BumpHunter pseudo-experiments")
    ap.add_argument("--lh-toys", type=int, default=1000, help="likelihood global-p toys")
    ap.add_argument("--z", type=float, default=3.0, help="expected local Z of the signal")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--widths",
        default=None,
        help="BumpHunter window widths in bins, 'MIN,MAX' (default: 1 to half the bins)",
    )
    ap.add_argument(
        "--same-range",
        action="store_true",
        help="BumpHunter windows centred within the likelihood scan's masses only",
    )
    ap.add_argument(
        "--exclusion-p",
        type=float,
        default=None,
        help="refit BumpHunter's background without its most significant window when that "
        "window's local p is below this (ATLAS: 0.01), in data and toys",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    widths = None if args.widths is None else [int(w) for w in args.widths.split(",")]
    rng = np.random.default_rng(args.seed)
    n_sig = signal_yield(args.z, rng)
    masses = np.arange(1800.0, 5001.0, 100.0)
    signal = SignalModel(resolution=0.05)
    shapes = [signal.at(m) for m in masses]
    print(f"signal: {n_sig:.0f} events at {MASS:.0f} GeV (expected local Z {args.z}), "
          f"{N_BKG} background events, {args.toys} toys, BumpHunter toys {args.bh_toys}, "
          f"likelihood toys {args.lh_toys}\n")  # fmt: skip
    print("| toy | max-Z mass | local Z | BH window [GeV] | in window | BH local Z "
          "| BH global p | LH global p | |Δp|/σ |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    inside, dist, pulls, p_bh, p_lh, dz = [], [], [], [], [], []
    trials: dict[str, list[tuple[float, float]]] = {}  # local Z -> (BH, LH) global p
    dz_fast: list[float] = []
    for i in range(args.toys):
        # each toy's data and its pseudo-experiments have their own streams, so that the
        # datasets do not depend on the BumpHunter options (paired comparisons)
        data_rng = np.random.default_rng([args.seed, i])
        toy_rng = np.random.default_rng([args.seed, i, 1])
        n = data_rng.poisson(n_sig)
        mjj = np.concatenate(
            [sample_dijet(TRUTH, N_BKG, RANGE, data_rng), data_rng.normal(MASS, 0.05 * MASS, n)]
        )
        fit = fit_with_ftest(mjj, fit_range=RANGE, signal_mass=MASS)[0].chosen
        scan = significance_scan(fit, signal, masses)
        res = bumphunter_cross_check(fit, scan, shapes, n_toys=args.bh_toys, widths=widths,
                                     global_toys=args.lh_toys, seed=toy_rng,
                                     same_range=args.same_range,
                                     exclusion_p=args.exclusion_p)  # fmt: skip
        lik = res["likelihood"]
        win = res["window"]
        inside.append(res["max_z_mass_in_window"])
        if win is not None:
            dist.append(abs(0.5 * (win[0] + win[1]) - lik["max_z_mass"]))
        err_bh, err_lh = res["global_p_err"], lik["global_p_err"]
        sig = math.hypot(err_bh, err_lh)
        dp = abs(res["global_p"] - lik["global_p"])
        pull = dp / sig  # toy_p_error is never 0
        pulls.append(pull)
        dz.append((res["local_z"] or 0.0) - lik["max_z"])
        dz_fast.append((res["local_z"] or 0.0) - lik["global_max_z"])
        p_bh.append(res["global_p"])
        p_lh.append(lik["global_p"])
        for z, g in res["global_p_at_local_z"].items():
            trials.setdefault(z, []).append((g, lik["global_p_at_local_z"][z]))
        win_txt = f"[{win[0]:.0f}, {win[1]:.0f})" if win else "–"
        print(
            f"| {i} | {lik['max_z_mass']:.0f} | {lik['max_z']:.2f} | {win_txt} "
            f"| {'yes' if res['max_z_mass_in_window'] else 'no'} | {res['local_z'] or 0.0:.2f} "
            f"| {res['global_p']:.3f} ± {err_bh:.3f} "
            f"| {lik['global_p']:.3f} ± {err_lh:.3f} | {pull:.1f} |"
        )
    pulls_a = np.array(pulls)
    print()
    print(f"window contains the likelihood max-Z mass: {np.mean(inside):.2f} "
          f"({sum(inside)}/{len(inside)})")  # fmt: skip
    print(f"median |window centre - max-Z mass|: {np.median(dist):.0f} GeV")
    print(f"global p-values within 2 sigma of each other (toy errors, flat-prior binomial): "
          f"{np.mean(pulls_a <= 2):.2f}; both 0 (no toy above): "
          f"{np.mean(pulls_a == 0):.2f}")  # fmt: skip
    bh_a, lh_a = np.array(p_bh, dtype=float), np.array(p_lh, dtype=float)
    print(f"global p, median: BumpHunter {np.median(bh_a):.3f}, likelihood {np.median(lh_a):.3f}; "
          f"BumpHunter larger in {int((bh_a > lh_a).sum())}, smaller in "
          f"{int((bh_a < lh_a).sum())} of {len(bh_a)}; rank correlation "
          f"{_rank_correlation(bh_a, lh_a):.2f}")  # fmt: skip
    lo_bh, hi_bh = np.quantile(bh_a, [0.16, 0.84])
    lo_lh, hi_lh = np.quantile(lh_a, [0.16, 0.84])
    print(f"global p over the toys, 16-84%: BumpHunter [{lo_bh:.3f}, {hi_bh:.3f}], "
          f"likelihood [{lo_lh:.3f}, {hi_lh:.3f}]; paired Wilcoxon test of equal global p: "
          f"p = {_paired_test(bh_a, lh_a):.3g}")  # fmt: skip
    for z, pairs in trials.items():
        # the look-elsewhere effect of each search on its own pseudo-experiments, at
        # the same local significance: global p / local p is its trials factor
        g_bh, g_lh = np.median(np.array(pairs), axis=0)
        p_loc = stats.norm.sf(float(z))
        print(f"global p of a largest excess of local Z {float(z):g} (median over the toys): "
              f"BumpHunter {g_bh:.3f}, likelihood {g_lh:.3f}; trials factors "
              f"{g_bh / p_loc:.1f} and {g_lh / p_loc:.1f}")  # fmt: skip
    dz_a = np.array(dz)
    print(f"local Z, BumpHunter - likelihood: median {np.median(dz_a):+.2f}, "
          f"median |difference| {np.median(np.abs(dz_a)):.2f}; against the largest Z of the "
          f"toys' fast fit (no shape nuisances), which the likelihood's global p compares: "
          f"median {np.median(dz_fast):+.2f}")  # fmt: skip
    print(f"run time: {time.perf_counter() - t0:.1f} s")


def _paired_test(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the per-toy differences (ties dropped)."""
    from scipy.stats import wilcoxon

    d = a - b
    return float(wilcoxon(d[d != 0]).pvalue) if np.count_nonzero(d) else 1.0


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


if __name__ == "__main__":
    main()
