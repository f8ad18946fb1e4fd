"""HER2, ER and PgR results as a FHIR Bundle (mCODE TumorMarkerTest, US Core; LOINC if confirmed).

:func:`build_fhir_bundle` turns a :class:`~her2kit.guideline.ClassifyResult` and
its :class:`~her2kit.casefile.CaseFile` into the JSON of one FHIR ``Bundle`` of
type ``collection``: a ``DiagnosticReport``, one ``Observation`` per result
(HER2 by IHC, each HER2 ISH count with its components, the integrated HER2
interpretation, ER, PgR), then the resources they reference: one ``Patient``,
the ``Specimen``, the performing laboratory (``Organization``) and, once the
report is signed out, the pathologist (``Practitioner``).

FHIR version
    The resources are built and validated with the ``fhir.resources.R4B``
    models. ``fhir.resources`` 8's default (top-level) models are FHIR R5; R4B
    (4.3.0) is the R4-compatible release: the elements used here are the same
    in R4 (4.0.1) and R4B. Every resource is validated by its model as it is
    built, and the whole Bundle once more at the end. The tests also check each
    example bundle with two R4 validators independent of ``fhir.resources``
    (``tools/fhir-validator``).

Codes
    Only codes listed in ``guideline-facts.md`` §5 (mCODE 4.0.0, [S10]) are
    used: LOINC 85319-2 (HER2 by IHC), 85318-4 (HER2 by FISH), 74860-8 (HER2
    copies per nucleus, i.e. the average HER2 signals per cell), 74861-6
    (chromosome 17 copies per nucleus, the average CEP17 signals per cell),
    49683-6 (HER2/CEP17 ratio), 48676-1 (HER2 interpretation), 85337-4 /
    85329-1 (ER presence / percent), 85339-0 / 85325-9 (PgR presence /
    percent), and the answers LA6576-8 "Positive" and LA6577-6 "Negative".
    Wherever no code is confirmed the concept is sent as ``text`` only; no code
    is ever made up. Text only, for that reason: the IHC score (the 85319-2
    answer list is unconfirmed), equivocal, pending and indeterminate results,
    the ISH group, cells counted, observers, staining intensity, the Allred
    score, the specimen type and the report's own code (no LOINC code for a
    breast biomarker report is in the facts file; 74885-5 is a FISH panel
    only). These caveats are stated here, for developers, and never in a field
    an EHR shows clinicians (``note``, ``text``, ``display``, ``conclusion``).

    The ISH LOINC codes name FISH as their method. They are used when the ISH
    assay is a FISH kit or is not stated; for a bright-field ISH kit (dual ISH,
    CISH) or a laboratory test of unknown method the ISH concepts are text
    only, because no LOINC code for those methods is confirmed.

    Vocabulary that is FHIR or HL7 infrastructure, not a clinical code:
    observation category ``laboratory`` (US Core Observation Lab, parent of
    mCODE TumorMarkerTest), diagnostic service section ``LAB`` from HL7 v2
    table 0074 (US Core DiagnosticReport Lab), identifier type ``MR`` from HL7
    v2 table 0203, the CLIA number's OID 2.16.840.1.113883.4.7, the
    data-absent-reason extension, and UCUM units: ``{signals}/{cell}`` for the
    signal averages (curly braces are UCUM annotations: a count per cell), ``1``
    for the ratio, ``%`` for percentages.

Status
    Observations and DiagnosticReport are ``preliminary`` until the case file
    records the pathologist's sign-out (``sign_out: {by, at}``), then
    ``final``.

Patient
    One ``Patient`` entry, referenced by every other resource. Its identifier is
    the case's medical record number (``patient.mrn``; the older
    ``patient_id`` when there is no MRN), typed ``MR``, with the lab settings'
    ``mrn_system`` as its system when set; name (as one text: the case gives
    no family/given split) and birth date when the case gives them. The case
    file carries no administrative gender: it is sent as ``unknown``.

Known gaps to the US Core profiles (the case file lacks the data): Patient
without ``mrn_system`` has an identifier without system; Patient.name has text
only (US Core wants family or given); the Practitioner has a name only (US Core
wants an identifier, e.g. the NPI).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.specimen import Specimen

from her2kit.casefile import ASSAYS, Assay, CaseFile, LabFacts
from her2kit.errors import Her2kitInputError
from her2kit.guideline.results import ClassifyResult, HormoneReceptorResult, IshResult
from her2kit.report.wording import her2_status_text, ihc_result_text, ish_result_text

__all__ = [
    "LOINC",
    "MCODE_TUMOR_MARKER_TEST",
    "build_fhir_bundle",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
# FHIR core vocabulary (not a clinical code): US Core Observation Lab, the parent
# of mCODE TumorMarkerTest, requires category "laboratory" from this system.
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# HL7 v2 table 0074 (diagnostic service section): US Core DiagnosticReport Lab
# requires category LAB.
DIAGNOSTIC_SERVICE = "http://terminology.hl7.org/CodeSystem/v2-0074"
# HL7 v2 table 0203 (identifier type): MR, medical record number.
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
# HL7's OID for CLIA numbers, as in the CLIA&2.16.840.1.113883.4.7&ISO
# assigning authority of US laboratories' HL7 v2 messages.
CLIA_SYSTEM = "urn:oid:2.16.840.1.113883.4.7"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# UCUM: "{signals}" and "{cell}" are annotations (unit 1), so the average is a
# count per cell; "1" is the unit of a ratio.
SIGNALS_PER_CELL = "{signals}/{cell}"
RATIO_UNIT = "1"

# mCODE 4.0.0 TumorMarkerTest [S10]. The profile id "mcode-tumor-marker-test" and
# the canonical "http://hl7.org/fhir/us/mcode" are confirmed; the full URL below
# is built by the usual FHIR convention and is UNCONFIRMED verbatim
# (guideline-facts.md §5).
MCODE_TUMOR_MARKER_TEST = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"
)

STATUS = "preliminary"
_UUID_NAMESPACE = uuid.UUID("5b8e7a52-58f4-4d53-9f0e-2f4c6c0a7d11")  # her2kit FHIR ids
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class _Code(NamedTuple):
    code: str
    display: str | None  # only where the facts file gives the display verbatim


# LOINC codes, all from guideline-facts.md §5 ([S10], mCODE 4.0.0 value set).
HER2_IHC = _Code("85319-2", "HER2 [Presence] in Breast cancer specimen by Immune stain")
HER2_FISH = _Code(
    "85318-4", "ERBB2 gene duplication [Presence] in Breast cancer specimen by FISH"
)
HER2_COPIES = _Code("74860-8", "ERBB2 gene copy number/nucleus in Tissue by FISH")
CEP17_COPIES = _Code("74861-6", "Chromosome 17 copy number/nucleus in Tissue by FISH")
HER2_CEP17_RATIO = _Code(
    "49683-6", "ERBB2 gene copy number/Chromosome 17 copy number in Tissue by FISH"
)
HER2_INTERPRETATION = _Code("48676-1", "HER2 [Interpretation] in Tissue")
# §5 lists ER and PR codes with descriptions, not verbatim displays: no display.
ER_PRESENCE = _Code("85337-4", None)  # "Ag [Presence], breast cancer specimen, immune stain"
ER_PERCENT = _Code("85329-1", None)  # "cells.ER/100 cells, breast cancer specimen"
PR_PRESENCE = _Code("85339-0", None)  # PR list, same position as 85337-4 in the ER list
PR_PERCENT = _Code("85325-9", None)  # PR list, same position as 85329-1 in the ER list
# LOINC answers used in the mCODE examples [S10 EX_ExtendedExample.fsh].
ANSWER_POSITIVE = _Code("LA6576-8", "Positive")
ANSWER_NEGATIVE = _Code("LA6577-6", "Negative")

_FISH_KITS = frozenset({"PathVysion HER-2 DNA Probe Kit", "HER2 IQFISH pharmDx"})

_ISH_CALL_TEXT = {
    "positive": "ISH positive",
    "negative": "ISH negative",
    "equivocal": "ISH equivocal",
    "needs_workup": "ISH result needs concurrent IHC review and work-up",
    "indeterminate": "ISH indeterminate",
}
_ISH_PARTS = (
    ("ish", "HER2 by ISH"),
    ("ish_recount", "HER2 by ISH, blinded recount"),
    ("ish_workup", "HER2 by dual-probe ISH, work-up of the single-probe result"),
    ("ish_subpopulation", "HER2 by ISH, separately counted cell population"),
)
_CATEGORY_TEXT = {"low": "HER2-low", "ultralow": "HER2-ultralow", "null": "HER2-null"}
_HR_GUIDELINE_TEXT = {"asco-cap-2020": "the ASCO/CAP ER/PgR testing guideline 2020"}


def build_fhir_bundle(
    result: ClassifyResult,
    case: CaseFile,
    *,
    issued: datetime,
    bundle_id: str | None = None,
    lab: LabFacts | None = None,
    warnings: Sequence[str] = (),
    lab_report_pdf: bytes | None = None,
) -> dict[str, Any]:
    """Build the FHIR R4(B) Bundle of a classified case.

    Parameters
    ----------
    result : ClassifyResult
        What :func:`her2kit.guideline.classify` decided for ``case``.
    case : CaseFile
        The case file: patient, accession, specimen, sign-out and assay names
        are taken from it.
    issued : datetime
        When the results are released; must carry a time zone (FHIR
        ``instant``). It is ``Bundle.timestamp`` and every result's ``issued``.
    bundle_id : str, optional
        The Bundle's id (a FHIR id: letters, digits, ``-`` and ``.``, at most
        64). The ``urn:uuid`` full URLs of the entries are derived from it, so
        the same id and inputs give the same Bundle. A random UUID by default.
    lab : LabFacts, optional
        The performing laboratory (the lab settings file's content, as
        :func:`her2kit.report.lab.load_lab_settings` reads it). By default the
        case's inline ``lab`` object; a lab named by a file path is only known
        when passed here. Without one the bundle has no ``performer``.
    warnings : sequence of str
        The lab report's warnings (failed pre-analytics, image analysis without
        an outline …), stated in the conclusion before the comments, as on the
        report's page 1.
    lab_report_pdf : bytes, optional
        The lab report PDF of the same run: sent as the DiagnosticReport's
        ``presentedForm`` (``application/pdf``, base64).

    Returns
    -------
    dict
        The Bundle as JSON-ready data (``resourceType`` ``"Bundle"``, type
        ``"collection"``): the ``DiagnosticReport`` first, then the
        Observations in the order IHC, ISH counts, HER2 interpretation, ER,
        PgR, then ``Patient``, ``Specimen`` (when the case describes one),
        ``Organization`` (the lab) and ``Practitioner`` (after sign-out).

    Raises
    ------
    Her2kitInputError
        ``issued`` has no time zone, ``bundle_id`` is not a FHIR id, or
        ``result`` was classified from another case.

    Notes
    -----
    All Observations claim mCODE's TumorMarkerTest profile (canonical URL
    UNCONFIRMED, see :data:`MCODE_TUMOR_MARKER_TEST`). Values are taken from
    ``result`` as the engine rounded them.

    References
    ----------
    mCODE 4.0.0 TumorMarkerTest and its value set [S10]; LOINC codes per
    ``guideline-facts.md`` §5.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from her2kit.casefile import CaseFile
    >>> from her2kit.guideline import classify
    >>> case = CaseFile.model_validate({"ihc": {"score": "3+"}})
    >>> bundle = build_fhir_bundle(classify(case), case, bundle_id="demo",
    ...                            issued=datetime(2025, 1, 2, tzinfo=timezone.utc))
    >>> [e["resource"]["resourceType"] for e in bundle["entry"]]
    ['DiagnosticReport', 'Observation', 'Observation', 'Patient']
    """
    bundle_id = _checked_inputs(result, case, issued, bundle_id)
    if lab is None and isinstance(case.lab, LabFacts):
        lab = case.lab
    ctx = _Context(
        case=case, issued=issued.isoformat(), bundle_id=bundle_id,
        status=_status(case), lab=lab,
        has_specimen=case.specimen is not None or case.accession is not None,
    )
    observations = _observations(result, ctx)
    for key, obs in observations:
        obs["id"] = ctx.id(key)
        # Validate each resource on its own so an error names the resource.
        Observation.model_validate(obs)

    report = _diagnostic_report(result, [k for k, _ in observations], ctx, warnings)
    if lab_report_pdf is not None:
        report["presentedForm"] = [{
            "contentType": "application/pdf",
            "language": "en",
            "data": base64.b64encode(lab_report_pdf).decode("ascii"),
            "title": "Breast biomarker report (PDF)",
            "creation": ctx.issued,
        }]
    DiagnosticReport.model_validate(report)

    entries = [{"fullUrl": ctx.url("report"), "resource": report}]
    entries += [{"fullUrl": ctx.url(key), "resource": obs} for key, obs in observations]
    entries += [{"fullUrl": ctx.url(key), "resource": res} for key, res in _referenced(ctx)]
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": bundle_id,
            "type": "collection",
            "timestamp": ctx.issued,
            "entry": entries,
        }
    )
    return json.loads(bundle.model_dump_json())


def _checked_inputs(result: ClassifyResult, case: CaseFile, issued: datetime,
                    bundle_id: str | None) -> str:
    """The bundle id to use, after checking the inputs at the boundary."""
    if issued.tzinfo is None or issued.utcoffset() is None:
        raise Her2kitInputError(
            f"needs a time zone (a FHIR instant), got naive {issued.isoformat()}",
            field="issued",
        )
    if bundle_id is None:
        bundle_id = str(uuid.uuid4())
    elif not _FHIR_ID.match(bundle_id):
        raise Her2kitInputError(
            f"must be 1–64 letters, digits, '-' or '.' (a FHIR id), got {bundle_id!r}",
            field="bundle_id",
        )
    if result.case_id is not None and case.case_id is not None and result.case_id != case.case_id:
        raise Her2kitInputError(
            f"the result is for case {result.case_id!r}, the case file is {case.case_id!r}",
            field="case_id",
        )
    return bundle_id


class _Context(NamedTuple):
    case: CaseFile
    issued: str
    bundle_id: str
    status: str = STATUS
    lab: LabFacts | None = None
    has_specimen: bool = False

    def id(self, key: str) -> str:
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{self.bundle_id}/{key}"))

    def url(self, key: str) -> str:
        return f"urn:uuid:{self.id(key)}"

    def ref(self, key: str) -> dict[str, str]:
        return {"reference": self.url(key)}


# ---------------------------------------------------------------------------
# building blocks


def _coding(code: _Code, system: str = LOINC) -> dict[str, str]:
    out = {"system": system, "code": code.code}
    if code.display is not None:
        out["display"] = code.display
    return out


def _concept(code: _Code | None, text: str) -> dict[str, Any]:
    """A CodeableConcept: the LOINC coding when there is one, and always text."""
    if code is None:
        return {"text": text}
    return {"coding": [_coding(code)], "text": text}


def _quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}


def _percent(value: float) -> dict[str, Any]:
    return _quantity(value, "%", "%")


def _component(code: _Code | None, text: str, **value: Any) -> dict[str, Any]:
    """An Observation component; ``value`` is one ``value[x]`` keyword."""
    return {"code": _concept(code, text), **value}


def _notes(*texts: str) -> list[dict[str, str]]:
    seen: list[str] = []
    for t in texts:
        if t and t not in seen:
            seen.append(t)
    return [{"text": t} for t in seen]


def _set_notes(resource: dict[str, Any], *texts: str) -> None:
    notes = _notes(*texts)
    if notes:
        resource["note"] = notes


def _absent() -> dict[str, Any]:
    """A primitive's data-absent-reason extension: the case does not give it."""
    return {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": "unknown"}]}


def _add_context(resource: dict[str, Any], ctx: _Context) -> None:
    """Subject, effective time (the collection date), issued, performer, specimen."""
    resource["subject"] = ctx.ref("patient")
    collected = ctx.case.specimen.collected_on if ctx.case.specimen else None
    if collected is not None:
        resource["effectiveDateTime"] = collected.isoformat()
    else:  # US Core: effective[x] is required; say that the date is unknown
        resource["_effectiveDateTime"] = _absent()
    resource["issued"] = ctx.issued
    performers = []
    if ctx.lab is not None:
        performers.append(ctx.ref("lab"))
    if ctx.case.sign_out is not None:
        performers.append(ctx.ref("pathologist"))
    if performers:
        resource["performer"] = performers
    if ctx.has_specimen:
        resource["specimen"] = (
            [ctx.ref("specimen")] if resource["resourceType"] == "DiagnosticReport"
            else ctx.ref("specimen")
        )


def _status(case: CaseFile) -> str:
    """FHIR status: preliminary until sign-out, final, or amended after an amendment."""
    if case.sign_out is None:
        return STATUS
    return "amended" if case.sign_out.amendment is not None else "final"


def _base_observation(code: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [MCODE_TUMOR_MARKER_TEST]},
        "status": ctx.status,
        "category": [
            {
                "coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory",
                            "display": "Laboratory"}],
                "text": "Laboratory",
            }
        ],
        "code": code,
    }
    _add_context(obs, ctx)
    return obs


