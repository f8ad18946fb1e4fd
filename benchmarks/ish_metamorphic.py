"""ISH metamorphic check at a scanner's sampling: does the count hold when the camera does not?

Run from the repository root::

    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_metamorphic        # tuning fields

The unseen Dual ISH regions of issue 11 are counted as ``count-ish REGION --assay dual-ish
--mpp 0.25``: another scanner, another white balance, tone curve, focus and JPEG. Each
tuning field of the hand reference (tests/data/ish_reference: DISH1 and DISH3; pixel size
ASSUMED 0.065 µm/px) is brought to 0.25 µm/px (``benchmarks.ish_scale.downscale``),
transformed as another camera would record it — white balance ±10 % per channel,
exposure ±15 %, tone curve (gamma 0.8 and 1.25), a softer focus (Gaussian blur of 0.5 px =
0.125 µm), a pixel size 20 % finer or coarser (declared as such) — and then saved as a
JPEG at quality 80, 4:2:0 (what a 40x scanner's tiles hold), read back with its header as
``count-ish FILE.jpg`` does. Two more rows: the same JPEG at quality 70, and the quality-80
JPEG passed as pixels without its header (a PNG or TIFF exported from a JPEG source:
``count-ish`` then sees blockiness but not the 4:2:0 colour). Per row: the counter's ratio over the
found reference nuclei against the hand ratio (issue 11's target: same side of 2.0 and
within 15 %), its whole-field ratio and how many nuclei it counted. The hand ratios are
the reference; the baseline is printed too, so that a row shows both what the
transformation moved and where the count stands.

Only the tuning fields are used; held-back fields are never read here. Real data is read
in place from ``../shared/data/real`` and never copied.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks.ish_accuracy import DISH_PIXEL_SIZE_UM, REAL
from benchmarks.ish_reference import TUNING_FIELDS, compare_field, ratio_agrees, read_reference

#: The sampling the unseen regions are counted at (µm/px) and the baseline's JPEG quality.
BASE_PIXEL_SIZE_UM = 0.25
BASE_JPEG_QUALITY = 80
TRANSFORMS = ("baseline", "wb_1.1_1.0_0.9", "wb_0.9_1.0_1.1", "bright_+15", "bright_-15",
              "gamma_0.8", "gamma_1.25", "blur_0.5", "scale_0.8", "scale_1.2", "jpeg_q70",
              "no_header")


def transform(rgb: np.ndarray, name: str, pixel_size_um: float) -> tuple[np.ndarray, float]:
    """The transformed image and its declared pixel size (µm/px); ``blur_S`` is a Gaussian
    blur of S px, the others as in :func:`benchmarks.ihc_metamorphic.transform`."""
    if name in ("baseline", "jpeg_q70", "no_header"):  # the JPEG step differs (see save)
        return rgb, pixel_size_um
    if name.startswith("blur_"):
        from scipy import ndimage as ndi

        s = float(name[5:])
        out = ndi.gaussian_filter(rgb.astype(np.float32), sigma=(s, s, 0))
        return np.clip(np.rint(out), 0, 255).astype(np.uint8), pixel_size_um
    from benchmarks.ihc_metamorphic import transform as camera

    return camera(rgb, name, pixel_size_um)


def baseline(name: str) -> tuple[np.ndarray, float, float]:
    """Field ``name`` at :data:`BASE_PIXEL_SIZE_UM`, lossless; (image, pixel size, factor
    from the native image)."""
    from PIL import Image

    from benchmarks.ish_scale import downscale

    rgb = np.asarray(Image.open(REAL / "her2_fish_dish_pcm" / "DISH" / f"{name}.jpg")
                     .convert("RGB"))
    factor = DISH_PIXEL_SIZE_UM / BASE_PIXEL_SIZE_UM
    return downscale(rgb, factor), BASE_PIXEL_SIZE_UM, factor


def save(rgb: np.ndarray, name: str):
    """The transformed image through the scanner's JPEG: (pixels, the header as
    ``her2kit.io.fish.read_jpeg_source`` reads it, or None for ``no_header``)."""
    from benchmarks.ish_scale import jpeg_round_trip

    out, header = jpeg_round_trip(rgb, 70 if name == "jpeg_q70" else BASE_JPEG_QUALITY)
    return out, None if name == "no_header" else header


def count(img: np.ndarray, pixel_size_um: float, name: str, factor: float, *,
          jpeg_source=None) -> dict:
    """The count of ``img`` against the hand reference of field ``name`` scaled by
    ``factor`` (native px → ``img`` px)."""
    from benchmarks.ish_scale import _scaled_reference
    from her2kit.imaging.ish import count_brightfield_ish

    res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=pixel_size_um,
                                jpeg_source=jpeg_source)
    ref = _scaled_reference(read_reference(name), factor, img.shape)
    m = compare_field(ref, res.labels, res.nuclei)
    flags = tuple(res.image_flags) + (("chroma_adapted",) if res.parameters.get(
        "jpeg_chroma_adapted") else ())
    return dict(m, field_ratio=res.ratio, counted_all=res.n_counted, flags=flags)


def run(fields=TUNING_FIELDS) -> list[dict]:
    """Print one row per field and transformation; return the rows."""
    def f(v):
        return "-" if v is None else f"{v:.2f}"

    print(f"# ISH counts under camera changes at {BASE_PIXEL_SIZE_UM} µm/px "
          f"(each row saved as JPEG {BASE_JPEG_QUALITY} 4:2:0; tuning fields; native 0.065 µm/px "
          "ASSUMED)")
    print("| field | transformation | µm/px | found / counted | HER2 ±1 | CEP17 ±1 | "
          "found ratio (hand) | ratio ok | field ratio (nuclei) | flags | s |")
    print("|---|---|---:|---|---:|---:|---|---|---|---|---:|")
    rows = []
    for name in fields:
        base, px, factor = baseline(name)
        for t in TRANSFORMS:
            t0 = time.perf_counter()
            img, tpx = transform(base, t, px)
            img, header = save(img, t)
            m = count(img, tpx, name, factor * px / tpx, jpeg_source=header)
            ok = ratio_agrees(m["ratio"], m["ref_ratio"])
            print(f"| {name} | {t} | {tpx:.3f} | {m['found']}/{m['counted']} | "
                  f"{m['her2_ok']}/{m['n_plain']} | {m['cep17_ok']}/{m['n_plain']} | "
                  f"{f(m['ratio'])} ({f(m['ref_ratio'])}) | {'yes' if ok else 'NO'} | "
                  f"{f(m['field_ratio'])} ({m['counted_all']}) | "
                  f"{', '.join(m['flags']) or '-'} | {time.perf_counter() - t0:.1f} |",
                  flush=True)
            rows.append(dict(field=name, transform=t, ratio_ok=ok, **m))
    n_ok = sum(r["ratio_ok"] for r in rows)
    print(f"\nfound ratio on the hand ratio's side of 2.0 and within 15 %: {n_ok} of "
          f"{len(rows)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ish_metamorphic",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args(argv)
    if not (REAL / "her2_fish_dish_pcm").is_dir():
        print(f"real data folder absent: {REAL / 'her2_fish_dish_pcm'}", file=sys.stderr)
        return 2
    run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
