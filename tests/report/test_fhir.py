"""The FHIR R4B Bundle: it validates, uses only confirmed codes and carries the engine's values.

The independent validators (official R4 JSON schema, FHIR.js, UCUM) and the
profile checks over every example case are in ``test_fhir_conformance.py``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from her2kit.casefile import CaseFile
from her2kit.errors import Her2kitInputError
from her2kit.guideline import ClassifyResult, classify
from her2kit.report import fhir
from her2kit.report.fhir import build_fhir_bundle

CASES = Path(__file__).resolve().parents[2] / "examples" / "cases"
CASE_NAMES = sorted(p.stem for p in CASES.glob("*.json"))
ISSUED = datetime(2025, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=1)))
LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
UCUM = "http://unitsofmeasure.org"
CLIA_OID = "urn:oid:2.16.840.1.113883.4.7"
LAB = {"name": "Example Pathology Laboratory (demo)", "address": "100 Example Street",
       "clia": "99D9999999", "phone": "+1 555 0100",
       "mrn_system": "urn:oid:2.16.840.1.113883.19.5"}
MCODE_TMT = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"

# Every (system, code) a Bundle may hold, written out from guideline-facts.md §5
# (mCODE 4.0.0 [S10]) — independent of the module's own constants — plus the
# FHIR core observation category "laboratory" that US Core Lab requires.
ALLOWED_CODINGS = {
    (LOINC, "85319-2"),  # HER2 [Presence] in Breast cancer specimen by Immune stain
    (LOINC, "85318-4"),  # ERBB2 gene duplication [Presence] in Breast cancer specimen by FISH
    (LOINC, "74860-8"),  # ERBB2 gene copy number/nucleus in Tissue by FISH
    (LOINC, "74861-6"),  # Chromosome 17 copy number/nucleus in Tissue by FISH
    (LOINC, "49683-6"),  # ERBB2/Chromosome 17 copy number ratio in Tissue by FISH
    (LOINC, "48676-1"),  # HER2 [Interpretation] in Tissue
    (LOINC, "85337-4"),  # ER Ag [Presence], breast cancer specimen, immune stain
    (LOINC, "85329-1"),  # cells.ER/100 cells, breast cancer specimen
    (LOINC, "85339-0"),  # PR list
    (LOINC, "85325-9"),  # PR list
    (LOINC, "LA6576-8"),  # Positive (mCODE example)
    (LOINC, "LA6577-6"),  # Negative (mCODE example)
    (CATEGORY, "laboratory"),
    # HL7 infrastructure, not clinical codes: US Core DiagnosticReport Lab's
    # category LAB (v2-0074) and the identifier type MR (v2-0203).
    (V2_0074, "LAB"),
    (V2_0203, "MR"),
}
ANSWER_CODES = {"LA6576-8", "LA6577-6"}


def _case(name: str, **facts: Any) -> CaseFile:
    data = json.loads((CASES / f"{name}.json").read_text())
    return CaseFile.model_validate({**data, **facts})


def _bundle(case: CaseFile, **kwargs: Any) -> tuple[ClassifyResult, dict[str, Any]]:
    result = classify(case)
    kwargs.setdefault("bundle_id", "test-bundle")
    return result, build_fhir_bundle(result, case, issued=ISSUED, **kwargs)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _loinc(concept: dict[str, Any]) -> str | None:
    codes = [c["code"] for c in concept.get("coding", []) if c["system"] == LOINC]
    assert len(codes) <= 1
    return codes[0] if codes else None


def _by_code(bundle: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for obs in _resources(bundle, "Observation"):
        out.setdefault(_loinc(obs["code"]) or obs["code"]["text"], []).append(obs)
    return out


def _component(obs: dict[str, Any], key: str) -> dict[str, Any]:
    found = [c for c in obs.get("component", []) if (_loinc(c["code"]) or c["code"]["text"]) == key]
    assert len(found) == 1, (key, obs.get("component"))
    return found[0]


def _codings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "coding":
                yield from value
            else:
                yield from _codings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _codings(item)


# --- every example case ---------------------------------------------------------


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bundle_validates_with_the_r4b_models(name: str) -> None:
    _, bundle = _bundle(_case(name))
    json.dumps(bundle)  # plain JSON data
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    kinds = [type(e.resource) for e in parsed.entry]
    assert kinds[0] is DiagnosticReport
    observations = [k for k in kinds[1:] if k is Observation]
    assert observations and kinds[1 : 1 + len(observations)] == observations
    # Then the referenced resources: one Patient, and the Specimen when the case has one.
    rest = [k.__name__ for k in kinds[1 + len(observations) :]]
    assert rest in (["Patient"], ["Patient", "Specimen"])
    # The round trip through the models loses nothing.
    assert json.loads(parsed.model_dump_json()) == bundle


@pytest.mark.parametrize("name", CASE_NAMES)
def test_no_invented_codes(name: str) -> None:
    _, bundle = _bundle(_case(name))
    codings = list(_codings(bundle))
    assert codings
    for coding in codings:
        assert (coding["system"], coding["code"]) in ALLOWED_CODINGS, coding


@pytest.mark.parametrize("name", CASE_NAMES)
def test_references_full_urls_and_profiles(name: str) -> None:
    _, bundle = _bundle(_case(name))
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
    (report,) = _resources(bundle, "DiagnosticReport")
    observations = _resources(bundle, "Observation")
    obs_urls = urls[1 : 1 + len(observations)]
    assert [r["reference"] for r in report["result"]] == obs_urls
    (patient_entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    for obs in [report, *observations]:
        assert obs["subject"] == {"reference": patient_entry["fullUrl"]}
        assert "contained" not in obs
    for obs in observations:
        assert obs["meta"]["profile"] == [MCODE_TMT]
        assert obs["status"] == "preliminary"
        assert obs["issued"] == ISSUED.isoformat()
        for ref in obs.get("derivedFrom", []):
            assert ref["reference"] in obs_urls
    assert bundle["timestamp"] == ISSUED.isoformat()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_one_observation_per_result(name: str) -> None:
    result, bundle = _bundle(_case(name))
    codes = [_loinc(o["code"]) for o in _resources(bundle, "Observation")]
    ish_parts = [result.ish, result.ish_recount, result.ish_workup, result.ish_subpopulation]
    expected = (
        ["85319-2"] * (result.ihc is not None)
        + ["85318-4"] * sum(p is not None for p in ish_parts)
        + ["48676-1"] * (result.her2 is not None)
        + ["85337-4"] * (result.er is not None)
        + ["85339-0"] * (result.pr is not None)
    )
    assert codes == expected


# --- codes and values, case by case -----------------------------------------------


def test_positive_case_with_hormone_receptors() -> None:
    result, bundle = _bundle(_case("01-ihc-3plus-positive"))
    obs = _by_code(bundle)

    (ihc,) = obs["85319-2"]
    # The 85319-2 answer list is UNCONFIRMED: the score is text only.
    assert ihc["valueCodeableConcept"] == {"text": result.ihc.label}
    assert "3+" in ihc["valueCodeableConcept"]["text"]
    staining = _component(
        ihc, "Percentage of cells with uniform intense complete membrane staining"
    )
    assert staining["valueQuantity"]["value"] == 60.0
    assert staining["valueQuantity"]["code"] == "%"

    (her2,) = obs["48676-1"]
    assert her2["valueCodeableConcept"]["coding"] == [
        {"system": LOINC, "code": "LA6576-8", "display": "Positive"}
    ]
    assert len(her2["derivedFrom"]) == 1

    (er,) = obs["85337-4"]
    assert _loinc(er["valueCodeableConcept"]) == "LA6576-8"
    assert _component(er, "85329-1")["valueQuantity"]["value"] == 80.0
    assert _component(er, "Average staining intensity")["valueString"] == "strong"
    assert _component(er, "Allred score (0–8)")["valueInteger"] == result.er.allred == 8

    (pr,) = obs["85339-0"]
    assert _loinc(pr["valueCodeableConcept"]) == "LA6576-8"
    assert _component(pr, "85325-9")["valueQuantity"]["value"] == 30.0


def test_negative_case() -> None:
    _, bundle = _bundle(_case("02-ihc-0-null"))
    obs = _by_code(bundle)
    assert _loinc(obs["48676-1"][0]["valueCodeableConcept"]) == "LA6577-6"
    # The category in the lab report's words ("HER2-null"), not the engine's key.
    assert _component(obs["48676-1"][0], "HER2 expression category")["valueString"] == "HER2-null"
    assert _loinc(obs["85337-4"][0]["valueCodeableConcept"]) == "LA6577-6"
    assert _loinc(obs["85339-0"][0]["valueCodeableConcept"]) == "LA6577-6"


def test_rejected_ihc_states_the_result_once_and_why() -> None:
    case = _case("01-ihc-3plus-positive", ihc={"score": "2+",
                                               "qc": {"controls_as_expected": False}})
    _, bundle = _bundle(case)
    (ihc,) = _by_code(bundle)["85319-2"]
    assert ihc["valueCodeableConcept"] == {"text": "Cannot be determined"}
    assert ihc["note"] == [{"text": "IHC rejected: controls are not as expected"}]


def test_er_low_positive_is_coded_positive_with_low_positive_text() -> None:
    _, bundle = _bundle(_case("14-er-low-positive"))
    obs = _by_code(bundle)
    (er,) = obs["85337-4"]
    assert _loinc(er["valueCodeableConcept"]) == "LA6576-8"
    assert er["valueCodeableConcept"]["text"].startswith("Low positive")
    assert _component(er, "85329-1")["valueQuantity"]["value"] == 5.0
    (pr,) = obs["85339-0"]
    assert _loinc(pr["valueCodeableConcept"]) == "LA6577-6"
    assert _component(pr, "85325-9")["valueQuantity"]["value"] == 0.5
    (report,) = _resources(bundle, "DiagnosticReport")
    assert "ER low positive" in report["conclusion"]


HER2_TEXT = {
    "05-ihc-2plus-reflex-ish": "HER2 Equivocal (awaiting reflex ISH on the same specimen)",
    "09-group4-ihc2plus-recount-changes-group": "HER2 Pending (awaiting adjudication per "
    "laboratory procedure, as the blinded recount gave another ISH group)",
    "12-single-probe-workup": "HER2 Pending (awaiting dual-probe ISH on the same tissue)",
    "15-ish-rejected-weak-signals": "HER2 Indeterminate (awaiting a repeat test)",
}


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("05-ihc-2plus-reflex-ish", "equivocal"),
        ("09-group4-ihc2plus-recount-changes-group", "equivocal"),
        ("12-single-probe-workup", "equivocal"),
        ("15-ish-rejected-weak-signals", "indeterminate"),
    ],
)
def test_equivocal_and_indeterminate_have_no_answer_code(name: str, status: str) -> None:
    result, bundle = _bundle(_case(name))
    assert result.her2.status == status
    (her2,) = _by_code(bundle)["48676-1"]
    # The status line the lab report states, with what is awaited (issue 12).
    assert her2["valueCodeableConcept"] == {"text": HER2_TEXT[name]}
    assert not any(c["code"] in ANSWER_CODES for c in _codings(bundle))
    notes = " ".join(n["text"] for n in her2["note"])
    # Why there is no answer code is a developer's fact (module docstring), not a
    # note an EHR shows clinicians (issue 12).
    assert "LOINC" not in notes and "confirmed" not in notes
    for step in result.next_steps:
        assert f"Next step: {step.text}" in notes


def test_er_only_case() -> None:
    case = CaseFile.model_validate({"er": {"percent": 45, "intensity": "moderate"}})
    result, bundle = _bundle(case)
    observations = _resources(bundle, "Observation")
    assert [_loinc(o["code"]) for o in observations] == ["85337-4"]
    (er,) = observations
    assert _loinc(er["valueCodeableConcept"]) == "LA6576-8"
    assert _component(er, "85329-1")["valueQuantity"]["value"] == 45.0
    assert result.her2 is None
    Bundle.model_validate(bundle)


# --- ISH components --------------------------------------------------------------

ISH_CASES = [n for n in CASE_NAMES if "ish" in json.loads((CASES / f"{n}.json").read_text())]


@pytest.mark.parametrize("name", ISH_CASES)
def test_ish_components_equal_the_result(name: str) -> None:
    result, bundle = _bundle(_case(name))
    parts = [
        p
        for p in (result.ish, result.ish_recount, result.ish_workup, result.ish_subpopulation)
        if p is not None
    ]
    observations = _by_code(bundle)["85318-4"]
    assert len(observations) == len(parts)
    for ish, obs in zip(parts, observations, strict=True):
        assert _component(obs, "74860-8")["valueQuantity"]["value"] == ish.her2_mean
        if ish.probe == "dual":
            assert _component(obs, "74861-6")["valueQuantity"]["value"] == ish.cep17_mean
            assert _component(obs, "49683-6")["valueQuantity"]["value"] == ish.ratio
        else:
            codes = {_loinc(c["code"]) for c in obs["component"]}
            assert not codes & {"74861-6", "49683-6"}
        cells = _component(obs, "Invasive tumour cells counted")
        assert cells["valueInteger"] == ish.cells_counted
        group = [c for c in obs["component"] if c["code"]["text"].startswith("ISH group")]
        if ish.group is None:
            assert group == []
        else:
            # The group has no confirmed code: a text-only concept.
            assert group == [
                {"code": {"text": "ISH group (ASCO/CAP 2018 dual-probe)"},
                 "valueString": f"Group {ish.group}"}
            ]


def test_ish_group_1_values() -> None:
    _, bundle = _bundle(_case("06-ihc-2plus-group1-positive", ish_observers=2))
    (ish,) = _by_code(bundle)["85318-4"]
    assert _component(ish, "74860-8")["valueQuantity"]["value"] == 5.2
    assert _component(ish, "74861-6")["valueQuantity"]["value"] == 2.0
    assert _component(ish, "49683-6")["valueQuantity"]["value"] == 2.6
    assert _component(ish, "Number of observers")["valueInteger"] == 2
    # The result the lab report states, in the CAP template's words (issue 12).
    assert ish["valueCodeableConcept"] == {"text": "Positive (Group 1)"}


def test_heterogeneity_population_share() -> None:
    _, bundle = _bundle(_case("16-heterogeneity-amplified-subpopulation"))
    first, population = _by_code(bundle)["85318-4"]
    share = _component(population, "Percentage of tumour cells in this population")
    assert share["valueQuantity"]["value"] == 15.0
    assert all(
        c["code"]["text"] != "Percentage of tumour cells in this population"
        for c in first["component"]
    )


def test_fish_kit_gets_the_fish_codes_without_caveat() -> None:
    case = _case("06-ihc-2plus-group1-positive",
                 assays={"ish": {"name": "PathVysion HER-2 DNA Probe Kit"}})
    _, bundle = _bundle(case)
    (ish,) = _by_code(bundle)["85318-4"]
    assert ish["method"] == {"text": "PathVysion HER-2 DNA Probe Kit (FDA-approved)"}
    assert "note" not in ish


def test_brightfield_ish_kit_is_text_only() -> None:
    case = _case("06-ihc-2plus-group1-positive",
                 assays={"ish": {"name": "INFORM HER2 Dual ISH"}})
    _, bundle = _bundle(case)
    by_code = _by_code(bundle)
    assert "85318-4" not in by_code
    (ish,) = by_code["HER2 by ISH"]
    assert list(_codings(ish["code"])) == []
    assert all("coding" not in c["code"] for c in ish["component"])
    values = {c["code"]["text"]: c.get("valueQuantity", {}).get("value") for c in ish["component"]}
    # The CAP template's field name (issue 12: "average ... signals per cell").
    assert values["Average number of HER2 signals per cell"] == 5.2
    assert ish["method"] == {"text": "INFORM HER2 Dual ISH (FDA-approved)"}
    assert "note" not in ish


# --- subject, report, determinism, errors ------------------------------------------


def _entry(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    (entry,) = [e for e in bundle["entry"] if e["resource"]["resourceType"] == kind]
    return entry


def _results_and_report(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return _resources(bundle, "DiagnosticReport") + _resources(bundle, "Observation")


def test_one_patient_referenced_by_every_result() -> None:
    """Issue 12: one Patient entry, not a copy contained in each resource."""
    case = _case("01-ihc-3plus-positive", patient_id="P-7", accession="S25-1", lab=LAB,
                 patient={"name": "Jane Example", "birth_date": "1970-05-06",
                          "mrn": "MRN-0042"})
    _, bundle = _bundle(case)
    patient = _entry(bundle, "Patient")
    assert patient["resource"]["identifier"] == [{
        "use": "usual",
        "type": {"coding": [{"system": V2_0203, "code": "MR",
                             "display": "Medical record number"}],
                 "text": "Medical record number"},
        "system": "urn:oid:2.16.840.1.113883.19.5",
        "value": "MRN-0042",
    }]
    assert patient["resource"]["name"] == [{"use": "official", "text": "Jane Example"}]
    assert patient["resource"]["birthDate"] == "1970-05-06"
    assert patient["resource"]["gender"] == "unknown"  # the case file does not give it
    for resource in _results_and_report(bundle):
        assert resource["subject"] == {"reference": patient["fullUrl"]}
        assert "contained" not in resource
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["identifier"][0]["value"] == "S25-1"


def test_patient_id_without_mrn_and_without_lab_settings() -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive", patient_id="MRN-0042"))
    (identifier,) = _entry(bundle, "Patient")["resource"]["identifier"]
    assert identifier["value"] == "MRN-0042"
    assert "system" not in identifier  # no lab settings, so no MRN system is known


def test_without_identification_the_patient_is_still_the_subject() -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive"))
    patient = _entry(bundle, "Patient")
    assert patient["resource"] == {"resourceType": "Patient", "id": patient["resource"]["id"],
                                   "gender": "unknown"}
    for resource in _results_and_report(bundle):
        assert resource["subject"] == {"reference": patient["fullUrl"]}


def test_specimen_date_is_the_effective_date() -> None:
    case = _case("01-ihc-3plus-positive", specimen={"collected_on": "2025-02-20"})
    _, bundle = _bundle(case)
    assert {r["effectiveDateTime"] for r in _results_and_report(bundle)} == {"2025-02-20"}


def test_unknown_collection_date_is_a_data_absent_reason() -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive"))
    for resource in _results_and_report(bundle):
        assert "effectiveDateTime" not in resource
        assert resource["_effectiveDateTime"] == {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
            "valueCode": "unknown"}]}


def test_specimen_resource() -> None:
    case = _case("01-ihc-3plus-positive", accession="S25-1", received_on="2025-02-21",
                 specimen={"type": "core biopsy", "site": "left breast, 2 o'clock",
                           "laterality": "left", "block": "A2", "collected_on": "2025-02-20",
                           "fixative": "10% NBF", "fixation_time_h": 24,
                           "cold_ischemia_min": 30})
    _, bundle = _bundle(case)
    entry = _entry(bundle, "Specimen")
    specimen = entry["resource"]
    assert specimen["type"] == {"text": "Core biopsy"}
    assert specimen["accessionIdentifier"] == {"value": "S25-1"}
    assert specimen["subject"] == {"reference": _entry(bundle, "Patient")["fullUrl"]}
    assert specimen["receivedTime"] == "2025-02-21"
    assert specimen["collection"] == {"collectedDateTime": "2025-02-20",
                                      "bodySite": {"text": "left breast, 2 o'clock"}}
    assert specimen["processing"] == [{"description": "Fixed in 10% NBF for 24 h"}]
    assert specimen["container"] == [{"identifier": [{"value": "A2"}],
                                      "description": "Tissue block"}]
    assert specimen["note"] == [{"text": "Cold ischemia time: 30 min."}]
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["specimen"] == [{"reference": entry["fullUrl"]}]
    for obs in _resources(bundle, "Observation"):
        assert obs["specimen"] == {"reference": entry["fullUrl"]}


@pytest.mark.parametrize(("specimen_type", "text"), [
    ("core biopsy", "Core biopsy"), ("excision", "Excision"), ("mastectomy", "Mastectomy"),
    ("metastasis biopsy", "Metastasis biopsy"),
])
def test_specimen_type_from_the_case(specimen_type: str, text: str) -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive", specimen={"type": specimen_type}))
    assert _entry(bundle, "Specimen")["resource"]["type"] == {"text": text}


def test_performing_lab_and_signing_pathologist() -> None:
    signed = {"by": "Dr. P. Pathologist, MD", "at": "2025-03-04T08:00:00+00:00"}
    _, bundle = _bundle(_case("01-ihc-3plus-positive", lab=LAB, sign_out=signed))
    lab = _entry(bundle, "Organization")
    assert lab["resource"]["identifier"] == [
        {"type": {"text": "CLIA number"}, "system": CLIA_OID, "value": "99D9999999"}
    ]
    assert lab["resource"]["name"] == "Example Pathology Laboratory (demo)"
    assert lab["resource"]["address"] == [{"use": "work", "text": "100 Example Street"}]
    assert lab["resource"]["telecom"] == [{"system": "phone", "value": "+1 555 0100",
                                           "use": "work"}]
    pathologist = _entry(bundle, "Practitioner")
    assert pathologist["resource"]["name"] == [{"text": "Dr. P. Pathologist, MD"}]
    both = [{"reference": lab["fullUrl"]}, {"reference": pathologist["fullUrl"]}]
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["performer"] == both
    assert report["resultsInterpreter"] == [{"reference": pathologist["fullUrl"]}]
    for resource in _results_and_report(bundle):
        assert resource["performer"] == both
        assert resource["status"] == "final"
    assert "Signed out by Dr. P. Pathologist, MD on 2025-03-04 08:00." in report["conclusion"]
    assert "PRELIMINARY" not in report["conclusion"]


def test_unsigned_report_has_the_lab_only_and_says_preliminary() -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive", lab=LAB))
    lab_url = _entry(bundle, "Organization")["fullUrl"]
    assert not _resources(bundle, "Practitioner")
    for resource in _results_and_report(bundle):
        assert resource["performer"] == [{"reference": lab_url}]
        assert resource["status"] == "preliminary"
    (report,) = _resources(bundle, "DiagnosticReport")
    assert "resultsInterpreter" not in report
    assert report["conclusion"].endswith(
        "PRELIMINARY — NOT FOR CLINICAL USE: awaiting review and sign-out by the pathologist.")


def test_report_category_and_code() -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive"))
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["category"] == [{"coding": [{"system": V2_0074, "code": "LAB",
                                               "display": "Laboratory"}],
                                   "text": "Laboratory"}]
    # No LOINC code for the whole report is in guideline-facts.md: text only.
    assert report["code"] == {"text": "Breast cancer biomarker report: HER2, ER and PgR"}


def test_pdf_is_the_presented_form() -> None:
    pdf = b"%PDF-1.4 not really a report"
    case = _case("01-ihc-3plus-positive")
    _, bundle = _bundle(case, lab_report_pdf=pdf)
    (report,) = _resources(bundle, "DiagnosticReport")
    (form,) = report["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert base64.b64decode(form["data"]) == pdf
    assert form["creation"] == ISSUED.isoformat()
    _, without = _bundle(case)
    assert "presentedForm" not in _resources(without, "DiagnosticReport")[0]


def test_warnings_come_before_the_comments() -> None:
    result, bundle = _bundle(_case("07-group2-ihc1plus-negative"),
                             warnings=["Fixation time 80 h does not meet the requirement."])
    conclusion = _resources(bundle, "DiagnosticReport")[0]["conclusion"]
    assert conclusion.index("Fixation time 80 h") < conclusion.index(result.comments[0])


def test_ucum_units() -> None:
    """Issue 12: valid UCUM, not "signals per nucleus"; the ratio's unit is 1."""
    _, bundle = _bundle(_case("06-ihc-2plus-group1-positive"))
    (ish,) = _by_code(bundle)["85318-4"]
    expected = {"74860-8": "{signals}/{cell}", "74861-6": "{signals}/{cell}", "49683-6": "1"}
    for code, ucum in expected.items():
        quantity = _component(ish, code)["valueQuantity"]
        assert (quantity["system"], quantity["code"]) == (UCUM, ucum)
    assert _component(ish, "74861-6")["code"]["text"] == "Average number of CEP17 signals per cell"
    assert "per nucleus" not in json.dumps(bundle).replace("copy number/nucleus", "")


