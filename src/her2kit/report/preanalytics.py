"""Pre-analytic conditions checked against the guideline.

- Fixation in 10 % neutral buffered formalin for 6–72 h [S1 p.5].
- Cold ischaemia time: the HER2 guideline says "as short as possible"; the
  ≤1 h (60 min) limit widely cited as ASCO/CAP's is UNCONFIRMED as HER2
  guideline text (shared/guideline-facts.md §3, §8 item 2), so her2kit reports
  it against 60 min and says where the number comes from.
- Decalcification: acid decalcification can make HER2 (IHC and ISH), ER and
  PgR results unreliable; the CAP template records decalcification and the
  report adds a comment advising a non-decalcified specimen. UNCONFIRMED:
  shared/guideline-facts.md says nothing about decalcification, so neither the
  template's wording nor a guideline statement is confirmed in her2kit's sources.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from her2kit.casefile import DECALCIFICATION_ACIDS, SpecimenFacts

__all__ = ["DECALCIFICATION_ITEM", "FIXATION_HOURS", "PreanalyticCheck", "check_preanalytics",
           "decalcification_comment"]

FIXATION_HOURS = (6.0, 72.0)
COLD_ISCHEMIA_MAX_MIN = 60.0
DECALCIFICATION_ITEM = "Decalcification"


class PreanalyticCheck(BaseModel):
    """One pre-analytic item: the value, the requirement and whether it is met."""

    model_config = ConfigDict(frozen=True)

    item: str
    value: str
    requirement: str
    met: Literal["yes", "no", "not recorded"]
    note: str = ""


def check_preanalytics(specimen: SpecimenFacts | None) -> list[PreanalyticCheck]:
    """Check fixative, fixation time, cold ischaemia time and (when recorded) decalcification."""
    s = specimen or SpecimenFacts()
    lo, hi = FIXATION_HOURS
    checks = []
    fixative = s.fixative
    nbf = fixative is not None and "formalin" in fixative.lower()
    checks.append(PreanalyticCheck(
        item="Fixative", value=fixative or "not recorded",
        requirement="10% neutral buffered formalin",
        met="not recorded" if fixative is None else ("yes" if nbf else "no"),
    ))
    fix = s.fixation_time_h
    checks.append(PreanalyticCheck(
        item="Fixation time", value="not recorded" if fix is None else f"{fix:g} h",
        requirement=f"{lo:g}–{hi:g} h",
        met="not recorded" if fix is None else ("yes" if lo <= fix <= hi else "no"),
    ))
    cold = s.cold_ischemia_min
    checks.append(PreanalyticCheck(
        item="Cold ischemia time", value="not recorded" if cold is None else f"{cold:g} min",
        requirement=f"as short as possible; ≤{COLD_ISCHEMIA_MAX_MIN:g} min",
        met="not recorded" if cold is None else (
            "yes" if cold <= COLD_ISCHEMIA_MAX_MIN else "no"),
        note="The 60-min limit is widely cited as ASCO/CAP's; its wording in the HER2 "
             "guideline is unconfirmed.",
    ))
    if s.decalcified is not None:  # a row only where the case records it
        checks.append(_decalcification_check(s))
    return checks


def _decalcification_text(s: SpecimenFacts) -> str:
    if not s.decalcified:
        return "Not decalcified"
    method = s.decalcification_method
    if method is None or method == "unknown":
        return "Decalcified (method not known)"
    return f"Decalcified ({method})"


def _decalcification_check(s: SpecimenFacts) -> PreanalyticCheck:
    method = s.decalcification_method
    if s.decalcified is False or method == "EDTA":
        met: Literal["yes", "no", "not recorded"] = "yes"
    elif method in DECALCIFICATION_ACIDS:
        met = "no"
    else:  # decalcified by an unknown or other method
        met = "not recorded"
    return PreanalyticCheck(
        item=DECALCIFICATION_ITEM, value=_decalcification_text(s),
        requirement="no acid decalcification", met=met,
        note="The comment on acid decalcification follows the CAP template's; its wording "
             "is unconfirmed in her2kit's sources.",
    )


def decalcification_comment(specimen: SpecimenFacts | None) -> str | None:
    """The CAP-style comment for an acid- (or possibly acid-) decalcified specimen, or None."""
    if specimen is None or not specimen.decalcified:
        return None
    method = specimen.decalcification_method
    if method in DECALCIFICATION_ACIDS:
        how = f"was decalcified in acid ({method})"
    elif method is None or method == "unknown":
        how = "was decalcified by a method that is not known, possibly an acid"
    else:
        return None
    return (f"The specimen {how}: HER2 (IHC and ISH), ER and PgR results on acid-decalcified "
            "specimens may be unreliable. If possible, a specimen that was "
            "not decalcified should be tested.")
