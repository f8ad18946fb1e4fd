"""Shared test fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
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


# --------------------------------------------------------------------------- IHC slides
#: One real HER2 IHC core per score (../shared/data/real/her2_ihc_gea_tma_bozeklab,
#: LABELS.csv): the first usable core of each score (gastro-oesophageal, GEA criteria).
IHC_CORES = {
    "0": "0_9b0f64d1-6785-49d9-b279-004b2deb8478.jpg",
    "1+": "1_154ae963-bd2a-4a12-8fa9-815ba13922ae.jpg",
    "2+": "2_0123a214-85b7-4804-86db-474b05a4ae57.jpg",
    "3+": "3_a1f1510c-b91e-4995-ba59-596ca7ebb019.jpg",
}
#: µm/px of the cores: SOURCE.md's estimate (~1.2-1.5 mm cores over 5468 px, about 40x);
#: the repository does not document it.
IHC_CORE_PIXEL_SIZE_UM = 0.25


@pytest.fixture(scope="session")
def _core_slide_cache(tmp_path_factory) -> tuple[Path, dict]:
    return tmp_path_factory.mktemp("core-slides"), {}


@pytest.fixture
def ihc_core_slide(real_data, _core_slide_cache) -> Callable[..., Path]:
    """Return a function writing a real HER2 IHC core as a JPEG-tiled slide file.

    ``ihc_core_slide(score="3+", *, flavour="svs", crop_px=None, tile_px=256)`` writes the
    core of :data:`IHC_CORES` for ``score`` (or a core file name) with
    :func:`her2kit.io.slide_writer.write_slide` (flavour ``svs``, ``tiff`` or ``ome``; the
    central ``crop_px`` x ``crop_px`` px only, when given) at
    :data:`IHC_CORE_PIXEL_SIZE_UM`, and returns its path. Files are written once per
    session and argument set, and must not be modified.
    """
    from PIL import Image

    from her2kit.io.slide_writer import write_slide

    folder, cache = _core_slide_cache

    def _make(score: str = "3+", *, flavour: str = "svs", crop_px: int | None = None,
              tile_px: int = 256) -> Path:
        name = IHC_CORES.get(score, score)
        key = (name, flavour, crop_px, tile_px)
        if key not in cache:
            with Image.open(real_data("her2_ihc_gea_tma_bozeklab") / name) as im:
                rgb = np.asarray(im.convert("RGB"))
            if crop_px is not None:
                r0, c0 = (rgb.shape[0] - crop_px) // 2, (rgb.shape[1] - crop_px) // 2
                rgb = np.ascontiguousarray(rgb[r0:r0 + crop_px, c0:c0 + crop_px])
            suffix = {"svs": ".svs", "tiff": ".tif", "ome": ".ome.tif"}[flavour]
            path = folder / f"core-{len(cache)}{suffix}"
            write_slide(path, rgb, pixel_size_um=IHC_CORE_PIXEL_SIZE_UM, flavour=flavour,
                        tile_px=tile_px)
            cache[key] = path
        return cache[key]

    return _make


@pytest.fixture(scope="session")
def synthetic_ihc_slide(tmp_path_factory) -> Callable[..., Path]:
    """Return a function writing a generated HER2 IHC slide (generic tiled TIFF).

    ``synthetic_ihc_slide(scores=("2+",), *, region_px=3000, margin_px=400, seed=0)``:
    regions of :func:`her2kit.synthetic.ihc.generate_ihc_region` (``region_px`` square at
    0.25 µm/px, one per score, side by side) on glass (RGB 244) with ``margin_px`` of
    glass around; written once per session and argument set; must not be modified.
    """
    from her2kit.io.slide_writer import write_slide
    from her2kit.synthetic.ihc import generate_ihc_region

    folder = tmp_path_factory.mktemp("synthetic-slides")
    cache: dict = {}

    def _make(scores=("2+",), *, region_px: int = 3000, margin_px: int = 400,
              seed: int = 0, flavour: str = "tiff") -> Path:
        key = (tuple(scores), region_px, margin_px, seed, flavour)
        if key not in cache:
            h, w = region_px + 2 * margin_px, len(scores) * region_px + 2 * margin_px
            img = np.full((h, w, 3), 244, np.uint8)
            for i, score in enumerate(scores):
                r = generate_ihc_region(shape_px=(region_px, region_px), pixel_size_um=0.25,
                                        target_score=score, seed=seed + i)
                x0 = margin_px + i * region_px
                img[margin_px:margin_px + region_px, x0:x0 + region_px] = r.image
            path = folder / f"slide-{len(cache)}.{'svs' if flavour == 'svs' else 'tif'}"
            write_slide(path, img, pixel_size_um=0.25, flavour=flavour)
            cache[key] = path
        return cache[key]

    return _make
