"""``--mpp auto`` on the shared real images (issue 10): estimated versus known pixel size.

Run from the repository root::

    PYTHONPATH=src python -m benchmarks.mpp_auto       # the table in benchmarks/README.md

Known pixel sizes: the CMU-1 small region (scanner-recorded 0.499 µm/px, read through
its DICOM pyramid at levels 0-4, 0.499-7.96 µm/px). Assumed ones (weaker evidence: no
file or documentation gives them): the MICCAI CPM tiles (20x / 40x per their README,
taken as 0.5 / 0.25 µm/px), the GEA cores (0.25, a 1536² central crop), the BCI tiles
(0.5), the DeepLIIF tiles (0.25). The hematoxylin is separated with the standard H-DAB
vectors (also for the H&E images: the estimator reads nuclei only).
:func:`cases` is shared with ``tests/imaging/segment/test_pixel_size_real.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"


def _dicom(level: int):
    from her2kit.io.slides import open_slide

    first = sorted((REAL / "wsi_real_small" / "dicom_cmu1_small_region").glob("*.dcm"))[0]
    with open_slide(first) as slide:
        lv = slide.levels[level]
        # Whole 240-px tiles only: the converted pyramid's partial edge tiles do not decode.
        w, h = ((lv.width // 240) * 240, (lv.height // 240) * 240) if lv.width > 240 \
            else (lv.width, lv.height)
        return slide.read_region((0, 0), (w, h), level=level)[..., :3], lv.pixel_size_um


def cases():
    """``(name, µm/px, evidence, loader)`` for every image of the table; ``loader()``
    returns the uint8 RGB array."""
    from her2kit.io.images import read_image

    def file(path):
        return lambda: read_image(path).image[..., :3]

    out = []
    for level in range(5):
        mpp = 0.499 * 2 ** level if level else 0.499
        out.append((f"CMU-1 DICOM level {level}", None, "scanner",
                    (lambda lv=level: _dicom(lv)[0]), mpp))
    for f in sorted((REAL / "nuclei_he_miccai_cpm_pengyzhang").glob("image??.png")):
        n = int(f.stem[-2:])
        out.append((f"CPM {f.stem} ({'20x' if n <= 7 else '40x'})", None, "assumed",
                    file(f), 0.5 if n <= 7 else 0.25))
    for f in sorted((REAL / "her2_ihc_gea_tma_bozeklab").glob("*.jpg")):
        out.append((f"GEA {f.name[:10]}", None, "assumed", file(f), 0.25))
    for f in sorted((REAL / "her2_ihc_bci_sample_mdopx" / "valB").glob("*.png")):
        out.append((f"BCI {f.name}", None, "assumed", file(f), 0.5))
    for f in sorted((REAL / "ki67_ihc_nuclei_deepliif" / "test").glob("*.png")):
        out.append((f"DeepLIIF {f.name}", None, "assumed", file(f), 0.25))
    return [(name, mpp, kind, loader) for name, _, kind, loader, mpp in out]


def estimate_rgb(rgb):
    """:func:`~her2kit.imaging.segment.pixel_size.estimate_pixel_size` of an RGB image."""
    from her2kit.imaging.color.hdab import separate_stains
    from her2kit.imaging.segment.pixel_size import estimate_pixel_size

    return estimate_pixel_size(separate_stains(rgb, estimate=False).hematoxylin_od)


def main() -> None:
    print("| image | µm/px (evidence) | estimate | interval | ± | refused? |")
    print("|---|---|---|---|---|---|")
    for name, mpp, kind, loader in cases():
        t0 = time.perf_counter()
        e = estimate_rgb(loader())
        dt = time.perf_counter() - t0
        p = e.pixel_size_um
        est = "–" if p is None else f"{p:.3f} ({p / mpp:.2f}×)"
        iv = "–" if e.low_um is None or e.high_um is None else f"{e.low_um:.3f}–{e.high_um:.3f}"
        rel = e.relative_uncertainty
        pm = "–" if rel == float("inf") else f"{100 * rel:.0f}%"
        refused = "no" if e.usable else f"yes: {e.reason}"
        print(f"| {name} | {mpp:.3f} ({kind}) | {est} | {iv} | {pm} | {refused} | "
              f"<!-- {dt:.1f} s -->", flush=True)


if __name__ == "__main__":
    main()
