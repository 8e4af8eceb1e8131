"""QUAK as a casehunt selection method (Park et al., arXiv:2011.03550; CMS CASE)."""

from casehunt_quak.method import QUAK

__all__ = ["QUAK"]
