"""Jets and jet substructure from Pythia events, vectorised over a batch with FastJet.

For a batch of events (an awkward array of visible final-state particles) this module

1. clusters anti-kt R = 1.0 jets (E-scheme) of all visible particles, keeps jets above
   ``jet_min_pt`` (20 GeV) and orders them by pT;
2. keeps events whose leading jet has pT > ``min_leading_pt`` (1.2 TeV);
3. for the two leading jets of kept events computes pT, eta, phi, mass, the soft-drop
   mass and N-subjettiness tau_1..tau_4, the number of constituents, and mjj;
4. optionally returns the ``n_constituents`` hardest constituents of each jet.

Soft drop (Larkoski, Marzani, Soyez, Thaler, arXiv:1402.2657) with beta = 0,
z_cut = 0.1 (the modified mass-drop tagger limit): the jet is reclustered with
Cambridge/Aachen and declustered, dropping the softer branch while
min(pT1, pT2) / (pT1 + pT2) < z_cut. Here the constituents of each jet are
reclustered with C/A (radius far above the jet size, so all constituents form one jet)
and FastJet-contrib's SoftDrop grooms that jet; this is the same C/A history that
SoftDrop builds when it reclusters an anti-kt jet itself.

N-subjettiness (Thaler, Van Tilburg, arXiv:1011.2268; measure of arXiv:1108.2701):
tau_N = sum_k pT_k min_j dR_jk^beta / (sum_k pT_k R0^beta) with beta = 1, R0 = 1.0
("normalised measure"), axes from exclusive kT clustering refined by one pass of
minimisation ("one-pass kT axes"), computed by FastJet-contrib's Njettiness on the
jet constituents. tau_N = 0 when the jet has N or fewer constituents.

All C++ work is done per batch through the awkward interface of the ``fastjet``
package (FastJet: Cacciari, Salam, Soyez, EPJC 72 (2012) 1896, arXiv:1111.6097; anti-kT:
JHEP 04 (2008) 063, arXiv:0802.1189); Python only handles whole arrays. FastJet's
start-up banner is silenced because it would be printed by every worker process into
the progress bar; the citation is given here instead.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np

from casehunt.formats.common import JET_FLOATS

# One shared libfastjet: silencing the banner through the SWIG bindings covers the
# awkward API too (other fastjet builds without this hook just show the banner).
with contextlib.suppress(AttributeError):
    fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)

#: |PDG id| of particles removed before clustering (invisible at particle level).
INVISIBLE_IDS = (12, 14, 16, 18)

#: C/A radius for reclustering one jet's constituents: large enough that they always
#: end up in a single jet (constituents of an R = 1 jet lie within dR < 2 of each other).
_RECLUSTER_R = 10.0

#: Names of the per-jet float columns, in the order they are filled.
JET_FLOAT_COLUMNS = JET_FLOATS


@dataclass(frozen=True)
class JetConfig:
    """Jet definition, event selection and substructure parameters."""

    radius: float = 1.0
    jet_min_pt: float = 20.0
    min_leading_pt: float = 1200.0
    sd_beta: float = 0.0
    sd_zcut: float = 0.1
    sd_r0: float = 1.0
    nsub_beta: float = 1.0
    nsub_r0: float = 1.0
    n_constituents: int = 0

    def describe(self) -> dict[str, str | float]:
        """File attributes that document the definitions (same wording as the reference)."""
        return {
            "jet_definition": (
                f"anti-kt R={self.radius}, all final-state particles except neutrinos"
            ),
            "jet_min_pt": float(self.jet_min_pt),
            "min_lead_pt": float(self.min_leading_pt),
            "jet_msd": (
                f"soft-drop mass, beta={self.sd_beta:g}, zcut={self.sd_zcut:g}, "
                f"R0={self.sd_r0} (C/A reclustering)"
            ),
            "nsubjettiness": (
                "fastjet-contrib Njettiness on jet constituents: "
                f"NormalizedMeasure(beta={self.nsub_beta:g}, R0={self.nsub_r0}), "
                "OnePass_KT_Axes"
            ),
            "jet_axis_order": ("axis 1: jets ordered by pT (leading, subleading); NaN if < 2 jets"),
            "constituents_layout": (
                f"jet_const (N, 2, {self.n_constituents}, 3): pt, eta, phi of the "
                f"{self.n_constituents} hardest constituents, pT-ordered, zero-padded"
                if self.n_constituents
                else ""
            ),
        }


def visible_particles(prt: ak.Array) -> ak.Array:
    """Final-state visible particles (px, py, pz, E) from a ``Pythia.nextBatch`` record."""
    final = prt.status > 0
    aid = np.abs(prt.id)
    keep = final
    for pid in INVISIBLE_IDS:
        keep = keep & (aid != pid)
    p = prt.p[keep]
    return ak.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.e}, with_name="Momentum4D")


def _pad2(x: ak.Array, fill: float = np.nan) -> np.ndarray:
    """(events, var) -> (events, 2) float64 array, padding missing jets with ``fill``."""
    return ak.to_numpy(ak.fill_none(ak.pad_none(x, 2, axis=1, clip=True), fill)).astype(np.float64)


def _signed_mass(e: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """Invariant mass with FastJet's sign convention (negative when m^2 < 0 by rounding)."""
    m2 = e * e - px * px - py * py - pz * pz
    return np.sign(m2) * np.sqrt(np.abs(m2))


