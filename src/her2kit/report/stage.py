"""AJCC 8th edition *anatomic* stage group for breast cancer from pT, pN and M.

Source: AJCC Cancer Staging Manual, 8th edition, breast chapter, "Anatomic
Stage Groups" table. UNCONFIRMED in shared/guideline-facts.md (the facts file
does not quote it); the table below is the widely reproduced one.

The *prognostic* stage groups (which add grade, HER2, ER and PgR, and
Oncotype DX for some T1–2 N0 cancers) are not computed: their table is large
and was not available to encode completely, and a partial table would give
wrong stages. Reports say so.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["AnatomicStage", "anatomic_stage"]


class AnatomicStage(BaseModel):
    """The anatomic stage group, or why it was not computed."""

    model_config = ConfigDict(frozen=True)

    group: str | None
    pT: str | None
    pN: str | None
    M: str | None
    reason: str
    prognostic_stage: None = None
    prognostic_note: str = (
        "AJCC 8th edition prognostic stage (grade, HER2, ER, PgR) is not computed by her2kit."
    )


def _t(pt: str) -> str:
    if pt in ("T1mi", "T1a", "T1b", "T1c"):
        return "T1"
    if pt in ("T4a", "T4b", "T4c", "T4d"):
        return "T4"
    return pt


def _n(pn: str) -> str:
    if pn == "N0(i+)":
        return "N0"  # isolated tumour cells are N0 for staging
    if pn == "N1mi":
        return "N1mi"
    return pn[:2]  # N1a → N1, N2b → N2, N3c → N3


# (T, N) → group for M0. T0/T1 with N1mi only are IB (AJCC 8th, table note).
_M0 = {
    ("Tis", "N0"): "0",
    ("T1", "N0"): "IA",
    ("T0", "N1mi"): "IB", ("T1", "N1mi"): "IB",
    ("T0", "N1"): "IIA", ("T1", "N1"): "IIA", ("T2", "N0"): "IIA",
    ("T2", "N1mi"): "IIB", ("T2", "N1"): "IIB", ("T3", "N0"): "IIB",
    ("T0", "N2"): "IIIA", ("T1", "N2"): "IIIA", ("T2", "N2"): "IIIA",
    ("T3", "N1mi"): "IIIA", ("T3", "N1"): "IIIA", ("T3", "N2"): "IIIA",
    ("T4", "N0"): "IIIB", ("T4", "N1mi"): "IIIB", ("T4", "N1"): "IIIB", ("T4", "N2"): "IIIB",
}


def anatomic_stage(pT: str | None, pN: str | None, M: str | None) -> AnatomicStage:
    """AJCC 8th anatomic stage group.

    Parameters
    ----------
    pT, pN, M : str or None
        AJCC categories as written on the report (``"T1c"``, ``"N1a"``,
        ``"M0"``). Subcategories are folded (T1c → T1, N2a → N2; N0(i+) → N0;
        cM0(i+) → M0).

    Returns
    -------
    AnatomicStage
        ``group`` is ``None`` with a reason when a category is missing or
        unassessable (TX, NX), or the combination is not in the table.

    Examples
    --------
    >>> anatomic_stage("T1c", "N0", "M0").group
    'IA'
    >>> anatomic_stage("T2", "N3a", "M0").group
    'IIIC'
    """
    missing = [name for name, v in (("pT", pT), ("pN", pN), ("M", M)) if v is None]
    if M == "M1":
        return AnatomicStage(group="IV", pT=pT, pN=pN, M=M, reason="any T, any N, M1 → IV")
    if missing:
        return AnatomicStage(group=None, pT=pT, pN=pN, M=M,
                             reason=f"{', '.join(missing)} not given")
    assert pT is not None and pN is not None
    if pT == "TX" or pN == "NX":
        return AnatomicStage(group=None, pT=pT, pN=pN, M=M,
                             reason="TX or NX cannot be staged")
    t, n = _t(pT), _n(pN)
    if n == "N3":
        return AnatomicStage(group="IIIC", pT=pT, pN=pN, M=M, reason="any T, N3, M0 → IIIC")
    group = _M0.get((t, n))
    if group is None:
        return AnatomicStage(group=None, pT=pT, pN=pN, M=M,
                             reason=f"{pT} {pN} {M} is not in the AJCC table")
    return AnatomicStage(group=group, pT=pT, pN=pN, M=M, reason=f"{t} {n} M0 → {group}")