def _method(assay: Assay | None) -> dict[str, str] | None:
    if assay is None:
        return None
    if assay.ldt:
        kind = "laboratory-developed test"
    elif assay.name in ASSAYS:
        kind = ASSAYS[assay.name][2]
    else:
        kind = None
    text = assay.name
    if assay.clone:
        text += f", clone {assay.clone}"
    if kind:
        text += f" ({kind})"
    return {"text": text}


# ---------------------------------------------------------------------------
# the observations


def _observations(result: ClassifyResult, ctx: _Context) -> list[tuple[str, dict[str, Any]]]:
    """(key, Observation) in report order; ids are set by the caller."""
    observations: list[tuple[str, dict[str, Any]]] = []
    ihc_key = None
    if result.ihc is not None:
        ihc_key = "her2-ihc"
        observations.append((ihc_key, _ihc_observation(result, ctx)))
    ish_keys = []
    for part, title in _ISH_PARTS:
        ish = getattr(result, part)
        if ish is not None:
            key = f"her2-{part.replace('_', '-')}"
            ish_keys.append(key)
            obs = _ish_observation(ish, part, title, ctx)
            if part == "ish":  # the result the lab report states, in the CAP template's words
                obs["valueCodeableConcept"] = {"text": ish_result_text(result)}
            observations.append((key, obs))
    if result.her2 is not None:
        derived = [k for k in (ihc_key, *ish_keys) if k is not None]
        observations.append(("her2-interpretation", _her2_observation(result, derived, ctx)))
    for key, hr in (("er", result.er), ("pr", result.pr)):
        if hr is not None:
            observations.append((key, _receptor_observation(hr, ctx)))
    return observations


