from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from casehunt import hookspecs
from casehunt.cli import main
from casehunt.errors import PluginError
from casehunt.hookspecs import hookimpl
from casehunt.plugins import Registry, make_plugin_manager
from casehunt_template import SidebandGaussian

ROOT = Path(__file__).resolve().parents[1]


def test_builtins_and_entry_points_share_one_manager() -> None:
    registry = Registry(make_plugin_manager())
    assert registry.readers["hdf5"].__name__ == "HDF5Reader"
    assert registry.info[("reader", "hdf5")].distribution == "casehunt"
    assert registry.info[("method", "template")].distribution == "casehunt-template"


def test_misspelled_hook_is_rejected() -> None:
    class Typo:
        @hookimpl
        def casehunt_register_method(self) -> list:  # missing "s"
            return []

    with pytest.raises(PluginError, match="casehunt_register_method"):
        make_plugin_manager(extra=[Typo()])


def test_plugin_can_be_blocked_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "template" not in Registry(make_plugin_manager(block=["template"])).methods
    monkeypatch.setenv("CASEHUNT_DISABLE_PLUGINS", "template")
    assert "template" not in Registry(make_plugin_manager()).methods


def test_duplicate_method_names_are_an_error() -> None:
    class Again:
        @hookimpl
        def casehunt_register_methods(self) -> list:
            return [SidebandGaussian]

    with pytest.raises(PluginError, match="provided twice"):
        Registry(make_plugin_manager(extra=[Again()]))


def test_broken_plugin_names_its_distribution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "casehunt_broken-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: casehunt-broken\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[casehunt]\nbroken = casehunt_broken_does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError) as err:
        make_plugin_manager()
    message = str(err.value)
    assert "casehunt-broken 0.3" in message
    assert "CASEHUNT_DISABLE_PLUGINS=broken" in message
    assert "template" in Registry(make_plugin_manager(block=["broken"])).methods


def test_every_hook_is_documented() -> None:
    hooks = [
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("casehunt_")
    ]
    assert len(hooks) >= 6
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    for name in hooks:
        assert inspect.getdoc(getattr(hookspecs, name)), f"{name} has no docstring"
        assert name in guide, f"{name} is not documented in CONTRIBUTING.md"


def test_plugins_command_lists_methods_and_readers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    assert by_name[("method", "template")]["distribution"] == "casehunt-template"
    assert by_name[("method", "template")]["version"] == "0.1.0"
    assert by_name[("reader", "hdf5")]["distribution"] == "casehunt"
    assert main(["plugins"]) == 0
    assert "template" in capsys.readouterr().out


def test_plugins_command_honours_disable_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json", "--disable-plugin", "template"]) == 0
    names = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert "template" not in names
    assert "hdf5" in names
