"""Readers of the formats physicists have, registered as the built-in plugin ``builtin-formats``.

=================  =============================================  ================  ======
format             files                                          module            labels
=================  =============================================  ================  ======
``lhco-features``  LHC Olympics 2020 R&D high-level features      :mod:`.lhco`      yes
``lhco-particles`` LHC Olympics 2020 R&D particles (FastJet R=1)  :mod:`.lhco`      yes
``case-h5``        CMS CASE H5 maker output (CASEUtils)           :mod:`.case`      yes
``nanoaod``        NanoAOD-like ROOT, FatJet (+ PFNano) branches  :mod:`.nanoaod`   no
=================  =============================================  ================  ======

Each reader gives the canonical casehunt columns the format determines (``mjj`` and
per-jet (N, 2) ``jet_*`` columns of the two leading jets by pT, see
:mod:`casehunt.derived`), reads in chunks, and keeps one row per event. The module
docstrings list what maps to what and what a format lacks. Only ``.root`` is chosen by
suffix: the HDF5 formats share ``.h5`` with the casehunt layout, so set ``format:``.
The optional dependencies (uproot, fastjet: ``casehunt[formats]``) are imported only
when a reader that needs them is opened.
"""

from __future__ import annotations

from casehunt.formats.case import CASEReader
from casehunt.formats.lhco import LHCOFeaturesReader, LHCOParticlesReader
from casehunt.formats.nanoaod import NanoAODReader
from casehunt.hookspecs import hookimpl
from casehunt.readers import EventReader

__all__ = ["CASEReader", "LHCOFeaturesReader", "LHCOParticlesReader", "NanoAODReader"]


@hookimpl
def casehunt_register_readers() -> list[type[EventReader]]:
    return [LHCOFeaturesReader, LHCOParticlesReader, CASEReader, NanoAODReader]