def _ihc_observation(result: ClassifyResult, ctx: _Context) -> dict[str, Any]:
    ihc = result.ihc
    assert ihc is not None
    obs = _base_observation(_concept(HER2_IHC, "HER2 by immunohistochemistry"), ctx)
    # The lab report's result line (a rejected IHC reads "Cannot be determined";
    # why is in the note).
    obs["valueCodeableConcept"] = {"text": ihc_result_text(result)}
    method = _method(ctx.case.assays.ihc if ctx.case.assays else None)
    if method:
        obs["method"] = method
    if ihc.percent_complete_intense is not None:
        obs["component"] = [
            _component(
                None,
                "Percentage of cells with uniform intense complete membrane staining",
                valueQuantity=_percent(ihc.percent_complete_intense),
            )
        ]
    _set_notes(obs, *(f"IHC rejected: {why}" for why in ihc.rejected_because))
    return obs


def _ish_is_fish(ctx: _Context, part: str) -> bool:
    """Whether the FISH LOINC codes apply to this count (a FISH kit, or assay not stated)."""
    assays = ctx.case.assays
    assay = None
    if assays is not None:
        assay = assays.ish_workup if part == "ish_workup" else assays.ish
    return assay is None or assay.name in _FISH_KITS


def _ish_observation(ish: IshResult, part: str, title: str, ctx: _Context) -> dict[str, Any]:
    fish = _ish_is_fish(ctx, part)

    def loinc(code: _Code) -> _Code | None:
        return code if fish else None

    obs = _base_observation(_concept(loinc(HER2_FISH), title), ctx)
    # A count's own result: its group, or its call before integration with IHC (the
    # integrated result is the HER2 status Observation).
    if ish.group is not None:
        value = f"Group {ish.group} (dual-probe count)"
    else:
        probe = "dual-probe" if ish.probe == "dual" else "single-probe"
        value = f"{_ISH_CALL_TEXT[ish.call]}, {probe}"
    obs["valueCodeableConcept"] = {"text": value}
    assays = ctx.case.assays
    method = _method(
        (assays.ish_workup if part == "ish_workup" else assays.ish) if assays else None
    )
    if method:
        obs["method"] = method

    # (value, LOINC, CAP field, display unit, UCUM); CEP17 and ratio: dual-probe only.
    quantities = [
        (ish.her2_mean, HER2_COPIES, "Average number of HER2 signals per cell",
         "signals/cell", SIGNALS_PER_CELL),
        (ish.cep17_mean, CEP17_COPIES, "Average number of CEP17 signals per cell",
         "signals/cell", SIGNALS_PER_CELL),
        (ish.ratio, HER2_CEP17_RATIO, "HER2/CEP17 ratio", "ratio", RATIO_UNIT),
    ]
    components = [
        _component(loinc(code), text, valueQuantity=_quantity(value, unit, ucum))
        for value, code, text, unit, ucum in quantities
        if value is not None
    ]
    if ish.group is not None:
        components.append(
            _component(
                None, "ISH group (ASCO/CAP 2018 dual-probe)", valueString=f"Group {ish.group}"
            )
        )
    components.append(
        _component(None, "Invasive tumour cells counted", valueInteger=ish.cells_counted)
    )
    if part == "ish" and ctx.case.ish_observers is not None:
        components.append(
            _component(None, "Number of observers", valueInteger=ctx.case.ish_observers)
        )
    if ish.percent_of_tumour is not None:
        components.append(
            _component(
                None,
                "Percentage of tumour cells in this population",
                valueQuantity=_percent(ish.percent_of_tumour),
            )
        )
    obs["component"] = components
    _set_notes(obs, *(f"ISH rejected: {why}" for why in ish.rejected_because))
    return obs


