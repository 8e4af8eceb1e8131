"""casehunt-stats: the shared statistics backend of casehunt.

Background fits (the CMS dijet function, or an exponential polynomial for any
resonant feature) with an F-test, signal shapes, local/expected/global
significance, pyhf CLs limits, injection-calibrated limits, the discovery
cross section and the bias test, as in the CMS CASE search (arXiv:2412.03747).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("casehunt-stats")
except PackageNotFoundError:
    __version__ = "0+unknown"

from .bias import BiasResult, bias_test
from .bumphunter import BumpHunterResult, bumphunter_on_fit, bumphunter_scan
from .config import StatsConfig
from .dijet import (
    DIJET_BIN_EDGES,
    BackgroundFit,
    bin_events,
    dijet_function,
    exppoly_function,
    fit_background,
    fit_binned,
    integrate_dijet,
)
from .errors import FitError, StatsError
from .ftest import FTestResult, fit_with_ftest, ftest_select
from .injection import (
    InjectionPoint,
    InjectionScan,
    calibrated_limit,
    discovery_cross_section,
    injection_calibrated_limit,
    injection_scan,
)
from .limits import LimitResult, cls_upper_limit, mass_limit
from .signal_shape import SignalModel, SignalShape
from .significance import (
    GlobalSignificance,
    ScanResult,
    SignificanceResult,
    counting_significance,
    expected_significance,
    fixed_background_significance,
    global_significance,
    local_significance,
    significance_scan,
    toy_p_error,
)

__all__ = [
    "DIJET_BIN_EDGES",
    "BackgroundFit",
    "BiasResult",
    "BumpHunterResult",
    "FTestResult",
    "FitError",
    "GlobalSignificance",
    "InjectionPoint",
    "InjectionScan",
    "LimitResult",
    "ScanResult",
    "SignalModel",
    "SignalShape",
    "SignificanceResult",
    "StatsConfig",
    "StatsError",
    "__version__",
    "bias_test",
    "bin_events",
    "bumphunter_on_fit",
    "bumphunter_scan",
    "calibrated_limit",
    "cls_upper_limit",
    "counting_significance",
    "dijet_function",
    "discovery_cross_section",
    "expected_significance",
    "exppoly_function",
    "fit_background",
    "fit_binned",
    "fit_with_ftest",
    "fixed_background_significance",
    "ftest_select",
    "global_significance",
    "injection_calibrated_limit",
    "injection_scan",
    "integrate_dijet",
    "local_significance",
    "mass_limit",
    "significance_scan",
    "toy_p_error",
]
