"""SALAD as a casehunt selection method (Andreassen, Nachman, Shih, arXiv:2001.05001)."""

from casehunt_salad.method import SALAD

__all__ = ["SALAD"]
