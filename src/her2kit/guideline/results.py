"""Frozen result types of the guideline engine; each carries its evidence.

They serialise (``model_dump(mode="json")``) to the documented output contract
of ``her2kit classify --json``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ClassifyResult",
    "Her2Decision",
    "HormoneReceptorResult",
    "IhcResult",
    "IshResult",
    "NextStep",
]

Her2Status = Literal["positive", "negative", "equivocal", "indeterminate"]
Her2Category = Literal["positive", "low", "ultralow", "null", "unknown"]
NextStepCode = Literal[
    "reflex_ish", "ihc_workup", "blinded_recount", "dual_probe_ish", "adjudicate", "repeat_test"
]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NextStep(_Result):
    """What the lab must do next, with a code scripts can branch on."""

    code: NextStepCode
    text: str


class IhcResult(_Result):
    """HER2 IHC score with the rule that set it.

    ``score`` is ``None`` when the IHC result is rejected (``status`` is then
    ``"indeterminate"`` and ``rejected_because`` says why).
    """

    score: Literal["0", "0+", "1+", "2+", "3+"] | None
    label: str
    status: Her2Status
    source: Literal["manual", "percent"]
    percent: dict[str, float] | None
    percent_complete_intense: float | None
    rule: str
    thresholds: dict[str, float]
    rejected_because: list[str]
    rationale: list[str]


class IshResult(_Result):
    """An ISH count and its call.

    ``group`` is the 2018 dual-probe group (``None`` for single-probe, for the
    2013 rule set, and when the count is rejected or too small).
    ``call`` is the ISH result before integration with IHC.
    """

    probe: Literal["dual", "single"]
    group: Literal[1, 2, 3, 4, 5] | None
    call: Literal["positive", "negative", "equivocal", "needs_workup", "indeterminate"]
    cells_counted: int
    her2_mean: float
    cep17_mean: float | None
    ratio: float | None
    source: Literal["nuclei", "means"]
    percent_of_tumour: float | None = None
    thresholds: dict[str, float]
    rejected_because: list[str]
    rationale: list[str]


class HormoneReceptorResult(_Result):
    """ER or PgR status (ASCO/CAP 2020) with the Allred score when intensity is known."""

    receptor: Literal["ER", "PgR"]
    status: Literal["positive", "low positive", "negative"]
    percent: float
    intensity: str | None
    allred: int | None
    allred_proportion: int
    allred_intensity: int | None
    guideline: str
    rationale: list[str]


class Her2Decision(_Result):
    """The integrated HER2 result."""

    status: Her2Status
    category: Her2Category
    rule: str


class ClassifyResult(_Result):
    """Everything ``her2kit classify`` decides, in the documented JSON shape."""

    guideline: str
    guideline_title: str
    her2kit_version: str
    case_id: str | None
    ihc: IhcResult | None
    ish: IshResult | None
    ish_recount: IshResult | None
    ish_workup: IshResult | None
    ish_subpopulation: IshResult | None
    her2: Her2Decision | None
    er: HormoneReceptorResult | None
    pr: HormoneReceptorResult | None
    next_steps: list[NextStep]
    comments: list[str]
    rationale: list[str]
    disclaimer: str
