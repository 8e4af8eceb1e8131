"""Toy signal-prior files shared by the QUAK tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from quak_toys import make_prior_files


@pytest.fixture(scope="session")
def prior_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_prior_files(tmp_path_factory.mktemp("quak_priors"))