def _her2_observation(
    result: ClassifyResult, derived_from: list[str], ctx: _Context
) -> dict[str, Any]:
    her2 = result.her2
    assert her2 is not None
    obs = _base_observation(_concept(HER2_INTERPRETATION, "HER2 status"), ctx)
    answer = {"positive": ANSWER_POSITIVE, "negative": ANSWER_NEGATIVE}.get(her2.status)
    text = f"HER2 {her2_status_text(result)}"
    if answer is None:
        obs["valueCodeableConcept"] = {"text": text}
    else:
        obs["valueCodeableConcept"] = {"coding": [_coding(answer)], "text": text}
    category = _CATEGORY_TEXT.get(her2.category)
    if category is not None:
        obs["component"] = [
            _component(None, "HER2 expression category", valueString=category)
        ]
    if derived_from:
        obs["derivedFrom"] = [ctx.ref(key) for key in derived_from]
    _set_notes(obs, *(f"Next step: {step.text}" for step in result.next_steps))
    return obs


def _receptor_observation(hr: HormoneReceptorResult, ctx: _Context) -> dict[str, Any]:
    er = hr.receptor == "ER"
    name = "Estrogen receptor" if er else "Progesterone receptor"
    obs = _base_observation(
        _concept(ER_PRESENCE if er else PR_PRESENCE, f"{name} by immunohistochemistry"), ctx
    )
    # ASCO/CAP 2020 [S7]: ER "low positive" (1–10 %) is a positive result, reported
    # with a comment; the text keeps the low-positive wording.
    answer = ANSWER_NEGATIVE if hr.status == "negative" else ANSWER_POSITIVE
    text = {"positive": "Positive", "negative": "Negative"}.get(
        hr.status, "Low positive (1–10% of tumour nuclei)"
    )
    obs["valueCodeableConcept"] = {"coding": [_coding(answer)], "text": text}
    assays = ctx.case.assays
    method = _method((assays.er if er else assays.pr) if assays else None)
    if method:
        obs["method"] = method
    components = [
        _component(
            ER_PERCENT if er else PR_PERCENT,
            "Percentage of tumour cell nuclei staining",
            valueQuantity=_percent(hr.percent),
        )
    ]
    if hr.intensity is not None:
        components.append(
            _component(None, "Average staining intensity", valueString=hr.intensity)
        )
    if hr.allred is not None:
        components.append(_component(None, "Allred score (0–8)", valueInteger=hr.allred))
    obs["component"] = components
    guideline = _HR_GUIDELINE_TEXT.get(hr.guideline, hr.guideline)
    _set_notes(obs, f"Interpreted according to {guideline}.")
    return obs


