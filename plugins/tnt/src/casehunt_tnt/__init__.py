"""Tag N' Train as a casehunt selection method (arXiv:2002.12376, arXiv:2412.03747)."""

from casehunt_tnt.method import TagNTrain

__all__ = ["TagNTrain"]
