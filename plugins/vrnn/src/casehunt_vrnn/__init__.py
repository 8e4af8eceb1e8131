"""The VRNN jet tagger with jet alignment (arXiv:2105.09274) as a casehunt selection method."""

from casehunt_vrnn.method import VRNNTagger

__all__ = ["VRNNTagger"]