# ---------------------------------------------------------------------------
# the report and the resources it references


def _conclusion(result: ClassifyResult, ctx: _Context, warnings: Sequence[str]) -> str:
    """The report's conclusion: results, next steps, warnings and comments, status."""
    lines = []
    if result.her2 is not None:
        category = _CATEGORY_TEXT.get(result.her2.category)
        lines.append(f"HER2: {her2_status_text(result)}"
                     + (f" ({category})" if category else "") + ".")
    for hr in (result.er, result.pr):
        if hr is not None:
            lines.append(f"{hr.receptor}: {hr.status} ({hr.percent:g}% of tumour nuclei).")
    lines += [f"Next step: {step.text}" for step in result.next_steps]
    lines += [*warnings, *result.comments]
    lines.append(f"HER2 interpreted according to the {result.guideline_title}; quantitative "
                 f"decision support: her2kit {result.her2kit_version}.")
    sign_out = ctx.case.sign_out
    if sign_out is None:
        lines.append("PRELIMINARY — NOT FOR CLINICAL USE: awaiting review and sign-out by "
                     "the pathologist.")
    else:
        lines.append(f"Signed out by {sign_out.by} on {sign_out.at:%Y-%m-%d %H:%M}.")
        if sign_out.amendment is not None:
            am = sign_out.amendment
            lines.append(f"AMENDED report (revision {am.revision}, replacing revision "
                         f"{am.replaces_revision}): {am.reason}")
    return "\n".join(lines)


