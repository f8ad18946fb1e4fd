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

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["AnatomicStage", "StageBlock", "anatomic_stage", "case_stage"]


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


# ---------------------------------------------------------------------------
# The stage block of a case: which stage (pathologic / clinical / none) the
# specimen and the case's facts allow, and the disease setting.

RESECTIONS = ("excision", "mastectomy")
Setting = Literal["early", "locally advanced", "metastatic", "unknown"]


class StageBlock(BaseModel):
    """The stage a report may state for this case, and why (or why none)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["pathologic", "clinical"] | None
    group: str | None
    categories: str | None  # as staged, e.g. "pT1c pN0 M0" or "cT2 cN1 cM0"
    basis: str  # where the stage comes from, in words
    reason: str
    setting: Setting
    warnings: tuple[str, ...] = ()
    prognostic_note: str = (
        "AJCC 8th edition prognostic stage (grade, HER2, ER, PgR) is not computed by her2kit."
    )


def _setting(declared: str | None, group: str | None, m: str | None) -> Setting:
    if m == "M1" or group == "IV":
        return "metastatic"
    if declared in ("early", "locally advanced", "metastatic"):
        return declared  # type: ignore[return-value]
    if group is None:
        return "unknown"
    return "locally advanced" if group.startswith("III") else "early"


def _m_text(m: str | None, prefix: str) -> str:
    return "" if m is None else f" {m if m.startswith(('c', 'p')) else prefix + m}"


def case_stage(tumour: Any, specimen_type: str | None) -> StageBlock:
    """The stage block for a case's tumour facts and specimen.

    Parameters
    ----------
    tumour : TumourFacts or None
    specimen_type : str or None
        ``specimen.type`` of the case.

    Notes
    -----
    - M1 → stage IV from the distant spread (any T, any N), whatever the specimen.
    - A pathologic stage needs a resection (excision or mastectomy) with pT and pN.
    - Any other specimen (a core or metastasis biopsy, cytology) gets the
      clinical stage when the case gives cT and cN, otherwise none, with why.
      pT/pN given for a biopsy are not staged and are flagged.
    """
    t = tumour
    declared = t.setting if t is not None else None
    m = t.M if t is not None else None
    warnings: list[str] = []
    resection = specimen_type in RESECTIONS
    what = (f"a {specimen_type}" if specimen_type not in (None, "other")
            else "a specimen that is not a resection")
    if t is not None and not resection and (t.pT or t.pN):
        warnings.append(
            f"Pathologic categories ({' '.join(c for c in (t.pT, t.pN) if c)}) are given for "
            f"{what}: a pathologic stage needs a resection, so they are not staged.")
    if m == "M1":
        sites = ", ".join(t.metastatic_sites) if t is not None and t.metastatic_sites else None
        basis = "distant metastasis (M1)" + (f": {sites}" if sites else "")
        kind = "pathologic" if specimen_type == "metastasis biopsy" else "clinical"
        cats = [c for c in ((t.pT, t.pN) if resection else (t.cT, t.cN)) if c]
        if declared in ("early", "locally advanced"):
            warnings.append(f"The case says the setting is {declared}, but M1 means metastatic.")
        return StageBlock(kind=kind, group="IV", categories=" ".join([*cats, "M1"]),
                          basis=basis, reason="any T, any N, M1 → IV", setting="metastatic",
                          warnings=tuple(warnings))
    if resection and t is not None and t.pT and t.pN:
        s = anatomic_stage(t.pT, t.pN, _fold_m(m))
        return StageBlock(kind="pathologic" if s.group else None, group=s.group,
                          categories=f"p{t.pT} p{t.pN}{_m_text(m, 'c')}", basis=(
                              "tumour size and lymph nodes examined in the resection "
                              f"({specimen_type})"), reason=s.reason,
                          setting=_setting(declared, s.group, m), warnings=tuple(warnings))
    if t is not None and t.cT and t.cN:
        s = anatomic_stage(t.cT, t.cN, _fold_m(m))
        return StageBlock(kind="clinical" if s.group else None, group=s.group,
                          categories=f"c{t.cT} c{t.cN}{_m_text(m, 'c')}",
                          basis="examination and imaging before surgery (clinical stage)",
                          reason=s.reason, setting=_setting(declared, s.group, m),
                          warnings=tuple(warnings))
    if resection:
        why = "pT and pN are not both given"
    else:
        why = (f"the specimen is {what}; a pathologic stage needs a resection, and the case "
               "gives no clinical stage (cT, cN)")
    return StageBlock(kind=None, group=None, categories=None, basis="not staged",
                      reason=f"No stage: {why}.", setting=_setting(declared, None, m),
                      warnings=tuple(warnings))


def _fold_m(m: str | None) -> str | None:
    return "M0" if m == "cM0(i+)" else m
