"""CWoLa hunting as a casehunt selection method (arXiv:1805.02664, arXiv:1902.02634)."""

from casehunt_cwola.method import CWoLaHunting

__all__ = ["CWoLaHunting"]
