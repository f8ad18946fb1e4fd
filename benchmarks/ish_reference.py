"""The hand-counted ISH reference (tests/data/ish_reference) and the comparison rules.

The reference is the project's own counts, made by eye on enlarged crops of the
PCM_fish_dish fields (tests/data/ish_reference/README.md), not an expert's. Each row
is one nucleus: its centre (row, col, px of the full image), HER2 and CEP17 copies,
and whether it holds a cluster. A reference nucleus is matched to the counter's
nucleus whose label contains its centre (none when the centre is background).

Targets (issue 11, held-back part): per nucleus HER2 and CEP17 within
``COUNT_TOLERANCE`` signals for >= 80 % of the nuclei without clusters, cluster
nuclei's HER2 and CEP17 within ``CLUSTER_TOLERANCE`` (relative), and each field's
ratio on the same side of 2.0 as the reference's and within ``RATIO_TOLERANCE``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "ish_reference"
#: Decided before any tuning (README.md there): fields used to choose options, and
#: the held-back fields the issue's targets are reported on.
TUNING_FIELDS = ("DISH1", "DISH3")
HELD_BACK_FIELDS = ("DISH2", "DISH4", "DISH5")
#: The FISH part, split the same way before the counter was run on it (README.md there).
FISH_TUNING_FIELDS = ("FISH1", "FISH2")
FISH_HELD_BACK_FIELDS = ("FISH3", "FISH4", "FISH5")
COUNT_TOLERANCE = 1
CLUSTER_TOLERANCE = 0.30
RATIO_TOLERANCE = 0.15
RATIO_THRESHOLD = 2.0


@dataclass(frozen=True)
class ReferenceNucleus:
    """One hand-counted nucleus: centre (px), copies, and whether it holds a cluster."""

    row: int
    col: int
    her2: int
    cep17: int
    cluster: bool


def read_reference(field: str, folder: Path = REFERENCE_DIR) -> tuple[ReferenceNucleus, ...]:
    """The hand counts of one field (``<folder>/<field>.csv``)."""
    with open(folder / f"{field}.csv", newline="") as fh:
        return tuple(ReferenceNucleus(int(r["row"]), int(r["col"]), int(r["her2"]),
                                      int(r["cep17"]), r["cluster"] == "1")
                     for r in csv.DictReader(fh))


def compare_field(reference, labels: np.ndarray, nuclei) -> dict:
    """Per-nucleus and per-field agreement of a count with the hand reference.

    Parameters
    ----------
    reference : sequence of ReferenceNucleus
    labels : (rows, cols) int ndarray
        The counter's nucleus labels.
    nuclei : sequence of NucleusRecord
        The counter's nuclei (``nucleus_id``, ``her2``, ``cep17``, ``included``).

    Returns
    -------
    dict
        ``n_ref``; ``found`` (centre inside a counter nucleus) and ``counted`` (that
        nucleus included); over found non-cluster nuclei ``n_plain``, ``her2_ok``,
        ``cep17_ok`` (within ±``COUNT_TOLERANCE``); over found cluster nuclei
        ``n_cluster``, ``cluster_ok`` (HER2 and CEP17 within ``CLUSTER_TOLERANCE``);
        the reference's means and ratio over all its nuclei (``ref_her2``,
        ``ref_cep17``, ``ref_ratio``) and the counter's over the found ones
        (``her2``, ``cep17``, ``ratio``; None when none found).
    """
    by_id = {n.nucleus_id: n for n in nuclei}
    out = dict(n_ref=len(reference), found=0, counted=0, n_plain=0, her2_ok=0, cep17_ok=0,
               n_cluster=0, cluster_ok=0)
    got_h, got_c = [], []
    for ref in reference:
        nid = int(labels[ref.row, ref.col])
        if nid == 0 or nid not in by_id:
            continue
        rec = by_id[nid]
        out["found"] += 1
        out["counted"] += bool(rec.included)
        got_h.append(rec.her2)
        got_c.append(rec.cep17)
        if ref.cluster:
            out["n_cluster"] += 1
            out["cluster_ok"] += bool(
                abs(rec.her2 - ref.her2) <= CLUSTER_TOLERANCE * max(ref.her2, 1)
                and abs(rec.cep17 - ref.cep17) <= CLUSTER_TOLERANCE * max(ref.cep17, 1))
        else:
            out["n_plain"] += 1
            out["her2_ok"] += abs(rec.her2 - ref.her2) <= COUNT_TOLERANCE
            out["cep17_ok"] += abs(rec.cep17 - ref.cep17) <= COUNT_TOLERANCE
    ref_h = float(np.mean([r.her2 for r in reference]))
    ref_c = float(np.mean([r.cep17 for r in reference]))
    out.update(ref_her2=ref_h, ref_cep17=ref_c, ref_ratio=ref_h / ref_c if ref_c else None)
    if got_h:
        h, c = float(np.mean(got_h)), float(np.mean(got_c))
        out.update(her2=h, cep17=c, ratio=h / c if c else None)
    else:
        out.update(her2=None, cep17=None, ratio=None)
    return out


def ratio_agrees(ratio: float | None, ref_ratio: float | None) -> bool:
    """Same side of 2.0 as the reference ratio and within ``RATIO_TOLERANCE`` of it."""
    if ratio is None or ref_ratio is None:
        return False
    same_side = (ratio >= RATIO_THRESHOLD) == (ref_ratio >= RATIO_THRESHOLD)
    return same_side and abs(ratio - ref_ratio) <= RATIO_TOLERANCE * ref_ratio
