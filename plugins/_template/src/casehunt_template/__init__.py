"""A minimal casehunt selection method to copy when starting a new plugin."""

from casehunt_template.method import SidebandGaussian

__all__ = ["SidebandGaussian"]
