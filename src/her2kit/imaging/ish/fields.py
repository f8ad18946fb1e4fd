"""Pooling the counted nuclei of several fields of one slide into one count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ish.results import IshImageResult, NucleusRecord

__all__ = ["IshFieldsResult", "pool_fields"]


@dataclass(frozen=True, eq=False)
class IshFieldsResult:
    """Counts pooled over several fields of one slide, as a technologist counts them.

    The counted nuclei of every field are one population: means and ratio are over all
    of them (and so are the guideline's group, heterogeneity and "too few nuclei", made
    in :mod:`her2kit.pipelines.ish`). Each field keeps its own result (thresholds,
    measures, exclusions) in ``fields``.

    Attributes
    ----------
    fields : tuple of IshImageResult
        One per field, in the order given.
    names : tuple of str
        A name per field (e.g. the file name), same order.
    assay, probe : str
        As in :class:`IshImageResult` (the same for every field).
    n_counted : int
        Nuclei counted over all fields.
    her2_mean, cep17_mean, ratio : float or None
        Over all counted nuclei (as in :class:`IshImageResult`).
    """

    fields: tuple[IshImageResult, ...]
    names: tuple[str, ...]
    assay: str
    probe: str
    n_counted: int
    her2_mean: float | None
    cep17_mean: float | None
    ratio: float | None

    @property
    def counted(self) -> tuple[NucleusRecord, ...]:
        """The included nuclei of all fields, field by field."""
        return tuple(n for f in self.fields for n in f.counted)

    @property
    def nuclei(self) -> tuple[NucleusRecord, ...]:
        """Every segmented nucleus of all fields, field by field."""
        return tuple(n for f in self.fields for n in f.nuclei)

    @property
    def guideline_input(self) -> dict:
        """The ``ish`` block for :mod:`her2kit.guideline` over all counted nuclei."""
        if self.probe == "dual":
            return {"probe": "dual", "nuclei": [[n.her2, n.cep17] for n in self.counted]}
        return {
            "probe": "single",
            "cells_counted": self.n_counted,
            "her2_mean": self.her2_mean if self.her2_mean is not None else 0.0,
        }

    def table(self) -> list[dict]:
        """The per-nucleus table of all fields, with a leading ``field`` column (its name)."""
        return [{"field": name, **row} for name, f in zip(self.names, self.fields, strict=True)
                for row in f.table()]


def pool_fields(results: Sequence[IshImageResult], names: Sequence[str]) -> IshFieldsResult:
    """Pool the counted nuclei of several fields of one slide into one count.

    The guideline asks for a minimum of countable nuclei (20 in ASCO/CAP 2018), which one
    high-magnification field often does not hold (a 100x brightfield field is ~100 µm
    wide); technologists count across fields. Each field must be counted with the same assay.

    Parameters
    ----------
    results : sequence of IshImageResult
        The fields' results (:func:`~her2kit.imaging.ish.count.count_fish` or
        :func:`~her2kit.imaging.ish.count.count_brightfield_ish`).
    names : sequence of str
        A distinct name per field (the file names), for the table and the evidence.

    Returns
    -------
    IshFieldsResult

    Raises
    ------
    Her2kitInputError
        No fields, names not matching, or fields of different assays.
    """
    results = tuple(results)
    names = tuple(str(n) for n in names)
    if not results:
        raise Her2kitInputError("no fields to pool", field="fields")
    if len(names) != len(results) or len(set(names)) != len(names):
        raise Her2kitInputError("give one distinct name per field", field="names")
    assays = {r.assay for r in results}
    if len(assays) != 1:
        raise Her2kitInputError(f"fields of different assays: {sorted(assays)}", field="fields")
    probe = results[0].probe
    counted = [n for r in results for n in r.counted]
    nc = len(counted)
    her2_mean = float(np.mean([n.her2 for n in counted])) if nc else None
    cep17_mean = (float(np.mean([n.cep17 for n in counted])) if nc and probe == "dual"
                  else None)
    return IshFieldsResult(
        fields=results,
        names=names,
        assay=results[0].assay,
        probe=probe,
        n_counted=nc,
        her2_mean=her2_mean,
        cep17_mean=cep17_mean,
        ratio=her2_mean / cep17_mean if cep17_mean else None,
    )
