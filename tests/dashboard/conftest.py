"""The dashboard tests' shared fixture: `provenance dashboard` serving a test module's ``flagged_home`` (each
browser test module builds the home its checks need and gets the same running server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.browser import running_dashboard


@pytest.fixture
def dashboard_url(flagged_home: tuple[Path, object], micro_model_dir: Path) -> Iterator[str]:
    home, _ = flagged_home
    with running_dashboard(home, {"PROVENANCE_MODEL": str(micro_model_dir)}) as url:
        yield url
