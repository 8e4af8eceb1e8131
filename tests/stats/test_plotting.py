import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from casehunt_stats.plotting import plot_pvalue_scan, plot_region


def _scan():
    z = [-3.8, 16.3, 16.6, 16.5]
    lp = [-1e-5, -59.4, -61.7, -60.4]
    pts = [{"mass": m, "z": zi, "p_value": 10.0**li, "log10_p_value": li}
           for m, zi, li in zip((3300.0, 3400.0, 3500.0, 3600.0), z, lp, strict=True)]  # fmt: skip
    return {"points": pts, "max_z": 16.6, "max_z_mass": 3500.0}


def test_pvalue_scan_keeps_sigma_lines_readable_and_marks_tiny_p():
    """p-values of 1e-60 were clamped to a flat 1e-12 line; now they are marked on a
    readable axis floor with their local Z, and the 1-5 sigma lines are labelled."""
    fig, ax = plt.subplots()
    plot_pvalue_scan(_scan(), ax)
    lo, hi = ax.get_ylim()
    assert 1e-17 < lo < 1e-7 and hi > 1
    texts = [t.get_text() for t in ax.texts]
    assert sum("sigma" in t for t in texts) >= 5 + 3  # 5 lines + 3 marked points
    assert any("16.6" in t for t in texts)
    plt.close(fig)


def test_plot_region_survives_a_global_style(tmp_path):
    import mplhep

    edges = np.linspace(2700.0, 6000.0, 12)
    exp = 200.0 * np.exp(-np.arange(11) / 2.0)
    spectrum = {"edges": edges.tolist(), "observed": np.round(exp).tolist(),
                "expected": exp.tolist(), "expected_unc": (0.05 * exp).tolist(),
                "pulls": ((np.round(exp) - exp) / np.sqrt(exp)).tolist()}  # fmt: skip
    lim = [{"mass": m, "observed_yield": 20.0, "expected_yield": [10.0, 14.0, 20.0, 30.0, 45.0]}
           for m in (3300.0, 3400.0)]  # fmt: skip
    region = {"fit": {"n_params": 3, "chi2": 5.0, "ndof": 8}, "spectrum": spectrum,
              "scan": _scan(), "limits": lim, "sr_low": 3300.0, "sr_high": 3700.0}  # fmt: skip
    with plt.style.context(mplhep.style.CMS):
        path = plot_region(region, tmp_path / "r.png", title="toy sr")
    assert path.stat().st_size > 10_000
