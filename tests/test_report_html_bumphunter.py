"""The BumpHunter comparison table of the run report (casehunt_stats.bumphunter)."""

from casehunt.report_html import _significance_section


def _stats(region: dict) -> dict:
    return {"cwola": ({"regions": {"sr_3000": region}, "global": None}, None)}


def test_bumphunter_table_only_when_present() -> None:
    reg = {"status": "ok", "scan": {"max_z": 4.1, "max_z_mass": 3500.0, "points": []}}
    plain = "".join(_significance_section(_stats(reg), None))
    assert "BumpHunter" not in plain
    reg["bumphunter"] = {
        "window": [3416.0, 3704.0], "local_p": 1.2e-4, "t": 9.03, "global_p": 0.012,
        "global_p_err": 0.0034, "n_toys": 1000, "max_z_mass_in_window": True,
        "likelihood": {"max_z_mass": 3500.0, "max_z": 4.1, "global_p": 0.004,
                       "global_p_err": 0.002, "global_toys": 1000},
    }  # fmt: skip
    text = "".join(_significance_section(_stats(reg), None))
    assert "BumpHunter cross-check" in text
    assert "[3416, 3704)" in text and "0.012 ± 0.0034 (1000 toys)" in text
    assert "0.004 ± 0.002" in text and "<td>yes</td>" in text
    reg["bumphunter"] = {"error": "too few bins"}
    assert "failed: too few bins" in "".join(_significance_section(_stats(reg), None))
