"""VAE-QR (CMS CASE, arXiv:2412.03747) as a casehunt selection method."""

from casehunt_vae.method import VAEQR

__all__ = ["VAEQR"]
