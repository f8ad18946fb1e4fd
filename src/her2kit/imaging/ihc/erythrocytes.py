"""Erythrocytes (red blood cells) told apart from DAB, so that they are never scored.

Red cells are not tumour cells, yet a blood-filled vessel reads as "stained cells" to a
per-cell scorer: on the shared GEA scans the red cells are neutral grey-olive (OD
direction about 0.57 / 0.60 / 0.57 in R / G / B), and a neutral colour splits into about
0.56 OD of hematoxylin and 0.49 OD of DAB per unit OD with the Ruifrok & Johnston vectors.
The detector outlines a red cell as a pale "nucleus" and the neighbouring red cells as its
"membrane" (issue 10: in the 2+ core ``2_726fa489`` 65 of 166 stained cells at one fit).

DAB is brown: it absorbs blue most (OD vector 0.27 / 0.57 / 0.78), and a hematoxylin and
DAB mixture absorbs red least, so neither is neutral; hemoglobin (the Soret and Q bands,
415 and 540–575 nm) absorbs blue and green, and the processed red cells of these scans
absorb all three channels about alike. The colour measure here is the **neutrality**
``min(OD_R, OD_G, OD_B) / max(OD_R, OD_G, OD_B)`` on the 1 µm geometry grid (block-mean
intensity, then OD): 1 for grey, 0.35 for the standard DAB vector, 0.41 for hematoxylin.

Neutral is not enough on its own: pale open-chromatin tumour nuclei and the faint, grey-brown
membranes of some 1+ cells are nearly as neutral as red cells
(``tests/data/erythrocyte_marks/README.md``). So a *cell* is taken for red cells only when
both its parts are: :func:`erythrocyte_cells` drops a cell when most of its "nucleus" is
neutral (red cells are anucleate: the detector's nucleus is then a red cell, not
hematoxylin-blue chromatin) **and** most of the DAB outside its nucleus zone (what the
membrane measures read) lies on neutral pixels. A tumour cell keeps either its blue
nucleus or its brown membrane; a "cell" drawn on a vessel's red cells has neither.

The constants were fitted on a hand-marked reference of our own (points on red cells and
on stained tumour membranes in seven GEA cores and the scikit-image IHC sample; not an
expert's marks), never on the cores' scores: ``tests/data/erythrocyte_marks/``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from her2kit.imaging.color.od import IHC_DARKEST_INTENSITY, check_background_rgb
from her2kit.imaging.filters import block_mean

__all__ = [
    "ERYTHROCYTE_CELL_SHARE",
    "ERYTHROCYTE_MIN_NEUTRALITY",
    "ERYTHROCYTE_MIN_OD",
    "ErythrocyteCells",
    "erythrocyte_cells",
    "erythrocyte_mask",
    "grid_od_rgb",
]

#: Smallest neutrality (min / max of the R, G, B OD) of an erythrocyte-coloured grid pixel.
#: Fitted on the hand-marked reference (tests/data/erythrocyte_marks: red cells against
#: stained tumour membranes, the best balanced accuracy, 0.930, is reached at 0.85 only).
ERYTHROCYTE_MIN_NEUTRALITY = 0.85
#: Smallest OD (Euclidean norm over R, G, B) at which a grid pixel's colour is read: below
#: it JPEG noise (± 1–2 levels, ± 0.003 OD per channel on a 16-pixel block) moves the
#: neutrality by more than ± 0.05. Not fitted.
ERYTHROCYTE_MIN_OD = 0.10
#: A cell is dropped when at least this share of its nucleus pixels, and of its
#: membrane-zone DAB, is on erythrocyte-coloured pixels. A majority rule, not fitted.
ERYTHROCYTE_CELL_SHARE = 0.5


def grid_od_rgb(rgb, factor: int, *, background_rgb=(255, 255, 255)) -> np.ndarray:
    """Base-10 OD per channel of the block-mean intensity on a ``factor`` grid.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Brightfield image, channel last.
    factor : int
        Block side in pixels (the geometry grid's ``block_factor``).
    background_rgb : float or sequence of 3 floats, optional
        Glass intensity ``I0`` per channel (8-bit units).

    Returns
    -------
    ndarray of float32, shape (ceil(rows / factor), ceil(cols / factor), 3)
        ``log10(I0 / mean I)`` per channel, the intensity floored at the IHC darkest value.
    """
    bg = check_background_rgb(background_rgb).astype(np.float32)
    rgb = np.asarray(rgb)
    mean = np.stack([block_mean(rgb[..., c], factor) for c in range(3)], axis=-1)
    return np.log10(bg / np.maximum(mean, np.float32(IHC_DARKEST_INTENSITY)))


def erythrocyte_mask(od_rgb, *, min_od: float = ERYTHROCYTE_MIN_OD,
                     min_neutrality: float = ERYTHROCYTE_MIN_NEUTRALITY) -> np.ndarray:
    """Pixels coloured like the red cells of these scans: neutral and dense enough to read.

    Parameters
    ----------
    od_rgb : ndarray of float, shape (..., 3)
        Base-10 OD per channel (e.g. :func:`grid_od_rgb`).
    min_od : float, optional
        Smallest OD norm (Euclidean over R, G, B) whose colour is read.
    min_neutrality : float, optional
        Smallest ``min / max`` of the three channel ODs (0–1; 1 is grey).

    Returns
    -------
    ndarray of bool, shape ``od_rgb.shape[:-1]``

    Examples
    --------
    >>> import numpy as np
    >>> grey, dab = np.full(3, 0.3), 0.5 * np.array([0.27, 0.57, 0.78])
    >>> erythrocyte_mask(np.stack([grey, dab])).tolist()
    [True, False]
    """
    od = np.asarray(od_rgb, dtype=np.float32)
    # Channel by channel: numpy's reductions over a trailing axis of 3 are ~10x slower.
    r, g, b = od[..., 0], od[..., 1], od[..., 2]
    lo = np.minimum(np.minimum(r, g), b)
    hi = np.maximum(np.maximum(r, g), b)
    dense = r * r + g * g + b * b >= np.float32(min_od) ** 2
    return dense & (lo >= np.float32(min_neutrality) * hi) & (hi > 0)


@dataclass(frozen=True, eq=False)
class ErythrocyteCells:
    """Which cells :func:`erythrocyte_cells` took for red cells.

    Attributes
    ----------
    excluded : ndarray of bool, shape (n_cells,)
        Cell ``i + 1`` is red cells, not a tumour cell.
    share : ndarray of float32, shape (n_cells,)
        Share (0–1) of the cell's membrane-zone DAB OD on erythrocyte-coloured pixels
        (0 where the zone holds no DAB).
    nucleus_share : ndarray of float32, shape (n_cells,)
        Share (0–1) of the cell's nucleus pixels that are erythrocyte-coloured (0 for a
        cell without nucleus pixels).
    """

    excluded: np.ndarray
    share: np.ndarray
    nucleus_share: np.ndarray

    @property
    def n_excluded(self) -> int:
        """Number of cells excluded."""
        return int(self.excluded.sum())


def erythrocyte_cells(cell_labels, nuclei_labels, nucleus_zone, dab_od, erythrocyte,
                      n_cells: int, *, min_share: float = ERYTHROCYTE_CELL_SHARE
                      ) -> ErythrocyteCells:
    """Cells whose nucleus and membrane DAB lie mostly on erythrocyte-coloured pixels.

    Parameters
    ----------
    cell_labels : ndarray of int, shape (rows, cols)
        Cells labelled 1..``n_cells`` (0 background), on one grid.
    nuclei_labels : ndarray of int, shape (rows, cols)
        Their nuclei (or markers), same labels, same grid.
    nucleus_zone : ndarray of bool, shape (rows, cols)
        Nuclei and their margin, left out as the membrane measures leave them out.
    dab_od : ndarray of float, shape (rows, cols)
        DAB OD on the same grid (negative values count as 0).
    erythrocyte : ndarray of bool, shape (rows, cols)
        :func:`erythrocyte_mask` on the same grid.
    n_cells : int
        Number of cells.
    min_share : float, optional
        Share (0–1) of the nucleus pixels and of the zone's DAB on erythrocyte pixels from
        which a cell is dropped (both must reach it).

    Returns
    -------
    ErythrocyteCells

    Examples
    --------
    >>> import numpy as np
    >>> cells = np.array([[1, 1, 1, 2, 2, 2]]); nuclei = np.array([[1, 0, 0, 2, 0, 0]])
    >>> zone = nuclei > 0; dab = np.full((1, 6), 0.2)
    >>> red = np.array([[True, True, True, False, True, True]])  # cell 2: a blue nucleus
    >>> erythrocyte_cells(cells, nuclei, zone, dab, red, 2).excluded.tolist()
    [True, False]
    """
    lab = np.where(np.asarray(nucleus_zone, bool), 0, np.asarray(cell_labels)).ravel()
    d = np.maximum(np.asarray(dab_od, np.float64), 0).ravel()
    red = np.asarray(erythrocyte, bool).ravel()
    total = np.bincount(lab, weights=d, minlength=n_cells + 1)[1 : n_cells + 1]
    on_red = np.bincount(lab, weights=d * red, minlength=n_cells + 1)[1 : n_cells + 1]
    share = np.divide(on_red, total, out=np.zeros(n_cells), where=total > 0)
    nl = np.asarray(nuclei_labels).ravel()
    n_px = np.bincount(nl, minlength=n_cells + 1)[1 : n_cells + 1]
    n_red = np.bincount(nl, weights=red, minlength=n_cells + 1)[1 : n_cells + 1]
    nuc = np.divide(n_red, n_px, out=np.zeros(n_cells), where=n_px > 0)
    return ErythrocyteCells((share >= min_share) & (nuc >= min_share),
                            share.astype(np.float32), nuc.astype(np.float32))
