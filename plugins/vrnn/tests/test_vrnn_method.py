"""The VRNN tagger on toy events: options, inputs, scores and what alignment buys."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from vrnn_toys import FAST

from casehunt.errors import ConfigError, InputError
from casehunt.events import EventTable
from casehunt.methods import TrainingData
from casehunt.readers import constituents_from_padded, padded_from_constituents
from casehunt.testing import toy_sample
from casehunt_vrnn import VRNNTagger
from casehunt_vrnn.alignment import jet_mass


@pytest.fixture(scope="module")
def toy() -> EventTable:
    return toy_sample(3_000, 100, seed=5, n_constituents=12)[0]


def fitted(events: EventTable, options: dict[str, Any] | None = None, seed: int = 0) -> VRNNTagger:
    method = VRNNTagger({**FAST, **(options or {})}, seed=seed)
    method.fit(TrainingData.for_region(events, None))
    return method


def with_constituents(events: EventTable, padded: np.ndarray) -> EventTable:
    return events.with_columns(jet_const=constituents_from_padded(padded.astype(np.float32)))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"alignment": "boosted"}, "'alignment' must be one of full, centred"),
        ({"ordering": "eta"}, "'ordering' must be one of kt, pt"),
        ({"event_score": "mean"}, "'event_score' must be one of max, min"),
        ({"ref_mass": 2.0}, "'ref_energy' .* must exceed 'ref_mass'"),
        ({"kl_weight": -1}, "'kl_weight' must be a number >= 0"),
        ({"n_constituents": 1}, "'n_constituents' must be an integer >= 2"),
        ({"validation_fraction": 1.0}, "'validation_fraction' must be between 0 and 1"),
        ({"threads": 0}, "'threads' must be an integer >= 1"),
        ({"progress": "yes"}, "'progress' must be true or false"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        VRNNTagger(options)


def test_nan_constituent_is_an_input_error_naming_the_column(toy: EventTable) -> None:
    padded = padded_from_constituents(toy["jet_const"], 12)
    padded[3, 1, 0, 1] = np.nan
    with pytest.raises(InputError, match="'jet_const' has non-finite values in 1 event"):
        fitted(with_constituents(toy, padded))


def test_too_few_events_for_a_validation_split(toy: EventTable) -> None:
    with pytest.raises(InputError, match="give more events"):
        fitted(toy.take(np.arange(2)))


def test_event_score_is_the_more_anomalous_jet(toy: EventTable) -> None:
    method = fitted(toy)
    jets = method.jet_scores(toy)
    assert jets.shape == (toy.n_events, 2)
    assert np.all((jets >= 0) & (jets < 1)), "1 - exp(-KL) lies in [0, 1)"
    np.testing.assert_array_equal(method.score(toy), jets.max(axis=1))
    both = VRNNTagger({**FAST, "event_score": "min"})
    both.vrnn_ = method.vrnn_
    np.testing.assert_array_equal(both.score(toy), jets.min(axis=1))


def test_score_before_fit_is_an_error(toy: EventTable) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        VRNNTagger(FAST).score(toy)


def test_a_pickled_model_scores_the_same(toy: EventTable) -> None:
    method = fitted(toy)
    again = pickle.loads(pickle.dumps(method))
    np.testing.assert_array_equal(again.score(toy), method.score(toy))


def test_aligned_jets_forget_mass_and_scale(toy: EventTable) -> None:
    # every constituent pT doubled (the jet mass and momentum double, the pattern stays):
    # the aligned sequences, and so the scores, do not change
    padded = padded_from_constituents(toy["jet_const"], 12).astype(np.float64)
    scaled = padded.copy()
    scaled[..., 0] *= 2.0
    full = fitted(toy)
    np.testing.assert_allclose(
        full.score(with_constituents(toy, scaled)), full.score(toy), rtol=1e-4
    )

    # the aligned jet has the reference mass whatever its own; a centred jet keeps m / E
    def mass(seq: np.ndarray) -> np.ndarray:
        p = seq.astype(np.float64).sum(axis=2)
        return np.sqrt(np.maximum(p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1), 0.0))

    np.testing.assert_allclose(mass(full.sequences(toy)[0]), 0.25, rtol=1e-4)
    centred = VRNNTagger({**FAST, "alignment": "centred"})
    assert mass(centred.sequences(toy)[0]).std() > 0.01


def test_alignment_sculpts_the_background_jet_mass_less() -> None:
    # background only: the 10% most anomalous jets of a centred VRNN are the heavy ones
    # (the network sees the jets' angular spread, m / E); aligned jets all have one mass.
    # Measured (seed 0): mean mass of the kept jets / all jets 0.88 aligned, 1.46 centred.
    train = toy_sample(4_000, 0, seed=1, n_constituents=12)[0]
    test = toy_sample(4_000, 0, seed=2, n_constituents=12)[0]
    mass = jet_mass(padded_from_constituents(test["jet_const"], 12).reshape(-1, 12, 3))
    shift = {}
    for alignment in ("full", "centred"):
        scores = fitted(train, {"alignment": alignment, "epochs": 3}).jet_scores(test).ravel()
        kept = scores > np.quantile(scores, 0.9)
        shift[alignment] = abs(np.log(mass[kept].mean() / mass.mean()))
    assert shift["centred"] > np.log(1.2), shift
    assert shift["full"] < 0.5 * shift["centred"], shift
