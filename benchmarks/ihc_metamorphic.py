"""IHC metamorphic check on the shared real images (issue 10): does the score hold?

Run from the repository root::

    python -m benchmarks.ihc_metamorphic            # the table in benchmarks/README.md

Each image is a 1024² crop (GEA cores at 0.25 µm/px, gastric rules; BCI tiles at
0.5 µm/px, breast rules), scored with the default calibration (``score-ihc
--calibration default``); each transformation is scored again and a changed score must
carry a quality flag that explains it: a white-point flag (the glass saturates or is
missing) or ``score_near_cutoff`` (the deciding share within ±2 points of the guideline's
10 % cut, :func:`her2kit.pipelines.ihc.near_cutoff`), always on the *transformed* result.
:data:`CROPS` and :func:`transform` are shared with
``tests/imaging/ihc/test_metamorphic_real.py``.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
GEA = "her2_ihc_gea_tma_bozeklab"
BCI = "her2_ihc_bci_sample_mdopx"
#: (folder, file, row, col, µm per pixel, tissue): 1024² crops with tissue and glass edge.
CROPS = (
    (GEA, "3_a1f1510c-b91e-4995-ba59-596ca7ebb019.jpg", 2048, 512, 0.25, "gastric"),
    (GEA, "0_a6d0d6a6-4dc6-4368-9d69-8ded066cf60e.jpg", 2048, 512, 0.25, "gastric"),
    (GEA, "2_0123a214-85b7-4804-86db-474b05a4ae57.jpg", 2048, 512, 0.25, "gastric"),
    (BCI, "valB/00672_test_3+.png", 0, 0, 0.5, "breast"),
    (BCI, "valB/00901_test_1+.png", 0, 0, 0.5, "breast"),
)
TRANSFORMS = ("identity", "wb_1.1_1.0_0.9", "wb_0.9_1.0_1.1", "bright_+15", "bright_-15",
              "jpeg_q70", "scale_0.8", "scale_1.2", "gamma_0.8", "gamma_1.25")


def transform(rgb: np.ndarray, name: str, pixel_size_um: float) -> tuple[np.ndarray, float]:
    """The transformed image and its pixel size (µm)."""
    from PIL import Image

    x = rgb.astype(np.float32)
    if name == "identity":
        return rgb, pixel_size_um
    if name.startswith("wb_"):
        gains = np.array([float(v) for v in name[3:].split("_")], np.float32)
        return np.clip(x * gains, 0, 255).round().astype(np.uint8), pixel_size_um
    if name.startswith("bright_"):
        k = 1 + float(name[7:]) / 100
        return np.clip(x * k, 0, 255).round().astype(np.uint8), pixel_size_um
    if name.startswith("gamma_"):
        g = float(name[6:])
        return (255 * (x / 255) ** g).round().astype(np.uint8), pixel_size_um
    if name == "jpeg_q70":
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=70)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), pixel_size_um
    if name.startswith("scale_"):
        k = float(name[6:])
        h, w = rgb.shape[:2]
        out = Image.fromarray(rgb).resize((round(w * k), round(h * k)), Image.BICUBIC)
        return np.asarray(out), pixel_size_um / k
    raise ValueError(name)


def load_crop(folder: str, file: str, r0: int, c0: int) -> np.ndarray:
    from her2kit.io.images import read_image

    img = read_image(REAL / folder / file).image
    return np.ascontiguousarray(img[r0 : r0 + 1024, c0 : c0 + 1024])


def score(rgb: np.ndarray, pixel_size_um: float, tissue: str):
    """``(score, flags, near)`` with the default calibration's options for ``tissue``; the flags
    are the image's plus ``score_near_cutoff`` as ``score-ihc`` raises it, ``near`` its
    entries (:func:`her2kit.pipelines.ihc.near_cutoff`)."""
    from her2kit.guideline import IhcPercent, ihc_from_percent
    from her2kit.imaging.ihc.score import score_ihc_image
    from her2kit.io.calibration import read_calibration
    from her2kit.pipelines.calibrate import calibration_from_dict, options_from_calibration
    from her2kit.pipelines.ihc import NEAR_CUTOFF_FLAG, guideline_percent, near_cutoff

    cal = calibration_from_dict(read_calibration(None))
    r = score_ihc_image(rgb, pixel_size_um=pixel_size_um,
                        options=options_from_calibration(cal, tissue))
    handed, _ = guideline_percent(r.percent_all)
    handed = {k: round(v, 2) for k, v in handed.items()}  # as score-ihc hands them over
    s, rule, _ = ihc_from_percent(IhcPercent(**handed))
    near = near_cutoff(handed, rule)
    return s, tuple(r.quality.flags) + ((NEAR_CUTOFF_FLAG,) if near else ()), near


def main() -> None:
    print(f"her2kit IHC metamorphic check, {time.strftime('%Y-%m-%d')}")
    t0 = time.perf_counter()
    changed = unexplained = total = near_base = 0
    print("| image | " + " | ".join(TRANSFORMS) + " |")
    print("|---|" + "---|" * len(TRANSFORMS))
    for folder, file, r0, c0, p, tissue in CROPS:
        if not (REAL / folder / file).is_file():
            print(f"not run: {folder}/{file} absent")
            continue
        crop = load_crop(folder, file, r0, c0)
        base, _, base_near = score(crop, p, tissue)
        near_base += bool(base_near)
        cells, notes = [], []
        for name in TRANSFORMS:
            img, pt = transform(crop, name, p)
            s, flags, near = score(img, pt, tissue)
            total += name != "identity"
            why = [f for f in flags if f.startswith("white_point") or f == "score_near_cutoff"]
            if s != base:
                changed += 1
                unexplained += not why
                notes += [f"{name}: {n['percent']} {n['value_pct']:g}% (cut {n['cut_pct']:g}"
                          f" ± {n['margin_pct']:g}, for {n['cut_for']})" for n in near]
            cells.append(s + (f" ({', '.join(why)})" if s != base and why else
                              (" UNEXPLAINED" if s != base else "")))
        print(f"| {Path(file).name[:14]} | " + " | ".join(cells) + " |")
        if base_near or notes:
            print(f"  {Path(file).name[:14]}: base near cut-off "
                  + (", ".join(f"{n['percent']} {n['value_pct']:g}%" for n in base_near)
                     or "no") + ("; " + "; ".join(notes) if notes else ""))
    print(f"{changed} of {total} transformed images change score; {unexplained} without "
          f"a flag; {near_base} base images carry score_near_cutoff "
          f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
