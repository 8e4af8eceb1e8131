"""CATHODE as a casehunt selection method (Hallin et al., arXiv:2109.00546)."""

from casehunt_cathode.method import CATHODE

__all__ = ["CATHODE"]
