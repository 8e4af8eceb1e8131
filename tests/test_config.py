from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_config, write_config

from casehunt.config import Config
from casehunt.errors import ConfigError


def test_unknown_keys_are_named(toy_files: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"selection\.efficency.*valid keys"):
        Config(make_config(toy_files, selection={"efficency": 0.1}))
    with pytest.raises(ConfigError, match=r"preselection\.jet_pt"):
        Config(make_config(toy_files, preselection={"jet_pt": 300}))
    with pytest.raises(ConfigError, match=r"config\.methodz"):
        Config({**make_config(toy_files), "methodz": {}})


def test_values_are_checked(toy_files: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"selection\.efficiency must be in \(0, 1\)"):
        Config(make_config(toy_files, selection={"efficiency": 1.5}))
    with pytest.raises(ConfigError, match=r"exactly one of injection\.n_events"):
        Config(make_config(toy_files, injection={"s_over_sqrt_b": 2}))
    with pytest.raises(ConfigError, match="exactly one of regions"):
        Config(make_config(toy_files, regions={"preset": "case"}))


def test_region_forms(toy_files: dict[str, Path]) -> None:
    base = make_config(toy_files)
    base["regions"] = {"preset": "case"}
    assert len(Config(base).regions()) == 12
    base["regions"] = {"sliding": {"start": 2000, "stop": 6000}}
    assert len(Config(base).regions()) >= 6
    base["regions"] = {"edges": [2800, 3300, 3700, 4200]}
    assert [r.name for r in Config(base).regions()] == ["sr_3300_3700"]


def test_relative_paths_from_the_config_folder(tmp_path: Path, toy_files: dict[str, Path]) -> None:
    cfg = make_config(toy_files, input={"data": "data/x.h5"})
    config = Config.from_file(write_config(tmp_path / "c.yaml", cfg))
    assert config.path("data/x.h5") == tmp_path / "data/x.h5"


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        Config.from_file(bad)