def _diagnostic_report(
    result: ClassifyResult, observation_keys: list[str], ctx: _Context,
    warnings: Sequence[str],
) -> dict[str, Any]:
    case = ctx.case
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": ctx.id("report"),
        "status": ctx.status,
        "category": [
            {
                "coding": [{"system": DIAGNOSTIC_SERVICE, "code": "LAB",
                            "display": "Laboratory"}],
                "text": "Laboratory",
            }
        ],
        # No LOINC code for this report is confirmed in her2kit's sources: text only.
        "code": {"text": "Breast cancer biomarker report: HER2, ER and PgR"},
    }
    if case.accession is not None:
        report["identifier"] = [{"type": {"text": "Accession number"}, "value": case.accession}]
    _add_context(report, ctx)
    if case.sign_out is not None:
        report["resultsInterpreter"] = [ctx.ref("pathologist")]
    report["result"] = [ctx.ref(key) for key in observation_keys]
    report["conclusion"] = _conclusion(result, ctx, warnings)
    return report


def _patient(ctx: _Context) -> dict[str, Any]:
    case = ctx.case
    facts = case.patient
    patient: dict[str, Any] = {"resourceType": "Patient", "id": ctx.id("patient")}
    mrn = facts.mrn if facts is not None and facts.mrn is not None else case.patient_id
    if mrn is not None:
        identifier: dict[str, Any] = {
            "use": "usual",
            "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR",
                                 "display": "Medical record number"}],
                     "text": "Medical record number"},
        }
        if ctx.lab is not None and ctx.lab.mrn_system is not None:
            identifier["system"] = ctx.lab.mrn_system
        identifier["value"] = mrn
        patient["identifier"] = [identifier]
    if facts is not None and facts.name is not None:
        patient["name"] = [{"use": "official", "text": facts.name}]
    patient["gender"] = "unknown"  # the case file does not give it
    if facts is not None and facts.birth_date is not None:
        patient["birthDate"] = facts.birth_date.isoformat()
    Patient.model_validate(patient)
    return patient


