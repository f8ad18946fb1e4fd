"""A case file: the ``classify`` input plus the facts a report needs.

``her2kit classify`` and ``her2kit report`` read the same CASE.json. The test
results (``ihc``, ``ish``, ``er`` …) are :class:`her2kit.guideline.Case`; the
facts around them (specimen, assays, controls, observers, tumour, references
to image-analysis results) are optional here and checked by the report, which
lists what is missing instead of printing blanks.
"""

from __future__ import annotations

from datetime import date, datetime
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from her2kit.guideline.models import Case, IhcScoreLabel, Percent

__all__ = [
    "ASSAYS",
    "DECALCIFICATION_ACIDS",
    "Amendment",
    "AssayFacts",
    "CaseFile",
    "ControlFacts",
    "IhcHeterogeneity",
    "LabFacts",
    "PatientFacts",
    "SignOut",
    "SpecimenFacts",
    "SubpopulationFacts",
    "TumourFacts",
]

Hours = Annotated[float, Strict(), Field(ge=0)]


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Assays her2kit knows by name: (test, manufacturer, regulatory status). Anything
# else must be declared a laboratory-developed test, so a typo cannot pass as an
# FDA-approved kit.
ASSAYS: MappingProxyType[str, tuple[str, str, str]] = MappingProxyType({
    "PATHWAY HER2 (4B5)": ("ihc", "Roche/Ventana", "FDA-approved"),
    "HercepTest": ("ihc", "Agilent/Dako", "FDA-approved"),
    "Bond Oracle HER2 IHC System": ("ihc", "Leica Biosystems", "FDA-approved"),
    "PathVysion HER-2 DNA Probe Kit": ("ish", "Abbott", "FDA-approved"),
    "HER2 IQFISH pharmDx": ("ish", "Agilent/Dako", "FDA-approved"),
    "INFORM HER2 Dual ISH": ("ish", "Roche/Ventana", "FDA-approved"),
    "SPoT-Light HER2 CISH": ("ish", "Life Technologies", "FDA-approved"),
    "HER2 CISH pharmDx": ("ish", "Agilent/Dako", "FDA-approved"),
    "CONFIRM anti-ER (SP1)": ("er", "Roche/Ventana", "FDA-cleared"),
    "CONFIRM anti-PR (1E2)": ("pr", "Roche/Ventana", "FDA-cleared"),
})


class Assay(_Facts):
    """One assay: a known kit by name, or a laboratory-developed test (``ldt: true``)."""

    name: str
    ldt: bool = False
    clone: str | None = None


class AssayFacts(_Facts):
    ihc: Assay | None = None
    ish: Assay | None = None
    ish_workup: Assay | None = None
    er: Assay | None = None
    pr: Assay | None = None
    image_analysis_used: bool | None = None


class SpecimenFacts(_Facts):
    """The specimen and its pre-analytics (ASCO/CAP: 10 % NBF for 6–72 h)."""

    type: Literal["core biopsy", "excision", "mastectomy", "cytology cell block",
                  "metastasis biopsy", "other"] | None = None
    site: str | None = None
    laterality: Literal["left", "right", "bilateral", "not specified"] | None = None
    block: str | None = None
    fixative: str | None = None
    fixation_time_h: Hours | None = None
    cold_ischemia_min: Hours | None = None
    collected_on: date | None = None
    # Decalcification (bone metastases, calcified tissue): the CAP template asks for it
    # because acid decalcification can make HER2, ER and PgR results unreliable.
    decalcified: bool | None = None
    decalcification_method: Literal["EDTA", "formic acid", "hydrochloric acid",
                                    "nitric acid", "other acid", "other",
                                    "unknown"] | None = None

    @model_validator(mode="after")
    def _method_needs_decalcified(self) -> SpecimenFacts:
        if self.decalcification_method is not None and self.decalcified is not True:
            raise ValueError("'decalcification_method' is given only with "
                             "'decalcified': true")
        return self


#: The decalcification methods that are acids (the report's comment applies to these).
DECALCIFICATION_ACIDS = ("formic acid", "hydrochloric acid", "nitric acid", "other acid")


ControlStatus = Literal["as expected", "not as expected", "absent", "not applicable"]


class ControlFacts(_Facts):
    ihc_external: ControlStatus | None = None
    ihc_internal: ControlStatus | None = None
    ish: ControlStatus | None = None
    er_internal: ControlStatus | None = None
    pr_internal: ControlStatus | None = None


TCategory = Literal["Tis", "T0", "T1mi", "T1a", "T1b", "T1c", "T1", "T2", "T3", "T4", "T4a",
                    "T4b", "T4c", "T4d", "TX"]
NCategory = Literal["N0", "N0(i+)", "N1mi", "N1", "N1a", "N1b", "N1c", "N2", "N2a", "N2b", "N3",
                    "N3a", "N3b", "N3c", "NX"]


