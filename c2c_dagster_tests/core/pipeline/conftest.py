"""The git history fixture every pipeline-tool test runs against."""

from __future__ import annotations

from pathlib import Path

import pytest

from c2c_dagster_tests.core.pipeline.git_history import History, make_history


@pytest.fixture
def history(tmp_path: Path) -> History:
    return make_history(tmp_path)
