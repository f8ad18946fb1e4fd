"""Recruiting clinical trials for a result, from the ClinicalTrials.gov API v2.

Two steps, so the query can be shown (and tested) without the network:

- :func:`build_trials_query` turns a classified case into a
  :class:`TrialsQuery`: condition "breast cancer", a HER2 term from the HER2
  category, a hormone-receptor term, a stage term when the tumour facts give
  one, and the overall-status filter ``RECRUITING``. Its ``params`` are the
  query parameters of ``GET /api/v2/studies``.
- :func:`search_trials` sends that query and returns a frozen
  :class:`TrialsResult`. It is the only function in her2kit that needs the
  network; the HTTP transport can be injected (``httpx.MockTransport`` in the
  tests, which replay recorded responses).

The list is information for a conversation with the care team: a free-text
match on ClinicalTrials.gov, never a statement that a patient is eligible.

Errors::

    Her2kitError
    └── ServiceUnavailableError     (her2kit.errors; the CLI exits 3 for it)
        └── TrialsUnavailableError  no usable answer from ClinicalTrials.gov
            reason "offline"        the connection failed (no network, DNS, refused)
            reason "timeout"        no answer within ``timeout_s``
            reason "http"           an HTTP error status
            reason "malformed"      an answer that is not the documented JSON
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    computed_field,
    model_validator,
)

from her2kit import __version__
from her2kit.casefile import CaseFile
from her2kit.errors import Her2kitInputError, ServiceUnavailableError
from her2kit.guideline.results import ClassifyResult

__all__ = [
    "DEFAULT_BASE_URL",
    "STUDIES_PATH",
    "TrialStudy",
    "TrialsQuery",
    "TrialsResult",
    "TrialsUnavailableError",
    "build_trials_query",
    "search_trials",
]

DEFAULT_BASE_URL = "https://clinicaltrials.gov"
STUDIES_PATH = "/api/v2/studies"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_STUDIES = 10
MAX_PAGE_SIZE = 1000  # the API's largest pageSize
# Piece names of the v2 API; the response keeps the nested protocolSection shape.
FIELDS = ("NCTId", "BriefTitle", "OverallStatus", "Phase", "Condition")

# HER2 category (her2kit.guideline.results.Her2Category) → free-text term.
# "unknown" (equivocal, indeterminate) gives no HER2 term.
HER2_TERMS = {
    "positive": "HER2-positive",
    "low": "HER2-low",
    "ultralow": "HER2-ultralow",
    "null": "HER2-negative",
}
HR_POSITIVE_TERM = "hormone receptor positive"
HR_NEGATIVE_TERM = "hormone receptor negative"
METASTATIC_TERM = "metastatic"
EARLY_TERM = "early stage"

_NCT_ID = re.compile(r"^NCT\d{8}$")
_OFFLINE_HINT = "her2kit trials needs the network — the rest of her2kit works offline"


class TrialsUnavailableError(ServiceUnavailableError):
    """ClinicalTrials.gov gave no usable answer; the message is one line.

    Parameters
    ----------
    message : str
        The one-line message.
    reason : {"offline", "timeout", "http", "malformed"}
        What went wrong, for callers that branch on it.
    """

    def __init__(
        self, message: str, *, reason: Literal["offline", "timeout", "http", "malformed"]
    ) -> None:
        self.reason = reason
        super().__init__(message)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrialsQuery(_Frozen):
    """A ClinicalTrials.gov search built from a result.

    ``terms`` are ANDed in ``query.term``, each as a quoted phrase; the
    condition goes to ``query.cond``; ``overall_status`` to
    ``filter.overallStatus``.
    """

    condition: str = "breast cancer"
    her2_term: str | None = None
    hr_term: str | None = None
    stage_term: str | None = None
    overall_status: tuple[str, ...] = ("RECRUITING",)
    page_size: int = Field(default=DEFAULT_MAX_STUDIES, ge=1, le=MAX_PAGE_SIZE)

    @property
    def terms(self) -> tuple[str, ...]:
        """The free-text terms that are set, HER2 first."""
        return tuple(t for t in (self.her2_term, self.hr_term, self.stage_term) if t)

    @property
    def params(self) -> dict[str, str]:
        """Query parameters of ``GET /api/v2/studies`` (a new dict each time)."""
        params = {"format": "json", "query.cond": self.condition}
        if self.terms:
            params["query.term"] = " AND ".join(f'"{t}"' for t in self.terms)
        params["filter.overallStatus"] = ",".join(self.overall_status)
        params["pageSize"] = str(self.page_size)
        params["countTotal"] = "true"
        params["fields"] = ",".join(FIELDS)
        return params

    @property
    def summary(self) -> str:
        """One line for people: ``breast cancer; HER2-low; ...; recruiting``."""
        status = ", ".join(s.lower().replace("_", " ") for s in self.overall_status)
        return "; ".join((self.condition, *self.terms, status))


class TrialStudy(_Frozen):
    """One study as ClinicalTrials.gov lists it.

    ``status`` and ``phases`` are the API's values (``"RECRUITING"``,
    ``("PHASE2", "PHASE3")``); ``phase`` is the phases for people and is part
    of the JSON dump (and ignored when a dump is read back).
    """

    nct_id: str
    title: str
    status: str
    phases: tuple[str, ...]
    conditions: tuple[str, ...]
    url: str

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "phase" in data:
            data = {k: v for k, v in data.items() if k != "phase"}
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def phase(self) -> str:
        """Phases for people: ``"Phase 2/Phase 3"``, ``"Not applicable"`` or ``""``."""
        names = {"EARLY_PHASE1": "Early Phase 1", "NA": "Not applicable"}
        return "/".join(names.get(p, p.replace("PHASE", "Phase ")) for p in self.phases)


class TrialsResult(_Frozen):
    """The studies found, the query sent and when."""

    query: TrialsQuery
    request_url: str
    retrieved_at: datetime
    total_count: int | None
    studies: tuple[TrialStudy, ...]


def build_trials_query(result: ClassifyResult, case: CaseFile) -> TrialsQuery:
    """Build the ClinicalTrials.gov query for a classified case.

    Parameters
    ----------
    result : ClassifyResult
        What :func:`her2kit.guideline.classify` decided for ``case``.
    case : CaseFile
        The case; ``case.tumour`` (``setting``, ``M``) gives the stage term.

    Returns
    -------
    TrialsQuery
        Condition "breast cancer", status ``RECRUITING``, and the terms:

        - HER2: "HER2-positive", "HER2-low", "HER2-ultralow" or
          "HER2-negative" (IHC 0 without staining) from ``result.her2.category``;
          none while HER2 is equivocal, indeterminate or untested.
        - Hormone receptors: "hormone receptor positive" when ER or PgR is
          positive (ER low positive counts as positive, ASCO/CAP 2020);
          "hormone receptor negative" when both were tested and are negative;
          none otherwise.
        - Stage: "metastatic" when ``M`` is M1 or the setting is metastatic or
          recurrent; "early stage" when the setting is early; none otherwise.

    Notes
    -----
    ClinicalTrials.gov has no structured filter for HER2, hormone-receptor
    status or stage: these are free-text terms matched against the study
    records, so the list can miss studies that word them differently.
    """
    her2_term = HER2_TERMS.get(result.her2.category) if result.her2 is not None else None

    receptors = [r for r in (result.er, result.pr) if r is not None]
    hr_term = None
    if any(r.status != "negative" for r in receptors):
        hr_term = HR_POSITIVE_TERM
    elif len(receptors) == 2:
        hr_term = HR_NEGATIVE_TERM

    stage_term = None
    tumour = case.tumour
    if tumour is not None:
        if tumour.M == "M1" or tumour.setting in ("metastatic", "recurrent"):
            stage_term = METASTATIC_TERM
        elif tumour.setting == "early":
            stage_term = EARLY_TERM
    return TrialsQuery(her2_term=her2_term, hr_term=hr_term, stage_term=stage_term)


def search_trials(
    query: TrialsQuery,
    *,
    transport: httpx.BaseTransport | None = None,
    base_url: str = DEFAULT_BASE_URL,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_studies: int = DEFAULT_MAX_STUDIES,
) -> TrialsResult:
    """Ask ClinicalTrials.gov for the studies matching ``query`` (one request).

    Parameters
    ----------
    query : TrialsQuery
        From :func:`build_trials_query`.
    transport : httpx.BaseTransport, optional
        The HTTP transport; httpx's default network transport when ``None``.
        Tests pass an ``httpx.MockTransport``.
    base_url : str
        Scheme and host of the API (and of the study pages in ``url``).
    timeout_s : float
        Seconds to wait for the connection and for each read; must be > 0.
    max_studies : int
        At most this many studies (1–1000), sent as ``pageSize``.

    Returns
    -------
    TrialsResult
        The studies in the API's order, the total count of matches, the
        request URL and the retrieval time (UTC).

    Raises
    ------
    TrialsUnavailableError
        No connection or no answer in time (``reason`` "offline" /
        "timeout"), an HTTP error status ("http"), or an answer that is not
        the API's JSON ("malformed").
    Her2kitInputError
        ``timeout_s`` or ``max_studies`` out of range.
    """
    if not timeout_s > 0:
        raise Her2kitInputError(f"must be > 0 seconds, got {timeout_s!r}", field="timeout_s")
    if not 1 <= max_studies <= MAX_PAGE_SIZE:
        raise Her2kitInputError(
            f"must be 1–{MAX_PAGE_SIZE}, got {max_studies!r}", field="max_studies"
        )
    params = {**query.params, "pageSize": str(max_studies)}
    headers = {"Accept": "application/json", "User-Agent": f"her2kit/{__version__}"}
    try:
        with httpx.Client(
            base_url=base_url, transport=transport, timeout=timeout_s, headers=headers
        ) as client:
            response = client.get(STUDIES_PATH, params=params)
    except httpx.TimeoutException as exc:
        raise TrialsUnavailableError(
            f"ClinicalTrials.gov could not be reached (no answer within {timeout_s:g} s); "
            f"{_OFFLINE_HINT}",
            reason="timeout",
        ) from exc
    except httpx.TransportError as exc:
        raise TrialsUnavailableError(
            f"ClinicalTrials.gov could not be reached ({_one_line(exc)}); {_OFFLINE_HINT}",
            reason="offline",
        ) from exc
    retrieved_at = datetime.now(UTC)
    request_url = str(response.request.url)

    if response.status_code != 200:
        raise TrialsUnavailableError(
            f"ClinicalTrials.gov answered HTTP {response.status_code} "
            f"{response.reason_phrase} to {request_url}; no trials are listed",
            reason="http",
        )
    try:
        page = _Page.model_validate_json(response.content)
        studies = tuple(_study(s, base_url) for s in page.studies[:max_studies])
    except (ValidationError, ValueError) as exc:
        raise TrialsUnavailableError(
            "ClinicalTrials.gov sent an answer her2kit cannot read "
            f"({_first_error(exc)}); the API may have changed — no trials are listed",
            reason="malformed",
        ) from exc
    return TrialsResult(
        query=query,
        request_url=request_url,
        retrieved_at=retrieved_at,
        total_count=page.totalCount,
        studies=studies,
    )


# ---------------------------------------------------------------------------
# the part of the v2 response her2kit reads (other keys are ignored)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Identification(_Lenient):
    nctId: str
    briefTitle: str


class _Status(_Lenient):
    overallStatus: str


class _Design(_Lenient):
    phases: list[str] = []


class _Conditions(_Lenient):
    conditions: list[str] = []


class _Protocol(_Lenient):
    identificationModule: _Identification
    statusModule: _Status
    designModule: _Design = _Design()
    conditionsModule: _Conditions = _Conditions()


class _Study(_Lenient):
    protocolSection: _Protocol


class _Page(_Lenient):
    studies: list[_Study]
    totalCount: int | None = None
    nextPageToken: str | None = None


def _study(study: _Study, base_url: str) -> TrialStudy:
    p = study.protocolSection
    nct_id = p.identificationModule.nctId
    if not _NCT_ID.match(nct_id):
        raise ValueError(f"study id {nct_id!r} is not an NCT number")
    return TrialStudy(
        nct_id=nct_id,
        title=p.identificationModule.briefTitle,
        status=p.statusModule.overallStatus,
        phases=tuple(p.designModule.phases),
        conditions=tuple(p.conditionsModule.conditions),
        url=f"{base_url.rstrip('/')}/study/{nct_id}",
    )


def _one_line(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "the document"
        return f"{where}: {err['msg']}"
    return _one_line(exc)


def saved_studies(raw: Any, *, source: str) -> list[dict[str, Any]]:
    """Check the ``studies`` of a ``her2kit trials --json`` file before a report shows them.

    Each study must be an object with an NCT number (``NCT`` and eight digits), a text
    title and a link that can only open the registry's page of that study: ``https://``,
    a host, a path ending in the NCT number, no query or fragment. Anything else (a
    ``javascript:`` or ``data:`` URL, a study without ``nct_id``, a list where an object
    belongs) is refused in one line naming the study, never rendered as a live link.

    Parameters
    ----------
    raw : object
        The file's ``studies`` value.
    source : str
        The file, named in errors.

    Returns
    -------
    list of dict
        The studies, as given.
    """
    if not isinstance(raw, list):
        raise Her2kitInputError("no 'studies' list: not a `her2kit trials --json` file",
                                field=source)
    for i, study in enumerate(raw):
        where = f"{source}: studies[{i}]"
        if not isinstance(study, dict):
            raise Her2kitInputError("a study must be an object", field=where)
        nct_id = study.get("nct_id")
        if not isinstance(nct_id, str) or not _NCT_ID.match(nct_id):
            raise Her2kitInputError(f"nct_id {nct_id!r} is not an NCT number", field=where)
        if not isinstance(study.get("title"), str):
            raise Her2kitInputError("title must be text", field=where)
        url = study.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if (parts is None or parts.scheme != "https" or not parts.netloc or parts.query
                or parts.fragment or not parts.path.rstrip("/").endswith("/" + nct_id)):
            raise Her2kitInputError(
                f"url {url!r} is not an https:// link to the registry's page of {nct_id}",
                field=where)
    return raw