class IhcHeterogeneity(_Facts):
    """HER2 IHC heterogeneous staining, as the CAP template's fields.

    ``"clustered"``: a discrete population with 3+ staining, ``percent_3plus``
    of the invasive cancer (the template asks for >10 %), and the score of the
    remaining (non-3+) areas. ``"not identified"`` carries neither.
    """

    status: Literal["clustered", "not identified"]
    percent_3plus: Percent | None = None
    remaining_score: Literal["0", "0+", "1+", "2+"] | None = None

    @model_validator(mode="after")
    def _clustered_fields(self) -> IhcHeterogeneity:
        given = (self.percent_3plus, self.remaining_score)
        if self.status == "clustered":
            if any(v is None for v in given):
                raise ValueError("clustered heterogeneity needs 'percent_3plus' and "
                                 "'remaining_score'")
            if self.percent_3plus is not None and self.percent_3plus <= 10:
                raise ValueError("clustered heterogeneity is reported when the 3+ population "
                                 f"is >10% of the cancer (got {self.percent_3plus:g}%)")
        elif any(v is not None for v in given):
            raise ValueError("'percent_3plus' and 'remaining_score' belong to clustered "
                             "heterogeneity only")
        return self


class SubpopulationFacts(_Facts):
    """Report facts of the separately counted ISH population (``ish_subpopulation``)."""

    ihc_score: IhcScoreLabel | None = None  # the HER2 IHC score in that area


class TumourFacts(_Facts):
    """AJCC 8th edition categories, histology and the disease setting, when known.

    ``pT``/``pN`` are pathologic categories: the report stages them only when
    the specimen is a resection (excision, mastectomy). ``cT``/``cN`` are the
    clinical categories (examination and imaging), the only stage a biopsy can
    carry. ``setting`` is where the disease is (early, locally advanced,
    metastatic): the patient summary depends on it.
    """

    pT: TCategory | None = None
    pN: NCategory | None = None
    cT: TCategory | None = None
    cN: NCategory | None = None
    M: Literal["M0", "cM0(i+)", "M1"] | None = None
    metastatic_sites: tuple[str, ...] = ()
    grade: Literal[1, 2, 3] | None = None
    histologic_type: str | None = None
    setting: Literal["early", "locally advanced", "metastatic", "recurrent", "unknown"] | None \
        = None


class PatientFacts(_Facts):
    """Who the report is about; each is printed on every page, or listed as missing."""

    name: str | None = None
    birth_date: date | None = None
    mrn: str | None = None  # medical record number


# An identifier system: urn:oid, urn:uuid or an http(s) URL (FHIR Identifier.system).
_URI = (r"^(urn:oid:[0-2](\.(0|[1-9][0-9]*))+"
        r"|urn:uuid:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|https?://\S+)$")


class LabFacts(_Facts):
    """The performing laboratory, as every page names it (a lab settings file's content)."""

    name: Annotated[str, Field(min_length=1)]
    address: Annotated[str, Field(min_length=1)]
    # A CLIA number is 10 characters: two digits, "D", seven digits.
    clia: Annotated[str, Field(pattern=r"^\d{2}D\d{7}$")]
    director: str | None = None
    phone: str | None = None
    # The identifier system (a URI, e.g. the hospital's urn:oid) of the medical
    # record numbers in this lab's cases; the FHIR Patient.identifier needs it.
    mrn_system: Annotated[str, Field(pattern=_URI)] | None = None


class Amendment(_Facts):
    """An amended report: which revision it is, the one it replaces, and why."""

    revision: Annotated[int, Strict(), Field(ge=1)]
    replaces_revision: Annotated[int, Strict(), Field(ge=0)]
    reason: Annotated[str, Field(min_length=1)]


class SignOut(_Facts):
    """The pathologist's sign-out: until it is recorded, every report is preliminary; with
    an ``amendment``, the report is an amended one (FHIR status ``amended``)."""

    by: Annotated[str, Field(min_length=1)]
    at: datetime
    amendment: Amendment | None = None


class ReportedStatus(_Facts):
    """A status typed by hand; the report shows the engine's and flags any conflict."""

    her2: Literal["positive", "negative", "equivocal", "indeterminate"] | None = None
    er: Literal["positive", "low positive", "negative"] | None = None
    pr: Literal["positive", "negative"] | None = None


class CaseFile(Case):
    """Everything a CASE.json may hold: the :class:`~her2kit.guideline.Case` plus facts."""

    patient_id: str | None = None
    patient: PatientFacts | None = None
    accession: str | None = None
    ordering_physician: str | None = None
    received_on: date | None = None
    # The performing laboratory: a lab settings JSON file (path relative to the case
    # file, shared by all cases of a lab), or the same object inline.
    lab: str | LabFacts | None = None
    sign_out: SignOut | None = None
    specimen: SpecimenFacts | None = None
    assays: AssayFacts | None = None
    controls: ControlFacts | None = None
    ish_observers: Annotated[int, Strict(), Field(ge=1, le=5)] | None = None
    tumour: TumourFacts | None = None
    image_analysis: tuple[str, ...] = ()
    reported_status: ReportedStatus | None = None
    ihc_heterogeneity: IhcHeterogeneity | None = None
    ish_subpopulation_facts: SubpopulationFacts | None = None

    @model_validator(mode="after")
    def _facts_need_their_test(self) -> CaseFile:
        # The IHC result may come from an image-analysis result (``image_analysis``).
        if self.ihc_heterogeneity is not None and self.ihc is None and not self.image_analysis:
            raise ValueError("'ihc_heterogeneity' needs the HER2 IHC result in 'ihc'")
        if self.ish_subpopulation_facts is not None and self.ish_subpopulation is None:
            raise ValueError("'ish_subpopulation_facts' needs the count in "
                             "'ish_subpopulation'")
        return self
