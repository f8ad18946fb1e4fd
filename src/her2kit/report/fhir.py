"""HER2, ER and PgR results as a FHIR Bundle (mCODE TumorMarkerTest, LOINC where confirmed).

:func:`build_fhir_bundle` turns a :class:`~her2kit.guideline.ClassifyResult` and
its :class:`~her2kit.casefile.CaseFile` into the JSON of one FHIR ``Bundle`` of
type ``collection``: a ``DiagnosticReport`` and one ``Observation`` per result
(HER2 by IHC, each HER2 ISH count with its components, the integrated HER2
interpretation, ER, PgR).

FHIR version
    The resources are built and validated with the ``fhir.resources.R4B``
    models. ``fhir.resources`` 8's default (top-level) models are FHIR R5; R4B
    (4.3.0) is the R4-compatible release: the Observation, DiagnosticReport,
    Patient and Bundle elements used here are the same in R4 (4.0.1) and R4B.
    Every resource is validated by its model as it is built, and the whole
    Bundle once more at the end, so a malformed resource is an exception here
    rather than a rejection by the receiving system.

Codes
    Only codes listed in ``guideline-facts.md`` §5 (mCODE 4.0.0, [S10]) are
    used: LOINC 85319-2 (HER2 by IHC), 85318-4 (HER2 by FISH), 74860-8 (HER2
    copies/nucleus), 74861-6 (CEP17 copies/nucleus), 49683-6 (HER2/CEP17
    ratio), 48676-1 (HER2 interpretation), 85337-4 / 85329-1 (ER presence /
    percent), 85339-0 / 85325-9 (PgR presence / percent), and the answers
    LA6576-8 "Positive" and LA6577-6 "Negative". Wherever no code is confirmed
    (the 85319-2 answer list, equivocal and indeterminate results, the ISH group,
    cells counted, observers, staining intensity, Allred score, the report
    itself) the concept is sent as ``text`` only and the resource carries a note
    saying so. No code is ever made up.

    The ISH LOINC codes name FISH as their method. They are used when the ISH
    assay is a FISH kit or is not stated (a note then says the assay was not
    stated); for a bright-field ISH kit (dual ISH, CISH) or a laboratory test of
    unknown method the ISH concepts are sent as text only, because no LOINC
    code for those methods is confirmed.

Status
    Every resource has status ``preliminary`` until the case file records the
    pathologist's sign-out (``sign_out: {by, at}``), then ``final``.

The patient is identified only by ``case.patient_id`` (an identifier without
system, no name or other demographics), in a ``Patient`` contained in each
resource. Without a ``patient_id`` the resources have no ``subject``.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from typing import Any, NamedTuple

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation

from her2kit.casefile import ASSAYS, Assay, CaseFile
from her2kit.errors import Her2kitInputError
from her2kit.guideline.results import ClassifyResult, HormoneReceptorResult, IshResult
from her2kit.report.wording import her2_status_text, ish_result_text

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

# mCODE 4.0.0 TumorMarkerTest [S10]. The profile id "mcode-tumor-marker-test" and
# the canonical "http://hl7.org/fhir/us/mcode" are confirmed; the full URL below
# is built by the usual FHIR convention and is UNCONFIRMED verbatim
# (guideline-facts.md §5).
MCODE_TUMOR_MARKER_TEST = (
    "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"
)

STATUS = "preliminary"
_PATIENT_REF = "patient"
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

_IHC_ANSWER_NOTE = (
    "The LOINC answer list for 85319-2 is not confirmed in her2kit's sources: "
    "the IHC score is sent as text only."
)
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


def build_fhir_bundle(
    result: ClassifyResult,
    case: CaseFile,
    *,
    issued: datetime,
    bundle_id: str | None = None,
) -> dict[str, Any]:
    """Build the FHIR R4(B) Bundle of a classified case.

    Parameters
    ----------
    result : ClassifyResult
        What :func:`her2kit.guideline.classify` decided for ``case``.
    case : CaseFile
        The case file: patient identifier, accession, specimen date and assay
        names are taken from it.
    issued : datetime
        When the results are released; must carry a time zone (FHIR
        ``instant``). It is ``Bundle.timestamp`` and every resource's
        ``issued``.
    bundle_id : str, optional
        The Bundle's id (a FHIR id: letters, digits, ``-`` and ``.``, at most
        64). The ``urn:uuid`` full URLs of the entries are derived from it, so
        the same id and inputs give the same Bundle. A random UUID by default.

    Returns
    -------
    dict
        The Bundle as JSON-ready data (``resourceType`` ``"Bundle"``, type
        ``"collection"``): the ``DiagnosticReport`` first, then the
        Observations in the order IHC, ISH counts, HER2 interpretation, ER,
        PgR.

    Raises
    ------
    Her2kitInputError
        ``issued`` has no time zone, ``bundle_id`` is not a FHIR id, or
        ``result`` was classified from another case.

    Notes
    -----
    All Observations claim mCODE's TumorMarkerTest profile (canonical URL
    UNCONFIRMED, see :data:`MCODE_TUMOR_MARKER_TEST`); conformance to the
    profile is not checked here, only the base FHIR R4B resource definitions.
    Values are taken from ``result`` as the engine rounded them.

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
    ['DiagnosticReport', 'Observation', 'Observation']
    """
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

    status = "final" if case.sign_out is not None else STATUS
    ctx = _Context(case=case, issued=issued.isoformat(), bundle_id=bundle_id, status=status)
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

    for key, obs in observations:
        obs["id"] = ctx.id(key)
        # Validate each resource on its own so an error names the resource.
        Observation.model_validate(obs)

    report = _diagnostic_report(result, [k for k, _ in observations], ctx)
    DiagnosticReport.model_validate(report)

    entries = [{"fullUrl": ctx.url("report"), "resource": report}]
    entries += [{"fullUrl": ctx.url(key), "resource": obs} for key, obs in observations]
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


class _Context(NamedTuple):
    case: CaseFile
    issued: str
    bundle_id: str
    status: str = STATUS

    def id(self, key: str) -> str:
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{self.bundle_id}/{key}"))

    def url(self, key: str) -> str:
        return f"urn:uuid:{self.id(key)}"


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


def _quantity(value: float, unit: str | None = None, ucum: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value}
    if unit is not None:
        out["unit"] = unit
    if ucum is not None:
        out["system"] = UCUM
        out["code"] = ucum
    return out


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


def _base_observation(code: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [MCODE_TUMOR_MARKER_TEST]},
        "status": ctx.status,
        "category": [
            {
                "coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}],
                "text": "Laboratory",
            }
        ],
        "code": code,
    }
    _add_subject(obs, ctx)
    collected: date | None = ctx.case.specimen.collected_on if ctx.case.specimen else None
    if collected is not None:
        obs["effectiveDateTime"] = collected.isoformat()
    obs["issued"] = ctx.issued
    return obs


def _add_subject(resource: dict[str, Any], ctx: _Context) -> None:
    if ctx.case.patient_id is None:
        return
    resource["contained"] = [
        {
            "resourceType": "Patient",
            "id": _PATIENT_REF,
            "identifier": [{"value": ctx.case.patient_id}],
        }
    ]
    resource["subject"] = {"reference": f"#{_PATIENT_REF}"}


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


def _ihc_observation(result: ClassifyResult, ctx: _Context) -> dict[str, Any]:
    ihc = result.ihc
    assert ihc is not None
    obs = _base_observation(_concept(HER2_IHC, "HER2 by immunohistochemistry"), ctx)
    value = ihc.label if ihc.score is not None else f"Cannot be determined: {ihc.label}"
    obs["valueCodeableConcept"] = {"text": value}
    method = _method(ctx.case.assays.ihc if ctx.case.assays else None)
    if method:
        obs["method"] = method
    components = []
    if ihc.percent_complete_intense is not None:
        components.append(
            _component(
                None,
                "Percentage of cells with uniform intense complete membrane staining",
                valueQuantity=_percent(ihc.percent_complete_intense),
            )
        )
    obs["note"] = _notes(
        _IHC_ANSWER_NOTE,
        "The staining percentage has no confirmed code in her2kit's sources: sent as text only."
        if components
        else "",
        *(f"IHC rejected: {why}" for why in ihc.rejected_because),
    )
    if components:
        obs["component"] = components
    return obs


def _ish_codes(ctx: _Context, part: str) -> tuple[bool, str]:
    """Whether the FISH LOINC codes apply to this count, and the note that says why."""
    assays = ctx.case.assays
    assay = None
    if assays is not None:
        assay = assays.ish_workup if part == "ish_workup" else assays.ish
    if assay is None:
        return True, (
            "The ISH assay is not stated in the case; the LOINC codes used name FISH "
            "as their method."
        )
    if assay.name in _FISH_KITS:
        return True, ""
    return False, (
        f"The ISH assay ({assay.name}) is not a FISH kit known to her2kit and no LOINC "
        "code for its method is confirmed in her2kit's sources: the ISH concepts are "
        "sent as text only."
    )


def _ish_observation(ish: IshResult, part: str, title: str, ctx: _Context) -> dict[str, Any]:
    fish, method_note = _ish_codes(ctx, part)

    def loinc(code: _Code) -> _Code | None:
        return code if fish else None

    obs = _base_observation(_concept(loinc(HER2_FISH), title), ctx)
    probe = "dual-probe" if ish.probe == "dual" else "single-probe"
    call = _ISH_CALL_TEXT[ish.call]
    if ish.group is not None:
        call += f" (Group {ish.group})"
    obs["valueCodeableConcept"] = {"text": f"{call}, {probe}"}
    assays = ctx.case.assays
    method = _method(
        (assays.ish_workup if part == "ish_workup" else assays.ish) if assays else None
    )
    if method:
        obs["method"] = method

    # (value, LOINC, text, unit); CEP17 mean and ratio exist for dual-probe counts only.
    quantities = [
        (ish.her2_mean, HER2_COPIES, "Mean HER2 signals per nucleus", "signals per nucleus"),
        (ish.cep17_mean, CEP17_COPIES, "Mean CEP17 signals per nucleus", "signals per nucleus"),
        (ish.ratio, HER2_CEP17_RATIO, "HER2/CEP17 ratio", "HER2/CEP17"),
    ]
    components = [
        _component(loinc(code), text, valueQuantity=_quantity(value, unit))
        for value, code, text, unit in quantities
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
    obs["note"] = _notes(
        method_note,
        "The ISH result and the components without a coding (ISH group, cells counted, "
        "observers, population share) have no confirmed code in her2kit's sources: sent "
        "as text only.",
        *(f"ISH rejected: {why}" for why in ish.rejected_because),
    )
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
    obs["component"] = [
        _component(
            None,
            "HER2 category (her2kit; HER2-low and -ultralow are not ASCO/CAP result categories)",
            valueString=her2.category,
        )
    ]
    if derived_from:
        obs["derivedFrom"] = [{"reference": ctx.url(key)} for key in derived_from]
    obs["note"] = _notes(
        "" if answer else f"No LOINC answer code is confirmed for '{her2.status}': "
        "sent as text only.",
        "The HER2 category has no confirmed code: sent as text only.",
        *(f"Next step: {step.text}" for step in result.next_steps),
    )
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
    obs["note"] = _notes(
        "Staining intensity and the Allred score have no confirmed code in her2kit's "
        "sources: sent as text only." if len(components) > 1 else "",
        f"Classified under {hr.guideline}.",
    )
    return obs


def _diagnostic_report(
    result: ClassifyResult, observation_keys: list[str], ctx: _Context
) -> dict[str, Any]:
    case = ctx.case
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": ctx.id("report"),
        "status": ctx.status,
        # No LOINC code for this panel is confirmed in her2kit's sources: text only.
        "code": {"text": "Breast biomarker results: HER2, ER and PgR (her2kit decision support)"},
    }
    if case.accession is not None:
        report["identifier"] = [{"type": {"text": "Accession number"}, "value": case.accession}]
    _add_subject(report, ctx)
    collected = case.specimen.collected_on if case.specimen else None
    if collected is not None:
        report["effectiveDateTime"] = collected.isoformat()
    report["issued"] = ctx.issued
    report["result"] = [{"reference": ctx.url(key)} for key in observation_keys]
    lines = [
        f"her2kit {result.her2kit_version}; guideline {result.guideline} "
        f"({result.guideline_title}).",
        "Decision support; pathologist signs out. A pathologist reviews the slides and "
        "signs out the report.",
        *result.comments,
        *(f"Next step: {step.text}" for step in result.next_steps),
        "Codes: LOINC only where confirmed in her2kit's sources; other concepts (and this "
        "report's own code) are sent as text.",
    ]
    report["conclusion"] = "\n".join(lines)
    return report