def _specimen(ctx: _Context) -> dict[str, Any]:
    case = ctx.case
    s = case.specimen
    specimen: dict[str, Any] = {"resourceType": "Specimen", "id": ctx.id("specimen")}
    if case.accession is not None:
        specimen["accessionIdentifier"] = {"value": case.accession}
    if s is not None and s.type is not None:
        # No SNOMED CT specimen-type code is confirmed in her2kit's sources: text only.
        specimen["type"] = {"text": s.type[:1].upper() + s.type[1:]}
    specimen["subject"] = ctx.ref("patient")
    if case.received_on is not None:
        specimen["receivedTime"] = case.received_on.isoformat()
    if s is None:
        Specimen.model_validate(specimen)
        return specimen
    collection: dict[str, Any] = {}
    if s.collected_on is not None:
        collection["collectedDateTime"] = s.collected_on.isoformat()
    site = s.site
    if s.laterality in ("left", "right", "bilateral") and (
            site is None or s.laterality not in site.lower()):
        site = f"{site}, {s.laterality}" if site else s.laterality
    if site is not None:
        collection["bodySite"] = {"text": site}
    if collection:
        specimen["collection"] = collection
    if s.fixative is not None or s.fixation_time_h is not None:
        fixed = f"Fixed in {s.fixative}" if s.fixative else "Fixation"
        if s.fixation_time_h is not None:
            fixed += f" for {s.fixation_time_h:g} h"
        specimen["processing"] = [{"description": fixed}]
    if s.decalcified is not None:
        method = s.decalcification_method
        decal = ("Not decalcified" if not s.decalcified else
                 "Decalcified" + (f" ({method})" if method and method != "unknown"
                                  else " (method not known)"))
        specimen.setdefault("processing", []).append({"description": decal})
    if s.block is not None:
        specimen["container"] = [{"identifier": [{"value": s.block}],
                                  "description": "Tissue block"}]
    if s.cold_ischemia_min is not None:
        specimen["note"] = [{"text": f"Cold ischemia time: {s.cold_ischemia_min:g} min."}]
    Specimen.model_validate(specimen)
    return specimen


def _organization(lab: LabFacts, ctx: _Context) -> dict[str, Any]:
    org: dict[str, Any] = {
        "resourceType": "Organization",
        "id": ctx.id("lab"),
        "identifier": [{"type": {"text": "CLIA number"}, "system": CLIA_SYSTEM,
                        "value": lab.clia}],
        "active": True,
        "name": lab.name,
    }
    if lab.phone is not None:
        org["telecom"] = [{"system": "phone", "value": lab.phone, "use": "work"}]
    org["address"] = [{"use": "work", "text": lab.address}]
    Organization.model_validate(org)
    return org


def _referenced(ctx: _Context) -> list[tuple[str, dict[str, Any]]]:
    """The resources the report and observations point to, keyed like their ids."""
    out = [("patient", _patient(ctx))]
    if ctx.has_specimen:
        out.append(("specimen", _specimen(ctx)))
    if ctx.lab is not None:
        out.append(("lab", _organization(ctx.lab, ctx)))
    if ctx.case.sign_out is not None:
        practitioner = {"resourceType": "Practitioner", "id": ctx.id("pathologist"),
                        "name": [{"text": ctx.case.sign_out.by}]}
        Practitioner.model_validate(practitioner)
        out.append(("pathologist", practitioner))
    return out
