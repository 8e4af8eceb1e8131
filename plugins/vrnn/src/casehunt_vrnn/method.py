"""The VRNN jet tagger: a sequence model of aligned jets, its KL as the anomaly score.

Kahn et al. (arXiv:2105.09274), the tagger of the ATLAS anomaly search in dijet
resonances (arXiv:2306.03637): every jet is aligned (casehunt_vrnn.alignment: boosted
to a reference mass, energy and orientation) and read constituent by constituent, in
kt-distance order, by a variational recurrent network trained on the data's jets
(casehunt_vrnn.vrnn). A jet whose constituents the network does not expect has a large
KL divergence between the encoder's posterior and the learned prior; the jet's score is
1 - exp(-mean KL), and the event's the larger of its two jets' (ATLAS selected events
with one anomalous jet or more). The core's selection at a fixed efficiency is the cut
on that score that defines the search's signal region.

The method is global and unsupervised: the core trains it once per fold on all events of
the other folds (both jets of each event are training rows); nothing depends on mjj or
on a signal region. Alignment removes most of what the jet mass tells the network, so a
cut sculpts the background jet mass less than the same network on jets that are only
centred (``alignment: centred``); plugins/vrnn/scripts/measure.py measures both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from casehunt.errors import ConfigError, InputError
from casehunt.events import EventTable
from casehunt.methods import SelectionMethod, TrainingData
from casehunt.options import int_at_least, number_at_least, open_fraction, positive_number
from casehunt.readers import padded_from_constituents
from casehunt.training import torch_threads
from casehunt_vrnn.alignment import REF_ENERGY, REF_MASS, align_jets
from casehunt_vrnn.vrnn import JetVRNN, VRNNConfig

EVENT_SCORES = ("max", "min")


class VRNNTagger(SelectionMethod):
    """A VRNN over each jet's aligned constituents; the event scored by its most anomalous jet."""

    name: ClassVar[str] = "vrnn"
    training = "global"
    inputs: ClassVar[frozenset[str]] = frozenset({"jet_const"})
    description: ClassVar[str] = (
        "VRNN jet tagger (Kahn et al., ATLAS): a variational recurrent network over aligned, "
        "kt-ordered constituents; 1 - exp(-mean KL) of the more anomalous jet "
        "(arXiv:2105.09274, arXiv:2306.03637)"
    )
    default_options: ClassVar[Mapping[str, Any]] = {
        # constituents per jet read by the network, the hardest by pT (arXiv:2105.09274: 20)
        "n_constituents": 20,
        # "full" (boost to a reference mass, energy and orientation) or "centred" (only
        # rotated to eta = phi = 0 and divided by the jet energy: the comparison)
        "alignment": "full",
        # order of the sequence: "kt" (pT * Delta R to the jet axis, largest first) or "pt"
        "ordering": "kt",
        # the aligned frame's jet mass and energy [GeV]
        "ref_mass": REF_MASS,
        "ref_energy": REF_ENERGY,
        # GRU state and the width of every feature extractor
        "hidden": 32,
        "latent_dim": 2,
        "epochs": 20,
        "batch_size": 256,
        "learning_rate": 1e-3,
        # epochs without a better validation loss before stopping; the best epoch is kept
        "patience": 4,
        # weight of the KL term in the training loss
        "kl_weight": 1.0,
        # events whose jets are held out of training for early stopping
        "validation_fraction": 0.2,
        # "max": the more anomalous jet (ATLAS); "min": both jets must look anomalous
        "event_score": "max",
        # "auto" (a GPU if torch sees one), "cpu", "cuda" or a torch device string
        "device": "auto",
        # torch CPU threads while training and scoring (null: torch's default)
        "threads": 1,
        # tqdm progress bar over the epochs
        "progress": True,
    }

    def __init__(self, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(options, seed)
        self._check_options()
        self.vrnn_: JetVRNN | None = None

    def _check_options(self) -> None:
        o = self.options
        for key in ("n_constituents", "hidden", "latent_dim", "epochs", "batch_size"):
            int_at_least(o, key, "vrnn", 2 if key == "n_constituents" else 1)
        int_at_least(o, "patience", "vrnn", 1)
        for key in ("learning_rate", "ref_mass", "ref_energy"):
            positive_number(o, key, "vrnn")
        if not o["ref_energy"] > o["ref_mass"]:
            raise ConfigError(
                f"vrnn: option 'ref_energy' ({o['ref_energy']}) must exceed 'ref_mass' "
                f"({o['ref_mass']}): the aligned jet needs a momentum"
            )
        kl = number_at_least(o, "kl_weight", "vrnn", 0)
        open_fraction(o, "validation_fraction", "vrnn")
        for key, allowed in (
            ("alignment", ("full", "centred")),
            ("ordering", ("kt", "pt")),
            ("event_score", EVENT_SCORES),
        ):
            if o[key] not in allowed:
                raise ConfigError(
                    f"vrnn: option {key!r} must be one of {', '.join(allowed)}, got {o[key]!r}"
                )
        if not isinstance(o["device"], str):
            raise ConfigError(f"vrnn: option 'device' must be a string, got {o['device']!r}")
        if o["threads"] is not None:
            int_at_least(o, "threads", "vrnn", 1)
        if not isinstance(o["progress"], bool):
            raise ConfigError(
                f"vrnn: option 'progress' must be true or false, got {o['progress']!r}"
            )
        self.config = VRNNConfig(
            hidden=int(o["hidden"]),
            latent_dim=int(o["latent_dim"]),
            epochs=int(o["epochs"]),
            batch_size=int(o["batch_size"]),
            learning_rate=float(o["learning_rate"]),
            patience=int(o["patience"]),
            kl_weight=kl,
        )

    def _device(self) -> str:
        device = self.options["device"]
        if device == "auto":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        return device

    # inputs --------------------------------------------------------------------------
    def sequences(self, events: EventTable) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2, T, 4) aligned, ordered constituent sequences of both jets and their masks."""
        o = self.options
        n = int(o["n_constituents"])
        padded = padded_from_constituents(events["jet_const"], n)
        if not np.all(np.isfinite(padded)):
            bad = int((~np.isfinite(padded)).any(axis=(1, 2, 3)).sum())
            raise InputError(
                f"{events.source}: column 'jet_const' has non-finite values in {bad} event(s)"
            )
        seq, mask = align_jets(
            padded.reshape(-1, n, 3),
            n,
            o["alignment"],
            o["ordering"],
            float(o["ref_mass"]),
            float(o["ref_energy"]),
        )
        return seq.reshape(events.n_events, 2, n, 4), mask.reshape(events.n_events, 2, n)

    # training and scoring ------------------------------------------------------------
    def fit(self, data: TrainingData) -> None:
        """The VRNN on the jets of most events, early-stopped on the jets of the others."""
        with torch_threads(self.options["threads"]):
            self._fit(data)

    def _fit(self, data: TrainingData) -> None:
        events = data.events
        n = events.n_events
        n_valid = round(float(self.options["validation_fraction"]) * n)
        if n_valid < 1 or n - n_valid < 2:
            raise InputError(
                f"vrnn: {n} training events leave {n_valid} for validation and "
                f"{n - n_valid} for training; give more events"
            )
        seq, mask = self.sequences(events)
        split_seed, net_seed = np.random.SeedSequence(self.seed).generate_state(2)
        order = np.random.default_rng(split_seed).permutation(n)
        valid, train = np.sort(order[:n_valid]), np.sort(order[n_valid:])

        def jets(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return seq[idx].reshape(-1, *seq.shape[2:]), mask[idx].reshape(-1, mask.shape[2])

        self.vrnn_ = JetVRNN(
            self.config,
            seed=int(net_seed),
            device=self._device(),
            progress=self.options["progress"],
        )
        self.vrnn_.fit(*jets(train), *jets(valid))

    def jet_scores(self, events: EventTable) -> np.ndarray:
        """(N, 2) anomaly score 1 - exp(-mean KL) of each jet."""
        if self.vrnn_ is None:
            raise RuntimeError("vrnn: jet_scores called before fit")
        if events.n_events == 0:
            return np.empty((0, 2))
        seq, mask = self.sequences(events)
        with torch_threads(self.options["threads"]):
            s = self.vrnn_.anomaly_score(
                seq.reshape(-1, *seq.shape[2:]), mask.reshape(-1, mask.shape[2])
            )
        return s.reshape(events.n_events, 2)

    def score(self, events: EventTable) -> np.ndarray:
        """The larger (``event_score: max``) or smaller of the two jets' scores."""
        s = self.jet_scores(events)
        return s.max(axis=1) if self.options["event_score"] == "max" else s.min(axis=1)
