"""casehunt: model-agnostic dijet resonance searches with anomaly detection."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("casehunt")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"