@pytest.mark.parametrize("name", CASE_NAMES)
def test_no_development_notes_for_clinicians(name: str) -> None:
    """Notes, texts, displays and the conclusion carry no developer's caveats (issue 12)."""
    _, bundle = _bundle(_case(name, sign_out=None))
    shown: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "display", "conclusion", "valueString") and isinstance(
                        value, str):
                    shown.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(bundle)
    banned = re.compile(r"LOINC|confirmed|sent as text|her2kit's sources|\b[a-z0-9]+_[a-z0-9_]+\b"
                        r"|\[[a-z_]+\]|asco-cap-20")
    for text in shown:
        assert not banned.search(text), text


def test_conclusion_names_versions_and_sign_out() -> None:
    result, bundle = _bundle(_case("07-group2-ihc1plus-negative"))
    (report,) = _resources(bundle, "DiagnosticReport")
    conclusion = report["conclusion"]
    # The guideline by its title (its rule-set id is a developer's name).
    assert result.guideline_title in conclusion
    assert f"her2kit {result.her2kit_version}" in conclusion
    # Unsigned: preliminary, in the running header's words (issue 12).
    assert "PRELIMINARY — NOT FOR CLINICAL USE" in conclusion
    assert result.comments and all(c in conclusion for c in result.comments)
    assert report["status"] == "preliminary"
    assert "coding" not in report["code"]