def _eta(pt: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """Pseudorapidity; +-inf only for pT = 0, which jets and hadrons in jets never have."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.arcsinh(pz / pt)


def _substructure(
    constituents: ak.Array, cfg: JetConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft-drop mass, tau_1..4 (shape (n, 4)) and multiplicity of each jet (one per row)."""
    n = len(constituents)
    if n == 0:
        return np.zeros(0), np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    ca = fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_R)
    cs = fastjet.ClusterSequence(constituents, ca)
    sd = cs.exclusive_jets_softdrop_grooming(
        njets=1,
        beta=cfg.sd_beta,
        symmetry_cut=cfg.sd_zcut,
        R0=cfg.sd_r0,
    )
    msd = ak.to_numpy(ak.flatten(sd.msoftdrop, axis=None)).astype(np.float64)
    tau = cs.njettiness(
        measure_definition="NormalizedMeasure",
        axes_definition="OnePass_KT_Axes",
        njets=[1, 2, 3, 4],
        beta=cfg.nsub_beta,
        R0=cfg.nsub_r0,
    )
    tau = ak.to_numpy(tau).astype(np.float64).reshape(n, 4)
    nconst = ak.to_numpy(ak.num(constituents, axis=1))
    if len(msd) != n:  # guard against a silent change of the fastjet interface
        raise RuntimeError(f"soft drop returned {len(msd)} masses for {n} jets")
    return msd, tau, nconst


def _constituent_array(constituents: ak.Array, n_max: int) -> np.ndarray:
    """(jets, var) particles -> (jets, n_max, 3) float32 (pt, eta, phi), pT-ordered, 0-padded."""
    pt = np.hypot(constituents.px, constituents.py)
    order = ak.argsort(pt, axis=1, ascending=False, stable=True)
    c = constituents[order][:, :n_max]
    pt = np.hypot(c.px, c.py)
    eta = np.arcsinh(c.pz / pt)
    phi = np.arctan2(c.py, c.px)
    out = np.zeros((len(c), n_max, 3), dtype=np.float32)
    for k, col in enumerate((pt, eta, phi)):
        out[:, :, k] = ak.to_numpy(ak.fill_none(ak.pad_none(col, n_max, axis=1, clip=True), 0.0))
    return out


def analyse_batch(particles: ak.Array, cfg: JetConfig) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Cluster a batch of events and compute the per-event columns of accepted events.

    Returns the boolean acceptance mask over the batch and a dict of columns for the
    accepted events only: ``mjj`` (n,), per-jet columns (n, 2) in float64 / int64, and
    ``jet_const`` (n, 2, M, 3) float32 when ``cfg.n_constituents`` > 0. The caller
    chooses storage dtypes.
    """
    n_events = len(particles)
    if n_events == 0:
        return np.zeros(0, dtype=bool), {}
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, cfg.radius)
    cs = fastjet.ClusterSequence(particles, jet_def)
    jets = cs.inclusive_jets(min_pt=cfg.jet_min_pt)
    consts = cs.constituents(min_pt=cfg.jet_min_pt)  # same jet order as inclusive_jets

    pt_all = np.hypot(jets.px, jets.py)
    order = ak.argsort(pt_all, axis=1, ascending=False, stable=True)
    lead_pt = ak.to_numpy(ak.fill_none(ak.firsts(pt_all[order]), 0.0))
    accepted = lead_pt > cfg.min_leading_pt
    if not accepted.any():
        return accepted, {}

    order = order[accepted]
    jets2 = jets[accepted][order][:, :2]
    consts2 = consts[accepted][order][:, :2]
    n_acc = int(accepted.sum())

    px, py, pz, e = (_pad2(jets2[f]) for f in ("px", "py", "pz", "E"))
    pt = np.hypot(px, py)
    cols: dict[str, np.ndarray] = {
        "jet_pt": pt,
        "jet_eta": _eta(pt, pz),
        "jet_phi": np.arctan2(py, px),
        "jet_m": _signed_mass(e, px, py, pz),
    }
    # mjj from the summed four-vector; NaN when there is no second jet.
    cols["mjj"] = _signed_mass(e.sum(axis=1), px.sum(axis=1), py.sum(axis=1), pz.sum(axis=1))

    # Substructure on the existing jets, scattered back into the (n, 2) grid.
    njet = ak.to_numpy(ak.num(jets2, axis=1))
    present = np.arange(2)[None, :] < njet[:, None]
    flat = ak.flatten(consts2, axis=1)
    msd, tau, nconst = _substructure(flat, cfg)
    grid_msd = np.full((n_acc, 2), np.nan)
    grid_msd[present] = msd
    cols["jet_msd"] = grid_msd
    for k in range(4):
        g = np.full((n_acc, 2), np.nan)
        g[present] = tau[:, k]
        cols[f"jet_tau{k + 1}"] = g
    g_n = np.zeros((n_acc, 2), dtype=np.int64)
    g_n[present] = nconst
    cols["jet_nconst"] = g_n

    if cfg.n_constituents > 0:
        const = np.zeros((n_acc, 2, cfg.n_constituents, 3), dtype=np.float32)
        const[present] = _constituent_array(flat, cfg.n_constituents)
        cols["jet_const"] = const
    return accepted, cols
