"""Process settings, option validation and the command line: no Pythia needed."""

from __future__ import annotations

import argparse
import builtins
from pathlib import Path

import pytest

from casehunt.generate import add_arguments, main
from casehunt.generate.errors import ConfigError, MissingGeneratorError
from casehunt.generate.processes import make_process, pythia_settings

#: The settings recorded in the reference signal file (shared/data), chunk seed aside.
REFERENCE_SIGNAL = """NewGaugeBoson:ffbar2Wprime = on
34:m0 = 3500.0
34:mWidth = 10.0
34:mMin = 2800.0
34:mMax = 4200.0
34:oneChannel = 1 1.0 100 37 36
37:m0 = 500.0
37:mWidth = 1.0
37:mMin = 400.0
37:mMax = 600.0
37:oneChannel = 1 0.5 100 2 -1
37:addChannel = 1 0.5 100 4 -3
36:m0 = 100.0
36:mWidth = 1.0
36:mMin = 50.0
36:mMax = 150.0
36:oneChannel = 1 0.25 100 1 -1
36:addChannel = 1 0.25 100 2 -2
36:addChannel = 1 0.25 100 3 -3
36:addChannel = 1 0.25 100 4 -4""".splitlines()


def test_qcd_settings_match_reference() -> None:
    s = pythia_settings(make_process("qcd"), 1001)
    assert s == [
        "Beams:eCM = 13000.",
        "Print:quiet = on",
        "Random:setSeed = on",
        "Random:seed = 1001",
        "HardQCD:all = on",
        "PhaseSpace:pTHatMin = 1000.0",
    ]


def test_wprime_settings_match_reference() -> None:
    assert list(make_process("wprime").settings) == REFERENCE_SIGNAL


def test_wprime_three_prong_and_masses() -> None:
    p = make_process("wprime", {"mass": 3000, "mx": 200, "my": 80, "x_prongs": 3})
    assert "37:oneChannel = 1 0.5 100 2 2 1" in p.settings
    assert "37:addChannel = 1 0.5 100 4 4 3" in p.settings
    assert "34:m0 = 3000.0" in p.settings
    assert "37:mMin = 100.0" in p.settings
    assert "36:mMin = 40.0" in p.settings
    assert p.label == "signal"


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("nope", {}, "unknown process"),
        ("qcd", {"mass": 3}, "unknown option"),
        ("wprime", {"x_prongs": 4}, "x_prongs"),
        ("wprime", {"mass": 500, "mx": 400, "my": 200}, "below the W' mass"),
        ("qcd", {"pthat_min": -1}, "pthat_min"),
    ],
)
def test_bad_process_options(name: str, options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_process(name, options)


@pytest.mark.parametrize(
    ("extra", "match"),
    [(["Random:seed = 5"], "reserved"), (["no equals sign"], "Key = value")],
)
def test_bad_extra_settings(extra: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        pythia_settings(make_process("qcd"), 1, extra)


def test_seed_zero_refused() -> None:
    # Pythia would seed seed 0 from the clock: not reproducible.
    with pytest.raises(ConfigError, match="seed"):
        pythia_settings(make_process("qcd"), 0)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_parses_options() -> None:
    extra = ["--pythia", "Tune:pp = 14", "--pythia", "TimeShower:alphaSvalue = 0.13"]
    args = _parse(
        [
            "wprime",
            "--mass",
            "3000",
            "--mx",
            "300",
            "--x-prongs",
            "3",
            "-n",
            "5",
            "-o",
            "x.h5",
            *extra,
        ]
    )
    assert args.mass == 3000
    assert args.x_prongs == 3
    assert args.events == 5
    assert args.pythia == ["Tune:pp = 14", "TimeShower:alphaSvalue = 0.13"]
    assert args.output == Path("x.h5")


def test_cli_rejects_option_of_other_process(tmp_path: Path, capsys) -> None:
    args = _parse(["qcd", "--mx", "300", "-n", "5", "-o", str(tmp_path / "x.h5")])
    assert main(args) != 0
    assert "--mx" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_missing_dependencies_message(tmp_path: Path, monkeypatch, capsys) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name in ("pythia8mc", "fastjet"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    args = _parse(["qcd", "-n", "5", "-o", str(tmp_path / "x.h5")])
    assert main(args) != 0
    err = capsys.readouterr().err
    assert "install casehunt[generate]" in err
    from casehunt.generate import generate

    with pytest.raises(MissingGeneratorError, match=r"casehunt\[generate\]"):
        generate("qcd", 5, tmp_path / "y.h5")
