"""The frozen option objects: validated on construction, same images as the keywords."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.synthetic.ihc import IhcRegionOptions, generate_ihc_region, render_ihc_region
from her2kit.synthetic.ish import (
    BrightfieldIshFieldOptions,
    FishFieldOptions,
    IshLayoutOptions,
    generate_brightfield_ish_field,
    generate_fish_field,
    render_brightfield_ish_field,
    render_fish_field,
)


def test_ihc_options_render_the_keyword_image():
    kw = {"shape_px": (96, 96), "pixel_size_um": 1, "target_score": "3+", "seed": 4,
          "jpeg_quality": 70}  # fmt: skip
    options = IhcRegionOptions(**kw)
    assert options.pixel_size_um == 1.0 and isinstance(options.pixel_size_um, float)
    a, b = render_ihc_region(options), generate_ihc_region(**kw)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.cell_labels, b.cell_labels)
    assert dict(a.params) == dict(b.params)


def test_ihc_options_are_frozen_and_copy_their_fractions():
    fractions = {"none": 0.5, "incomplete_faint": 0.5}
    options = IhcRegionOptions(shape_px=(64, 64), class_fractions=fractions)
    fractions["none"] = 0.0
    assert options.class_fractions["none"] == 0.5
    with pytest.raises(TypeError):
        options.class_fractions["none"] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 1
    assert dataclasses.replace(options, seed=2).seed == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_score": "4+"}, "unknown IHC score"),
        ({}, "exactly one"),
        ({"target_score": "1+", "shape_px": (20, 64)}, "32–8000"),
        ({"target_score": "1+", "stroma_fraction": 0.95}, "0–0.9"),
        ({"class_fractions": {"none": 0.9}}, "sum to 1"),
    ],
)
def test_ihc_options_refuse_bad_values(kwargs, message):
    with pytest.raises(Her2kitInputError, match=message):
        IhcRegionOptions(**{"shape_px": (64, 64), **kwargs})


def test_fish_options_render_the_keyword_field():
    kw = {"shape_px": (128, 128), "n_nuclei": 3, "scenario": "group3", "seed": 6,
          "z_planes": 2}  # fmt: skip
    a, b = render_fish_field(FishFieldOptions(**kw)), generate_fish_field(**kw)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.signals, b.signals)


def test_brightfield_options_render_the_keyword_field():
    kw = {"shape_px": (128, 128), "n_nuclei": 3, "assay": "cish", "seed": 6}
    options = BrightfieldIshFieldOptions(**kw)
    assert options.psf_sigma_um == 0.25  # brightfield dots are wider than FISH's 0.2 µm
    assert FishFieldOptions().psf_sigma_um == 0.2
    a, b = render_brightfield_ish_field(options), generate_brightfield_ish_field(**kw)
    assert np.array_equal(a.image, b.image)
    assert a.assay == "cish"


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (IshLayoutOptions, {"shape_px": (16, 64)}, "at least 32x32"),
        (IshLayoutOptions, {"out_of_focus_fraction": 1.5}, "0-1"),
        (FishFieldOptions, {"snr": 0}, "must be > 0"),
        (FishFieldOptions, {"z_planes": 51}, "1-50"),
        (BrightfieldIshFieldOptions, {"assay": "fish"}, "dual-ish"),
        (BrightfieldIshFieldOptions, {"pixel_size_um": 3.0}, "0.02-2"),
    ],
)
def test_ish_options_refuse_bad_values(cls, kwargs, message):
    with pytest.raises(Her2kitInputError, match=message):
        cls(**kwargs)
