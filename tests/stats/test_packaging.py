import subprocess
import sys

import casehunt_stats
from casehunt_stats.plotting import plot_discovery_comparison


def test_no_framework_or_ml_imports():
    code = (
        "import sys, casehunt_stats, casehunt_stats.rerun, casehunt_stats.cli, casehunt_stats.plotting\n"
        "bad = [m for m in ('casehunt', 'pluggy', 'torch', 'tensorflow', 'sklearn') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_exported():
    for name in casehunt_stats.__all__:
        assert hasattr(casehunt_stats, name), name
    assert casehunt_stats.__version__


def test_discovery_comparison_plot(tmp_path):
    results = {
        "inclusive": [{"mass": 3000.0, "xsec_3sigma": 10.0, "xsec_5sigma": 20.0}],
        "cwola": [{"mass": 3000.0, "xsec_3sigma": 3.0, "xsec_5sigma": None}],
    }
    path = plot_discovery_comparison(results, tmp_path / "disc.png", level="3")
    assert path.stat().st_size > 0
