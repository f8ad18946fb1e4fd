"""The ASCO/CAP HER2 rules as data and small pure functions (no I/O).

Start with :func:`classify` on a :class:`Case`; the parts (IHC score, ISH
group, single-probe call, ER/PgR, integration) are public for image-analysis
code that needs one of them. Thresholds per guideline version live in
:mod:`her2kit.guideline.versions`.
"""

from her2kit.guideline.hormone import allred_proportion_score, hormone_receptor_result
from her2kit.guideline.ihc import ihc_from_percent, ihc_result
from her2kit.guideline.integrate import classify, her2_decision
from her2kit.guideline.ish import dual_probe_group, ish_result, single_probe_call
from her2kit.guideline.models import (
    Case,
    HormoneReceptorInput,
    IhcInput,
    IhcPercent,
    IshInput,
    IshSubpopulation,
)
from her2kit.guideline.results import (
    ClassifyResult,
    Her2Decision,
    HormoneReceptorResult,
    IhcResult,
    IshResult,
    NextStep,
)
from her2kit.guideline.versions import DEFAULT_GUIDELINE, GUIDELINES, get_guideline

__all__ = [
    "DEFAULT_GUIDELINE",
    "GUIDELINES",
    "Case",
    "ClassifyResult",
    "Her2Decision",
    "HormoneReceptorInput",
    "HormoneReceptorResult",
    "IhcInput",
    "IhcPercent",
    "IhcResult",
    "IshInput",
    "IshResult",
    "IshSubpopulation",
    "NextStep",
    "allred_proportion_score",
    "classify",
    "dual_probe_group",
    "get_guideline",
    "her2_decision",
    "hormone_receptor_result",
    "ihc_from_percent",
    "ihc_result",
    "ish_result",
    "single_probe_call",
]