def test_same_bundle_id_same_bundle() -> None:
    case = _case("08-group3-ihc2plus-recount-positive")
    _, first = _bundle(case, bundle_id="abc")
    _, again = _bundle(case, bundle_id="abc")
    _, other = _bundle(case, bundle_id="abd")
    assert first == again
    assert {e["fullUrl"] for e in first["entry"]}.isdisjoint(e["fullUrl"] for e in other["entry"])


def test_default_bundle_id_is_random() -> None:
    case = _case("01-ihc-3plus-positive")
    _, first = _bundle(case, bundle_id=None)
    _, second = _bundle(case, bundle_id=None)
    assert first["id"] != second["id"]


def test_naive_issued_is_refused() -> None:
    case = _case("01-ihc-3plus-positive")
    with pytest.raises(Her2kitInputError, match=r"^issued: needs a time zone") as info:
        build_fhir_bundle(classify(case), case, issued=datetime(2025, 1, 1, 12, 0))
    assert info.value.field == "issued"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "slash/id"])
def test_bad_bundle_id_is_refused(bad: str) -> None:
    case = _case("01-ihc-3plus-positive")
    with pytest.raises(Her2kitInputError, match=r"^bundle_id: must be 1–64"):
        build_fhir_bundle(classify(case), case, issued=ISSUED, bundle_id=bad)


def test_result_of_another_case_is_refused() -> None:
    case = _case("01-ihc-3plus-positive")
    other = _case("02-ihc-0-null")
    with pytest.raises(Her2kitInputError, match="01-ihc-3plus-positive"):
        build_fhir_bundle(classify(case), other, issued=ISSUED)


def test_an_invalid_resource_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each resource goes through the R4B models: a malformed element cannot slip out."""
    good = fhir._coding

    def broken(code: Any, system: str = fhir.LOINC) -> dict[str, Any]:
        return {**good(code, system), "userSelected": "not a boolean"}

    monkeypatch.setattr(fhir, "_coding", broken)
    case = _case("01-ihc-3plus-positive")
    with pytest.raises(ValidationError, match="userSelected"):
        build_fhir_bundle(classify(case), case, issued=ISSUED)
