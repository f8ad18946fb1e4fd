"""The FHIR R4B Bundle: it validates, uses only confirmed codes and carries the engine's values."""

from __future__ import annotations

import json
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
    assert kinds[1:] and all(k is Observation for k in kinds[1:])
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
    assert [r["reference"] for r in report["result"]] == urls[1:]
    for obs in observations:
        assert obs["meta"]["profile"] == [MCODE_TMT]
        assert obs["status"] == "preliminary"
        assert obs["issued"] == ISSUED.isoformat()
        for ref in obs.get("derivedFrom", []):
            assert ref["reference"] in urls[1:]
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
    assert _component(obs["48676-1"][0], obs["48676-1"][0]["component"][0]["code"]["text"])[
        "valueString"
    ] == "null"
    assert _loinc(obs["85337-4"][0]["valueCodeableConcept"]) == "LA6577-6"
    assert _loinc(obs["85339-0"][0]["valueCodeableConcept"]) == "LA6577-6"


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
    assert f"No LOINC answer code is confirmed for '{status}'" in notes
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
    assert not any("not stated" in n["text"] for n in ish["note"])


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
    assert values["Mean HER2 signals per nucleus"] == 5.2
    assert any("INFORM HER2 Dual ISH" in n["text"] for n in ish["note"])


# --- subject, report, determinism, errors ------------------------------------------


def test_patient_is_an_identifier_only() -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive", patient_id="MRN-0042", accession="S25-1"))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert resource["subject"] == {"reference": "#patient"}
        assert resource["contained"] == [
            {"resourceType": "Patient", "id": "patient", "identifier": [{"value": "MRN-0042"}]}
        ]
    (report,) = _resources(bundle, "DiagnosticReport")
    assert report["identifier"][0]["value"] == "S25-1"


def test_no_patient_id_no_subject() -> None:
    _, bundle = _bundle(_case("01-ihc-3plus-positive"))
    for entry in bundle["entry"]:
        assert "subject" not in entry["resource"]
        assert "contained" not in entry["resource"]


def test_specimen_date_is_the_effective_date() -> None:
    case = _case("01-ihc-3plus-positive", specimen={"collected_on": "2025-02-20"})
    _, bundle = _bundle(case)
    assert {e["resource"]["effectiveDateTime"] for e in bundle["entry"]} == {"2025-02-20"}


def test_conclusion_names_versions_and_sign_out() -> None:
    result, bundle = _bundle(_case("07-group2-ihc1plus-negative"))
    (report,) = _resources(bundle, "DiagnosticReport")
    conclusion = report["conclusion"]
    assert result.guideline in conclusion
    assert f"her2kit {result.her2kit_version}" in conclusion
    assert "Decision support; pathologist signs out" in conclusion
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
