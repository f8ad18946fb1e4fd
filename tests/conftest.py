"""Shared test fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL = REPO.parent / "shared" / "data" / "real"
#: Set to 1 (``.ci/run`` does) to make a missing real-data folder a failure, not a skip.
REQUIRE_REAL_DATA_ENV = "HER2KIT_REQUIRE_REAL_DATA"


@pytest.fixture
def real_data() -> Callable[[str], Path]:
    """Return a function giving a real data folder in ../shared/data/real.

    A missing folder skips the test with the folder's name, or fails it when the
    environment variable ``HER2KIT_REQUIRE_REAL_DATA`` is ``1`` (CI), so that a CI run
    without the images cannot pass by skipping every real-image test.
    """

    def _folder(name: str) -> Path:
        path = SHARED_REAL / name
        if not path.is_dir():
            msg = f"real data folder ../shared/data/real/{name} is not present"
            if os.environ.get(REQUIRE_REAL_DATA_ENV) == "1":
                pytest.fail(f"{msg} ({REQUIRE_REAL_DATA_ENV}=1)")
            pytest.skip(msg)
        return path

    return _folder
