"""Signal injection: signal events added to the data, their labels kept aside.

The amount is an event count, or S/sqrt(B) in a signal region as in the weak-supervision
benchmarks (CATHODE arXiv:2109.00546; CASE arXiv:2412.03747, Sec. 8): S signal events in
the signal region for B data events there after the preselection. Signal events are
drawn at random from the (preselected) pool; those outside the region come along, as
they would in real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from casehunt.errors import InputError, RegionError
from casehunt.regions import SignalRegion
from casehunt.sample import Sample


@dataclass(frozen=True)
class InjectionSummary:
    """What was injected, for the manifest and the statistics."""

    n_injected: int
    n_in_region: int
    n_background_in_region: int
    region: str | None
    pool_size: int

    @property
    def s_over_sqrt_b(self) -> float:
        b = self.n_background_in_region
        return self.n_in_region / np.sqrt(b) if b else float("nan")

    def to_dict(self) -> dict[str, float | int | str | None]:
        d: dict[str, float | int | str | None] = dict(self.__dict__)
        d["s_over_sqrt_b"] = None if np.isnan(self.s_over_sqrt_b) else float(self.s_over_sqrt_b)
        return d


def signal_for_significance(
    data_mjj: np.ndarray, region: SignalRegion, s_over_sqrt_b: float
) -> int:
    """Signal events needed in the region for S / sqrt(B) there."""
    b = int(region.in_signal_region(data_mjj).sum())
    if b == 0:
        raise RegionError(f"region {region.name}: no data events, cannot set S/sqrt(B)")
    return round(s_over_sqrt_b * np.sqrt(b))


def inject(
    data: Sample,
    pool: Sample,
    rng: np.random.Generator,
    *,
    region: SignalRegion,
    n_events: int | None = None,
    n_in_region: int | None = None,
    resonant_feature: str = "mjj",
) -> tuple[Sample, InjectionSummary]:
    """Data plus signal drawn from `pool`, shuffled so position reveals nothing."""
    if (n_events is None) == (n_in_region is None):
        raise ValueError("give exactly one of n_events and n_in_region")
    m_pool = np.asarray(pool.events[resonant_feature])
    order = rng.permutation(pool.n_events)
    if n_events is not None:
        if n_events > pool.n_events:
            raise InputError(
                f"asked to inject {n_events} signal events but the preselected signal pool has "
                f"only {pool.n_events}"
            )
        chosen = order[:n_events]
    else:
        in_sr = region.in_signal_region(m_pool[order])
        if n_in_region > in_sr.sum():
            raise InputError(
                f"asked for {n_in_region} signal events in {region.name} but the preselected "
                f"signal pool has only {int(in_sr.sum())} there"
            )
        # take pool events in random order until the region holds the asked number
        n_take = int(np.searchsorted(np.cumsum(in_sr), n_in_region)) + 1 if n_in_region else 0
        chosen = order[:n_take]
    signal = pool.take(np.sort(chosen))
    signal = Sample(
        signal.events,
        signal.event_id,
        np.ones(signal.n_events, dtype=bool),
        np.ones(signal.n_events, dtype=np.int8),
    )
    data_labels = data.labels if data.labels is not None else np.zeros(data.n_events, np.int8)
    data = Sample(data.events, data.event_id, data.injected, data_labels)
    combined = Sample.concatenate([data, signal])
    combined = combined.take(rng.permutation(combined.n_events))
    m_data = np.asarray(data.events[resonant_feature])
    summary = InjectionSummary(
        n_injected=signal.n_events,
        n_in_region=int(region.in_signal_region(np.asarray(signal.events[resonant_feature])).sum()),
        n_background_in_region=int(region.in_signal_region(m_data).sum()),
        region=region.name,
        pool_size=pool.n_events,
    )
    return combined, summary
