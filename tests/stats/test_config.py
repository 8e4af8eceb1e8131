import numpy as np
import pytest

from casehunt_stats import StatsConfig


def test_defaults_round_trip():
    cfg = StatsConfig()
    assert cfg.sqrt_s == 13000.0
    assert cfg.n_params == (3, 4, 5)
    assert StatsConfig.from_dict(cfg.to_dict()) == cfg
    custom = StatsConfig.from_dict(
        {"fit_range": [1460, 6000], "mass_hypotheses": {"start": 1800, "stop": 2000}, "seed": 3}
    )
    assert StatsConfig.from_dict(custom.to_dict()) == custom
    assert custom.fit_range == (1460.0, 6000.0)


def test_unknown_key_names_key_and_valid_keys():
    with pytest.raises(ValueError, match="'fitrange'") as exc:
        StatsConfig.from_dict({"fitrange": [1, 2]})
    assert "fit_range" in str(exc.value)
    assert "bin_width" in str(exc.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("bin_width", -4),
        ("bin_width", "4"),
        ("ftest_threshold", 1.5),
        ("n_params", [2, 3]),
        ("fit_range", [6000, 1500]),
        ("fit_range", [1500]),
        ("cl", 1.0),
        ("global_toys", -1),
        ("seed", 1.5),
        ("mass_hypotheses", {"begin": 1}),
        ("limit_calculator", "magic"),
        ("compute_limits", "yes"),
    ],
)
def test_bad_values_name_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        StatsConfig.from_dict({key: value})


def test_mass_hypotheses():
    cfg = StatsConfig.from_dict({"mass_hypotheses": {"start": 1800, "stop": 2100, "step": 100}})
    np.testing.assert_allclose(cfg.masses((1500, 6000)), [1800, 1900, 2000, 2100])
    assert list(StatsConfig.from_dict({"mass_hypotheses": [2500, 3000]}).masses((1, 2))) == [
        2500,
        3000,
    ]
    default = StatsConfig().masses((1500.0, 6000.0))
    assert default[0] >= 1500 and default[-1] <= 6000
    assert np.allclose(np.diff(default), 100.0)
