"""An audit overlay for ISH counts: a technologist checks the count by eye.

Drawn on the image itself (FISH composite or brightfield RGB):

* counted nuclei: solid yellow outline and an ``H/C`` label (``H`` for single probe);
* excluded nuclei: dashed grey outline, no label (the reason is in the table);
* every HER2 signal: a ring (red on FISH, orange on brightfield);
* every CEP17 signal: a ring (green on FISH, cyan on brightfield);
* every cluster: a larger magenta ring with its estimated copies as ``xN``.

A coarse image (e.g. a 40x scan at 0.25 µm/px, where a nucleus is ~36 px) is enlarged by a
whole factor first (:func:`overlay_scale`), so that rings and labels do not hide the dots
they mark.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
from PIL import Image, ImageDraw
from skimage.segmentation import find_boundaries

from her2kit.errors import ImageInputError
from her2kit.imaging.ish.channels import FishImage
from her2kit.imaging.ish.results import IshImageResult

__all__ = ["OVERLAY_TARGET_UM_PER_PX", "fish_display_rgb", "overlay_scale",
           "render_ish_overlay"]

#: Display pixel size the overlay enlarges a coarse image to, at most (µm per display px):
#: at 0.1 µm/px a 0.4 µm dot spans 4 px and a 9 µm nucleus 90 px, enough for a ring
#: around each dot and an ``H/C`` label that leaves the dots visible.
OVERLAY_TARGET_UM_PER_PX = 0.1
#: The enlarged overlay stays below this many pixels (memory; a whole-field PNG).
OVERLAY_MAX_PX = 40_000_000

_COUNTED = (255, 230, 0)
_EXCLUDED = (150, 150, 150)
_CLUSTER = (255, 0, 255)
_FISH_COLOURS = MappingProxyType({"her2": (255, 60, 60), "cep17": (60, 255, 60)})
_BF_COLOURS = MappingProxyType({"her2": (255, 140, 0), "cep17": (0, 190, 255)})


def fish_display_rgb(fish: FishImage, *, percentile: float = 99.8) -> np.ndarray:
    """Composite a FISH image for display: HER2 red, CEP17 green, DAPI blue.

    Each channel is scaled linearly from its 1st percentile to ``percentile``
    (display only; counting never uses these values).

    Returns
    -------
    (rows, cols, 3) ndarray of uint8
    """
    out = []
    for ch in (fish.her2, fish.cep17, fish.dapi):
        lo, hi = np.percentile(ch, [1.0, percentile])
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        out.append(np.clip((ch - lo) * scale, 0, 255))
    return np.stack(out, axis=-1).astype(np.uint8)


def overlay_scale(shape_px, pixel_size_um: float, *,
                  target_um_per_px: float = OVERLAY_TARGET_UM_PER_PX,
                  max_px: int = OVERLAY_MAX_PX) -> int:
    """The whole factor an overlay enlarges an image by.

    Parameters
    ----------
    shape_px : (rows, cols)
        The image size, px.
    pixel_size_um : float
        The image's pixel size, µm/px.
    target_um_per_px : float, optional
        The display pixel size to reach at most, µm/px (:data:`OVERLAY_TARGET_UM_PER_PX`).
    max_px : int, optional
        The enlarged image stays at or below this many pixels (:data:`OVERLAY_MAX_PX`).

    Returns
    -------
    int
        ``ceil(pixel_size_um / target_um_per_px)`` (1 for a fine image), lowered until the
        enlarged image fits ``max_px``; at least 1.

    Examples
    --------
    >>> overlay_scale((312, 416), 0.25), overlay_scale((1200, 1600), 0.065)
    (3, 1)
    """
    if not (np.isfinite(pixel_size_um) and pixel_size_um > 0):
        raise ImageInputError(f"pixel_size_um must be > 0, got {pixel_size_um!r}",
                              field="pixel_size_um")
    k = max(1, int(np.ceil(pixel_size_um / target_um_per_px - 1e-9)))
    n = int(shape_px[0]) * int(shape_px[1])
    while k > 1 and n * k * k > max_px:
        k -= 1
    return k


def render_ish_overlay(
    image: np.ndarray | FishImage,
    result: IshImageResult,
    *,
    ring_radius_px: int | None = None,
    label: bool = True,
    scale: int | None = None,
) -> np.ndarray:
    """Draw nuclei, signals, clusters and per-nucleus counts over the image.

    Parameters
    ----------
    image : FishImage or (rows, cols, 3) uint8 ndarray
        The image that was counted (a FISH image is composited by
        :func:`fish_display_rgb`).
    result : IshImageResult
        From :func:`~her2kit.imaging.ish.count_fish` or
        :func:`~her2kit.imaging.ish.count_brightfield_ish` on ``image``.
    ring_radius_px : int, optional
        Radius of the signal rings, display px. Default: 2.5 spot sigmas, at least 3 px.
    label : bool, optional
        Write ``H/C`` on each counted nucleus.
    scale : int, optional
        Enlarge the image by this whole factor (nearest neighbour: each pixel a
        ``scale`` x ``scale`` block) before drawing. Default: :func:`overlay_scale` of the
        result's pixel size (1 when it has none).

    Returns
    -------
    (rows x scale, cols x scale, 3) ndarray of uint8
        A new array; the input is not modified.

    Raises
    ------
    ImageInputError
        When the image size differs from the result's label image.
    """
    if isinstance(image, FishImage):
        rgb = fish_display_rgb(image)
        colours = _FISH_COLOURS
    else:
        rgb = np.asarray(image)
        if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
            raise ImageInputError(
                f"expected (rows, cols, 3) uint8, got {rgb.shape} {rgb.dtype}", field="image"
            )
        colours = _FISH_COLOURS if result.assay == "fish" else _BF_COLOURS
    labels = result.labels
    if rgb.shape[:2] != labels.shape:
        raise ImageInputError(
            f"image is {rgb.shape[:2]} px but the result's labels are {labels.shape}",
            field="image",
        )
    if scale is None:
        px = result.parameters.get("pixel_size_um")
        scale = 1 if px is None else overlay_scale(labels.shape, float(px))
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise ImageInputError(f"scale must be a whole number >= 1, got {scale!r}",
                              field="scale")
    k = int(scale)
    if k > 1:
        rgb = np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)
        labels = np.repeat(np.repeat(labels, k, axis=0), k, axis=1)
    out = rgb.copy()
    included = np.zeros(int(labels.max()) + 1, bool)
    for n in result.nuclei:
        included[n.nucleus_id] = n.included
    bounds = find_boundaries(labels, mode="inner")
    counted_b = bounds & included[labels]
    rr, cc = np.indices(labels.shape, sparse=True)
    dashed = bounds & ~included[labels] & (((rr + cc) // 3) % 2 == 0)
    out[counted_b] = _COUNTED
    out[dashed] = _EXCLUDED

    im = Image.fromarray(out)
    draw = ImageDraw.Draw(im)
    sigma = result.her2.detection.sigma_px * k
    r = ring_radius_px if ring_radius_px is not None else max(3, round(2.5 * sigma))

    def at(v):  # an image coordinate (px centre) on the enlarged image
        return (v + 0.5) * k - 0.5

    for probe in (result.her2, result.cep17):
        if probe is None:
            continue
        col = colours[probe.probe]
        for (y, x), inc in zip(at(probe.detection.coords_px), probe.in_cluster, strict=True):
            if inc:
                continue  # drawn as part of its cluster
            draw.ellipse([x - r, y - r, x + r, y + r], outline=col)
        for c in probe.clusters:
            rc, cy, cx = 2 * r, at(c.row), at(c.col)
            draw.ellipse([cx - rc, cy - rc, cx + rc, cy + rc], outline=_CLUSTER, width=2)
            draw.text((cx + rc + 1, cy - rc), f"x{c.copies}", fill=_CLUSTER)
    if label:
        for n in result.nuclei:
            if not n.included:
                continue
            text = f"{n.her2}/{n.cep17}" if result.probe == "dual" else f"{n.her2}"
            x0, y0 = at(n.col) - 3 * len(text), at(n.row) - 5
            box = draw.textbbox((x0, y0), text)
            draw.rectangle(box, fill=(0, 0, 0))
            draw.text((x0, y0), text, fill=(255, 255, 255))
    return np.asarray(im, dtype=np.uint8).copy()
