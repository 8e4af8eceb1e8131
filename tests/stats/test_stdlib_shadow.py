"""The ``statistics/`` folder must never shadow Python's standard-library module."""

import statistics
import sysconfig
from pathlib import Path


def test_statistics_is_the_standard_library_module():
    assert hasattr(statistics, "median")
    assert statistics.median([1, 3, 2]) == 2
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(statistics.__file__).resolve().parent == stdlib


def test_no_package_init_in_statistics_folder():
    root = Path(__file__).resolve().parents[2]
    assert not (root / "statistics" / "__init__.py").exists()
    assert not (root / "tests" / "statistics").exists()
