"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL = REPO.parent / "shared" / "data" / "real"


@pytest.fixture
def real_data() -> Callable[[str], Path]:
    """Return a function giving a real data folder in ../shared, or skipping with its name."""

    def _folder(name: str) -> Path:
        path = SHARED_REAL / name
        if not path.is_dir():
            pytest.skip(f"real data folder ../shared/data/real/{name} is not present")
        return path

    return _folder
