"""The JSON contract of ``her2kit classify``: input models.

These pydantic models *are* the documented input format. Unknown keys,
non-numeric or negative counts, percentages outside 0–100 and the other bad
inputs listed in the README are refused here, at the boundary, with a message
that names the field. The rules themselves (``ihc.py``, ``ish.py``,
``hormone.py``, ``integrate.py``) take these validated objects.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

__all__ = [
    "Case",
    "HormoneReceptorInput",
    "IhcInput",
    "IhcPercent",
    "IhcQc",
    "IshInput",
    "IshQc",
    "IshSubpopulation",
]

# Strict numbers: "4.6" (a string) or true (a bool) is not a count.
Count = Annotated[int, Strict(), Field(ge=0)]
Number = Annotated[float, Strict()]
Percent = Annotated[float, Strict(), Field(ge=0, le=100)]
#: Most signals per nucleus (and so the largest mean and ratio) accepted: amplified
#: nuclei hold tens of copies, clusters are estimated at ~20; more is a typing error,
#: and the exact decimal rounding of reports has 28 significant digits (1e26 overflows it).
MAX_SIGNALS = 1000
Signals = Annotated[int, Strict(), Field(ge=0, le=MAX_SIGNALS)]
Mean = Annotated[float, Strict(), Field(ge=0, le=MAX_SIGNALS)]
IhcScoreLabel = Literal["0", "0+", "1+", "2+", "3+"]
Intensity = Literal["none", "weak", "moderate", "strong"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IhcPercent(_Model):
    """Percent of invasive tumour cells in each membrane-staining class.

    The fifth class, no membrane staining, is the remainder to 100 %.
    """

    complete_intense: Percent = 0.0
    complete_weak_moderate: Percent = 0.0
    incomplete_moderate_intense: Percent = 0.0
    incomplete_faint: Percent = 0.0

    @model_validator(mode="after")
    def _sum_at_most_100(self) -> IhcPercent:
        total = self.stained_total
        # Image analysis adds rounded shares: allow float noise, not real excess.
        if total > 100.0 + 1e-6:
            raise ValueError(f"membrane-staining percentages sum to {total:g}, over 100")
        return self

    @property
    def stained_total(self) -> float:
        """Percent of cells with any membrane staining."""
        return (
            self.complete_intense
            + self.complete_weak_moderate
            + self.incomplete_moderate_intense
            + self.incomplete_faint
        )


class IhcQc(_Model):
    """IHC rejection criteria [S1 p.4]: any one rejects the IHC result."""

    controls_as_expected: bool = True
    artifacts_involve_most_of_sample: bool = False
    internal_control_ducts_strongly_stained: bool = False


class IhcInput(_Model):
    """An IHC result: a manual score, class percentages, or both (must agree)."""

    score: IhcScoreLabel | None = None
    percent: IhcPercent | None = None
    qc: IhcQc = IhcQc()

    @model_validator(mode="after")
    def _score_or_percent(self) -> IhcInput:
        if self.score is None and self.percent is None:
            raise ValueError("give 'score' or 'percent'")
        return self


class IshQc(_Model):
    """ISH rejection criteria [S1 p.4]: any one makes the ISH result indeterminate."""

    controls_as_expected: bool = True
    invasive_tumour_areas_counted: Count | None = None
    weak_signals_pct: Percent | None = None
    cytoplasmic_signals_pct: Percent | None = None
    poor_nuclear_resolution: bool = False
    strong_autofluorescence: bool = False


class IshInput(_Model):
    """An ISH count: per-nucleus counts, or means with the number of cells counted.

    ``probe="dual"``: ``nuclei`` as ``[[her2, cep17], ...]``, or
    ``cells_counted`` with ``her2_mean`` and ``cep17_mean`` (and optionally the
    reported ``ratio``, which must agree with the means).
    ``probe="single"``: ``cells_counted`` and ``her2_mean``, or ``nuclei`` as
    ``[[her2], ...]`` / ``[her2, ...]``.
    """

    probe: Literal["dual", "single"]
    nuclei: list[list[Signals] | Signals] | None = None
    cells_counted: Count | None = None
    her2_mean: Mean | None = None
    cep17_mean: Mean | None = None
    ratio: Mean | None = None
    qc: IshQc = IshQc()

    @model_validator(mode="after")
    def _one_form(self) -> IshInput:
        means = (self.cells_counted, self.her2_mean, self.cep17_mean)
        if self.nuclei is not None and any(v is not None for v in means):
            raise ValueError("give either 'nuclei' or the means, not both")
        if self.nuclei is None:
            if self.cells_counted is None or self.her2_mean is None:
                raise ValueError("give 'nuclei', or 'cells_counted' with 'her2_mean'")
            if self.probe == "dual" and self.cep17_mean is None:
                raise ValueError("dual-probe ISH needs 'cep17_mean'")
        if self.probe == "single" and (self.cep17_mean is not None or self.ratio is not None):
            raise ValueError("single-probe ISH has no CEP17: drop 'cep17_mean' and 'ratio'")
        if (self.her2_mean is not None and self.cep17_mean
                and self.her2_mean > MAX_SIGNALS * self.cep17_mean):
            raise ValueError(f"her2_mean / cep17_mean is over {MAX_SIGNALS}: check "
                             f"cep17_mean (got {self.cep17_mean!r})")
        return self


class IshSubpopulation(IshInput):
    """A separately counted cell population (heterogeneity) [S1 p.4]."""

    percent_of_tumour: Percent


class HormoneReceptorInput(_Model):
    """ER or PgR by IHC: percent of tumour nuclei staining and average intensity."""

    percent: Percent
    intensity: Intensity | None = None


class Case(_Model):
    """Everything ``her2kit classify`` takes; every part is optional but one is needed."""

    case_id: str | None = None
    description: str | None = None
    ihc: IhcInput | None = None
    ish: IshInput | None = None
    ish_recount: IshInput | None = None
    ish_workup: IshInput | None = None
    ish_subpopulation: IshSubpopulation | None = None
    er: HormoneReceptorInput | None = None
    pr: HormoneReceptorInput | None = None

    @model_validator(mode="after")
    def _something_to_classify(self) -> Case:
        parts = (self.ihc, self.ish, self.er, self.pr)
        # A case file may take its IHC or ISH block from image-analysis results
        # (``CaseFile.image_analysis``), merged in before classification.
        if all(p is None for p in parts) and not getattr(self, "image_analysis", ()):
            raise ValueError("nothing to classify: give at least one of ihc, ish, er, pr")
        if self.ish is None:
            for name in ("ish_recount", "ish_workup", "ish_subpopulation"):
                if getattr(self, name) is not None:
                    raise ValueError(f"'{name}' needs the first count in 'ish'")
        if self.ish_workup is not None and (self.ish is None or self.ish.probe != "single"):
            raise ValueError("'ish_workup' is the dual-probe work-up of a single-probe 'ish'")
        if self.ish_workup is not None and self.ish_workup.probe != "dual":
            raise ValueError("'ish_workup' must be a dual-probe count (probe 'dual')")
        return self
