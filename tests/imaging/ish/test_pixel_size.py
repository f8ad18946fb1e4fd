"""Dual ISH and FISH counts do not depend on how finely a field is sampled (branch ishscale).

A user gives the pixel size (``--mpp``); a field scanned at 0.25 µm/px (a 40x slide
scanner) must read as the same field imaged at 0.065 µm/px. The real-field test
downscales a tuning field of the hand-counted reference (tests/data/ish_reference:
DISH1 / DISH3, the project's own counts, not an expert's) and checks the issue-11
targets literally: HER2 and CEP17 within ±1 for >= 80 % of the nuclei without
clusters, and the ratio within 15 % of the hand ratio on the same side of 2.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from her2kit.imaging.color.stains import STAIN_VECTORS
from her2kit.imaging.ish import BrightfieldIshOptions, count_brightfield_ish
from her2kit.imaging.ish.count import MIN_NUCLEI_SILVER_ANGLE_DEG, _nuclei_silver_angle

REF = Path(__file__).resolve().parents[2] / "data" / "ish_reference"


def _rotated(a, b, deg):
    """The unit vector ``deg`` degrees from ``a`` towards ``b`` (in their plane)."""
    a = np.asarray(a, float) / np.linalg.norm(a)
    b = np.asarray(b, float)
    perp = b - (b @ a) * a
    perp /= np.linalg.norm(perp)
    t = np.deg2rad(deg)
    return tuple(np.cos(t) * a + np.sin(t) * perp)


@pytest.mark.parametrize("deg, split", [(14.8, True), (15.2, False)])
def test_silver_split_angle_uses_the_hematoxylin_reference_too(deg, split):
    # Silver ``deg`` from the published hematoxylin, and 25 degrees from the estimate
    # used: the split follows the reference's side of the 15-degree line.
    href = STAIN_VECTORS["hematoxylin"]
    silver = _rotated(href, STAIN_VECTORS["fast_red"], deg)
    est = _rotated(silver, STAIN_VECTORS["fast_red"], -25.0)
    vectors = {"nuclei": est, "her2": silver}
    assert MIN_NUCLEI_SILVER_ANGLE_DEG == 15.0
    assert _nuclei_silver_angle(vectors) == pytest.approx(25.0, abs=0.01)
    angle = _nuclei_silver_angle(vectors, href)
    assert angle == pytest.approx(deg, abs=0.01)
    assert (angle < MIN_NUCLEI_SILVER_ANGLE_DEG) is split


def test_silver_split_reference_is_recorded_and_can_be_turned_off():
    rng = np.random.default_rng(0)
    rgb = np.full((96, 96, 3), 220, np.uint8)
    rgb[20:60, 20:60] = (120, 110, 170)  # a hematoxylin-blue block
    rgb[30:33, 30:33] = (40, 40, 45)  # a dark neutral dot
    rgb = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
    on = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=0.25)
    off = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=0.25,
                                options=BrightfieldIshOptions(silver_split_reference=False))
    assert on.parameters["silver_split_reference"] is True
    assert off.parameters["silver_split_reference"] is False
    assert on.parameters["nuclei_silver_angle_deg"] <= off.parameters["nuclei_silver_angle_deg"]


# --------------------------------------------------------------------------- real fields
TUNING = ("DISH1", "DISH3")
NATIVE_UM, COARSE_UM = 0.065, 0.25  # native ASSUMED (benchmarks/ish_accuracy.py)


def _rows(field):
    import csv

    with open(REF / f"{field}.csv", newline="") as fh:
        return [{k: int(v) for k, v in r.items()} for r in csv.DictReader(fh)]


def _coarse_agreement(real_data, *, jpeg_quality=None):
    """HER2 / CEP17 within ±1 shares (nuclei without clusters, both fields together), per
    field (found ratio, hand ratio), and per field whether ``jpeg_degraded`` was raised,
    counted at 0.25 µm/px; with ``jpeg_quality`` after a JPEG round trip (4:2:0) whose
    header is passed on as ``count-ish FILE.jpg`` does."""
    from benchmarks.ish_scale import downscale

    from her2kit.io.fish import read_brightfield_ish

    folder = real_data("her2_fish_dish_pcm")
    f = NATIVE_UM / COARSE_UM
    plain = her2_ok = cep17_ok = 0
    ratios, flags = {}, []
    for field in TUNING:
        rgb = read_brightfield_ish(folder / "DISH" / f"{field}.jpg")
        img, header = downscale(rgb, f, jpeg_quality=jpeg_quality, header=True)
        res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=COARSE_UM,
                                    jpeg_source=header)
        flags.append("jpeg_degraded" in res.image_flags)
        by_id = {n.nucleus_id: n for n in res.nuclei}
        got, rows = [], _rows(field)
        for r in rows:
            n = by_id.get(int(res.labels[min(round(r["row"] * f), img.shape[0] - 1),
                                         min(round(r["col"] * f), img.shape[1] - 1)]))
            if n is None:
                continue
            got.append((n.her2, n.cep17))
            if not r["cluster"]:
                plain += 1
                her2_ok += abs(n.her2 - r["her2"]) <= 1
                cep17_ok += abs(n.cep17 - r["cep17"]) <= 1
        g = np.mean(got, axis=0)
        t = np.mean([(r["her2"], r["cep17"]) for r in rows], axis=0)
        ratios[field] = (g[0] / g[1], t[0] / t[1])
    return her2_ok / plain, cep17_ok / plain, ratios, flags


def test_tuning_fields_at_coarse_pixel_size_keep_their_ratios(real_data):
    # Issue 11's ratio target, at 0.25 µm/px declared: each tuning field's found ratio on
    # the hand ratio's side of 2.0 and within 15 % of it (DISH1 1.26, DISH3 1.11 by hand).
    # Before branch ishscale: 1.62 and 1.76 (one 3-stain solve from 0.15 µm/px on); before
    # branch dish3clust 1.24 and 1.30 (DISH3: four faint dots in texture patches or a
    # nucleus's dark rim read as 3-5 copy silver clusters), now 1.24 and 1.16.
    her2, _, ratios, _ = _coarse_agreement(real_data)
    for got, ref in ratios.values():
        assert (got >= 2.0) == (ref >= 2.0) and abs(got - ref) <= 0.15 * ref, ratios
    assert her2 >= 0.8, her2  # 35 of 38 (92 %); 33 before dish3clust, 28 before silver025


def test_tuning_fields_at_coarse_pixel_size_per_nucleus_within_one(real_data):
    # Issue 11's per-nucleus target, literally: >= 80 % of the nuclei without clusters.
    # Branch silver025: HER2 34 of 38 (28 before: the silver threshold in texture s.d.
    # lost the blurred faint dots), CEP17 33 of 38 (30 at branch ishscale).
    her2, cep17, _, _ = _coarse_agreement(real_data)
    assert her2 >= 0.8 and cep17 >= 0.8, (her2, cep17)


# --------------------------------------------------------------------------- generated
def _generated_means(scenario, *, realistic, seed=1):
    from benchmarks.ish_scale import generated_counts

    return generated_counts(scenario, seed, realistic=realistic)


@pytest.mark.parametrize("scenario, realistic", [
    ("group5", False), ("group4", False), ("group4", True), ("group5", True)])
def test_generated_field_counts_the_same_at_two_pixel_sizes(scenario, realistic):
    # The same generated field (1024² px at 0.065 µm/px) counted as rendered and
    # downscaled to 0.25 µm/px: the same nuclei, means within 5 % of each other.
    # Realistic group5 (faint grey silver, 19 % at 0.42 x the peak OD), seed 1: HER2
    # 2.14 at both (1.91 at 0.25 before branch silver025's pixel-size correction of
    # the silver threshold), CEP17 2.00 -> 2.09, ratio 1.07 -> 1.02 (-4.3 %).
    fine, coarse = _generated_means(scenario, realistic=realistic)
    assert coarse["n"] >= 0.9 * fine["n"] and fine["n"] >= 10
    for key in ("her2", "cep17", "ratio"):
        assert abs(coarse[key] - fine[key]) <= 0.05 * fine[key], (key, fine, coarse)


def test_generated_amplified_clusters_count_the_same_at_two_pixel_sizes():
    # Branch ishscale: 12.86 at 0.065, 10.95 at 0.25 µm/px (12.95 true): the opaque core
    # of an aggregate averaged with its surround lost its dense-silver area credit. Branch
    # amp: the opaque transmittance rises with the pixel (count.SILVER_OPAQUE_CORE_UM).
    fine, coarse = _generated_means("amplified", realistic=True)
    assert abs(coarse["her2"] - fine["her2"]) <= 0.1 * fine["her2"], (fine, coarse)
