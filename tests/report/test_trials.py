"""The ClinicalTrials.gov query and client, replayed through httpx.MockTransport (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from her2kit.casefile import CaseFile
from her2kit.errors import Her2kitError, Her2kitInputError
from her2kit.guideline import classify
from her2kit.report.trials import (
    TrialsQuery,
    TrialsUnavailableError,
    build_trials_query,
    search_trials,
)

DATA = Path(__file__).parent / "data"
CASES = Path(__file__).resolve().parents[2] / "examples" / "cases"


def _case(name: str, **facts: object) -> CaseFile:
    data = json.loads((CASES / f"{name}.json").read_text())
    return CaseFile.model_validate({**data, **facts})


def _query(name: str, **facts: object) -> TrialsQuery:
    case = _case(name, **facts)
    return build_trials_query(classify(case), case)


def _replay(filename: str, seen: list[httpx.Request], status: int = 200) -> httpx.MockTransport:
    body = (DATA / filename).read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


def _sent_params(request: httpx.Request) -> dict[str, str]:
    parsed = parse_qs(urlsplit(str(request.url)).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), parsed
    return {k: v[0] for k, v in parsed.items()}


# --- the query ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "her2_term"),
    [
        ("01-ihc-3plus-positive", "HER2-positive"),
        ("02-ihc-0-null", "HER2-negative"),
        ("03-ihc-0plus-ultralow", "HER2-ultralow"),
        ("04-ihc-1plus-low", "HER2-low"),
        ("05-ihc-2plus-reflex-ish", None),  # equivocal: no HER2 term
        ("11-ihc2plus-group5-low", "HER2-low"),
        ("15-ish-rejected-weak-signals", None),  # indeterminate
        ("16-heterogeneity-amplified-subpopulation", "HER2-positive"),
    ],
)
def test_her2_term_follows_the_her2_category(case: str, her2_term: str | None) -> None:
    assert _query(case).her2_term == her2_term


@pytest.mark.parametrize(
    ("case", "hr_term"),
    [
        ("01-ihc-3plus-positive", "hormone receptor positive"),  # ER+ PgR+
        ("02-ihc-0-null", "hormone receptor negative"),  # ER- PgR-
        ("04-ihc-1plus-low", "hormone receptor positive"),  # ER+ PgR-
        ("14-er-low-positive", "hormone receptor positive"),  # ER low positive, PgR-
        ("05-ihc-2plus-reflex-ish", None),  # not tested
    ],
)
def test_hormone_receptor_term(case: str, hr_term: str | None) -> None:
    assert _query(case).hr_term == hr_term


def test_one_negative_receptor_alone_gives_no_hr_term() -> None:
    case = CaseFile.model_validate({"ihc": {"score": "1+"}, "er": {"percent": 0}})
    assert build_trials_query(classify(case), case).hr_term is None


@pytest.mark.parametrize(
    ("tumour", "stage_term"),
    [
        ({"setting": "metastatic"}, "metastatic"),
        ({"setting": "recurrent"}, "metastatic"),
        ({"pT": "T2", "pN": "N1", "M": "M1"}, "metastatic"),
        ({"setting": "early", "pT": "T1c", "pN": "N0", "M": "M0"}, "early stage"),
        ({"pT": "T1c", "pN": "N0"}, None),
        ({"setting": "unknown"}, None),
        (None, None),
    ],
)
def test_stage_term(tumour: dict | None, stage_term: str | None) -> None:
    assert _query("04-ihc-1plus-low", tumour=tumour).stage_term == stage_term


def test_params_for_the_v2_studies_endpoint() -> None:
    query = _query("04-ihc-1plus-low", tumour={"setting": "metastatic"})
    assert query.params == {
        "format": "json",
        "query.cond": "breast cancer",
        "query.term": '"HER2-low" AND "hormone receptor positive" AND "metastatic"',
        "filter.overallStatus": "RECRUITING",
        "pageSize": "10",
        "countTotal": "true",
        "fields": "NCTId,BriefTitle,OverallStatus,Phase,Condition",
    }
    assert query.summary == (
        "breast cancer; HER2-low; hormone receptor positive; metastatic; recruiting"
    )


def test_no_terms_means_no_query_term() -> None:
    query = _query("05-ihc-2plus-reflex-ish")
    assert query.terms == ()
    assert "query.term" not in query.params
    assert query.params["query.cond"] == "breast cancer"


def test_query_is_frozen_and_params_is_a_copy() -> None:
    query = _query("01-ihc-3plus-positive")
    with pytest.raises(ValidationError):
        query.her2_term = "HER2-low"  # type: ignore[misc]
    query.params["query.cond"] = "changed"
    assert query.params["query.cond"] == "breast cancer"


# --- the client, replaying recorded responses ---------------------------------


def test_search_sends_the_query_and_reads_the_studies() -> None:
    query = _query("04-ihc-1plus-low", tumour={"setting": "metastatic"})
    seen: list[httpx.Request] = []
    before = datetime.now(UTC)
    result = search_trials(
        query, transport=_replay("ctgov_her2_low_hr_pos_metastatic.json", seen)
    )

    assert len(seen) == 1
    request = seen[0]
    assert request.method == "GET"
    assert request.url.host == "clinicaltrials.gov"
    assert request.url.path == "/api/v2/studies"
    assert _sent_params(request) == query.params
    assert result.request_url == str(request.url)

    assert result.query == query
    assert result.total_count == 3
    assert before <= result.retrieved_at <= datetime.now(UTC)
    assert [s.nct_id for s in result.studies] == ["NCT09900001", "NCT09900002", "NCT09900003"]
    first, second, third = result.studies
    assert first.title.startswith("Example Study A")
    assert first.status == "RECRUITING"
    assert first.phases == ("PHASE2", "PHASE3")
    assert first.phase == "Phase 2/Phase 3"
    assert first.conditions == ("Breast Cancer", "HER2-low Breast Cancer")
    assert first.url == "https://clinicaltrials.gov/study/NCT09900001"
    assert second.phase == "Phase 1"
    assert third.phases == ()  # observational: no phases in the record
    assert third.phase == ""


def test_max_studies_is_sent_as_page_size_and_caps_the_list() -> None:
    query = _query("01-ihc-3plus-positive")
    seen: list[httpx.Request] = []
    result = search_trials(
        query, transport=_replay("ctgov_her2_positive_paged.json", seen), max_studies=2
    )
    assert _sent_params(seen[0])["pageSize"] == "2"
    assert _sent_params(seen[0])["query.term"] == '"HER2-positive" AND "hormone receptor positive"'
    assert [s.nct_id for s in result.studies] == ["NCT09900011", "NCT09900012"]
    assert result.total_count == 57


def test_phase_names() -> None:
    query = _query("01-ihc-3plus-positive")
    result = search_trials(query, transport=_replay("ctgov_her2_positive_paged.json", []))
    assert [s.phase for s in result.studies] == [
        "Phase 3", "Phase 2", "Not applicable", "Early Phase 1",
    ]


def test_base_url_is_used_for_the_request_and_the_study_links() -> None:
    seen: list[httpx.Request] = []
    result = search_trials(
        _query("01-ihc-3plus-positive"),
        transport=_replay("ctgov_her2_positive_paged.json", seen),
        base_url="https://mirror.example.org/",
    )
    assert seen[0].url.host == "mirror.example.org"
    assert result.studies[0].url == "https://mirror.example.org/study/NCT09900011"


def test_no_match_is_an_empty_result() -> None:
    result = search_trials(_query("02-ihc-0-null"), transport=_replay("ctgov_empty.json", []))
    assert result.studies == ()
    assert result.total_count == 0


def test_result_is_frozen() -> None:
    result = search_trials(
        _query("01-ihc-3plus-positive"), transport=_replay("ctgov_her2_positive_paged.json", [])
    )
    assert isinstance(result.studies, tuple)
    with pytest.raises(ValidationError):
        result.studies[0].nct_id = "NCT00000000"  # type: ignore[misc]


# --- offline, timeout, bad answers ----------------------------------------------


def _raising(exc_type: type[httpx.TransportError], message: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type(message, request=request)

    return httpx.MockTransport(handler)


def test_offline_gives_one_clear_line() -> None:
    transport = _raising(httpx.ConnectError, "[Errno -3] Temporary failure in name resolution")
    with pytest.raises(TrialsUnavailableError, match="could not be reached") as info:
        search_trials(_query("01-ihc-3plus-positive"), transport=transport)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "ClinicalTrials.gov could not be reached ([Errno -3] Temporary failure in name "
        "resolution); her2kit trials needs the network — the rest of her2kit works offline"
    )
    assert info.value.reason == "offline"
    assert isinstance(info.value, Her2kitError)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_timeout_gives_one_clear_line() -> None:
    transport = _raising(httpx.ReadTimeout, "The read operation timed out")
    with pytest.raises(TrialsUnavailableError) as info:
        search_trials(_query("01-ihc-3plus-positive"), transport=transport, timeout_s=2.5)
    assert str(info.value) == (
        "ClinicalTrials.gov could not be reached (no answer within 2.5 s); "
        "her2kit trials needs the network — the rest of her2kit works offline"
    )
    assert info.value.reason == "timeout"


def test_timeout_is_passed_to_the_request() -> None:
    seen: list[httpx.Request] = []
    search_trials(
        _query("01-ihc-3plus-positive"),
        transport=_replay("ctgov_empty.json", seen),
        timeout_s=3.0,
    )
    assert seen[0].extensions["timeout"] == {"connect": 3.0, "read": 3.0, "write": 3.0,
                                             "pool": 3.0}


def test_http_error_status() -> None:
    with pytest.raises(TrialsUnavailableError, match=r"answered HTTP 503") as info:
        search_trials(
            _query("01-ihc-3plus-positive"), transport=_replay("ctgov_empty.json", [], 503)
        )
    assert info.value.reason == "http"
    assert "\n" not in str(info.value)


def _body(content: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=content))


@pytest.mark.parametrize(
    ("transport", "where"),
    [
        (_replay("ctgov_malformed_missing_nct_id.json", []), "nctId"),
        (_body(b"<html>Service maintenance</html>"), "Invalid JSON"),
        (_body(b'{"studies": "none"}'), "studies"),
        (_body(b"[]"), "the document"),
        (
            _body(
                b'{"studies": [{"protocolSection": {"identificationModule": {"nctId": '
                b'"../../etc", "briefTitle": "x"}, "statusModule": {"overallStatus": "R"}}}]}'
            ),
            "not an NCT number",
        ),
    ],
)
def test_malformed_answer_has_its_own_message(transport: httpx.MockTransport, where: str) -> None:
    with pytest.raises(TrialsUnavailableError, match="cannot read") as info:
        search_trials(_query("01-ihc-3plus-positive"), transport=transport)
    message = str(info.value)
    assert where in message
    assert "could not be reached" not in message
    assert "\n" not in message
    assert info.value.reason == "malformed"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": -1.0}, "timeout_s"),
        ({"max_studies": 0}, "max_studies"),
        ({"max_studies": 1001}, "max_studies"),
    ],
)
def test_bad_options_are_refused_before_any_request(kwargs: dict, field: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(Her2kitInputError, match=f"^{field}: ") as info:
        search_trials(
            _query("01-ihc-3plus-positive"), transport=_replay("ctgov_empty.json", seen), **kwargs
        )
    assert info.value.field == field
    assert seen == []


def test_result_dumps_to_json_and_reads_back() -> None:
    result = search_trials(
        _query("04-ihc-1plus-low"), transport=_replay("ctgov_her2_low_hr_pos_metastatic.json", [])
    )
    data = json.loads(result.model_dump_json())
    assert data["studies"][0]["phase"] == "Phase 2/Phase 3"
    assert data["studies"][0]["nct_id"] == "NCT09900001"
    assert data["query"]["her2_term"] == "HER2-low"
    assert type(result).model_validate(data) == result
