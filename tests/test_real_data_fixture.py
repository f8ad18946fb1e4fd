"""The shared real-data fixture: skip normally, fail when CI requires the images."""

from __future__ import annotations

import pytest


def test_missing_folder_skips_with_its_name(real_data, monkeypatch):
    monkeypatch.delenv("HER2KIT_REQUIRE_REAL_DATA", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_folder_x"):
        real_data("no_such_folder_x")


def test_missing_folder_fails_when_required(real_data, monkeypatch):
    monkeypatch.setenv("HER2KIT_REQUIRE_REAL_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="no_such_folder_x"):
        real_data("no_such_folder_x")
