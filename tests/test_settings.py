"""The declared table of limits and defaults: immutable, and what io and the CLI use."""

from __future__ import annotations

import pytest

from her2kit import settings


def test_declared_values_and_units():
    table = {s.name: (s.value, s.unit) for s in settings.SETTINGS}
    assert table["score_ihc_max_pixels"] == (400_000_000, "px")
    assert table["ish_max_field_pixels"] == (100_000_000, "px")
    assert table["ish_max_samples_per_pixel"] == (10, "samples/px")
    assert table["report_out_dir"] == ("out/report", "path")
    assert table["trials_timeout_s"] == (10.0, "s")
    assert len(table) == len(settings.SETTINGS)  # names are unique
    assert all(s.help.strip() for s in settings.SETTINGS)


def test_table_is_immutable():
    assert isinstance(settings.SETTINGS, tuple)
    with pytest.raises(TypeError):
        settings.SETTINGS_BY_NAME["score_ihc_max_pixels"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        settings.SETTINGS[0].value = 1  # type: ignore[misc]


def test_readers_use_the_declared_limits():
    from her2kit.io import fish, images

    assert images.DEFAULT_MAX_PIXELS == 400_000_000
    assert fish.MAX_FIELD_PIXELS == 100_000_000
    assert fish.MAX_SAMPLES_PER_PIXEL_LIMIT == 10
