"""Standard report comments and next-step texts, as data.

The Group 2–4 comments paraphrase ASCO/CAP 2018 Figs 4–6 [S1 p.10–12; S2].
The 0-versus-1+ comment of the 2023 update exists [S4], but its exact wording
is UNCONFIRMED (shared/guideline-facts.md §8 item 1): the text below is
her2kit's paraphrase of why the distinction matters, not the guideline's.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["GROUP_COMMENTS", "HER2_LOW_COMMENT", "NEXT_STEP_TEXT", "ULTRALOW_COMMENT"]

GROUP_COMMENTS = MappingProxyType({
    2: (
        "ISH Group 2 (HER2/CEP17 ratio ≥2.0, average HER2 copy number <4.0 signals/cell): "
        "evidence is limited on the efficacy of HER2-targeted therapy in this small subset; "
        "in the first-generation adjuvant trastuzumab trials these patients did not appear "
        "to benefit. Without concurrent IHC 3+, the tumour is considered HER2-negative."
    ),
    3: (
        "ISH Group 3 (HER2/CEP17 ratio <2.0, average HER2 copy number ≥6.0 signals/cell): "
        "there are insufficient data on the efficacy of HER2-targeted therapy when the ratio "
        "is <2.0 without protein overexpression, as such patients were not eligible for the "
        "first-generation trials. With concurrent IHC 0 or 1+, the tumour is considered "
        "HER2-negative."
    ),
    4: (
        "ISH Group 4 (HER2/CEP17 ratio <2.0, average HER2 copy number ≥4.0 and <6.0 "
        "signals/cell): it is uncertain whether patients benefit from HER2-targeted therapy "
        "without IHC 3+; results close to the ratio threshold may change on repeat testing by "
        "chance. Without concurrent IHC 3+, the tumour is considered HER2-negative, without "
        "further testing of the same specimen."
    ),
})

# UNCONFIRMED wording (paraphrase); see module docstring.
HER2_LOW_COMMENT = (
    "HER2 IHC 0 and 1+ results are both HER2-negative by ASCO/CAP criteria. The distinction "
    "between IHC 0 and 1+ (and IHC 2+ with negative ISH) may matter for treatment choice: "
    "tumours with HER2-low expression (IHC 1+, or 2+ with negative ISH) were eligible for "
    "trastuzumab deruxtecan in metastatic breast cancer (DESTINY-Breast04)."
)
ULTRALOW_COMMENT = (
    "IHC 0 with faint, incomplete membrane staining in ≤10% of tumour cells (CAP 'Score 0+', "
    "HER2-ultralow) defined a population of DESTINY-Breast06 (hormone-receptor-positive "
    "metastatic disease). ASCO/CAP does not define ultralow as a separate result category "
    "(2023 update); the result is HER2-negative."
)

NEXT_STEP_TEXT = MappingProxyType({
    "reflex_ish": (
        "IHC 2+ is equivocal: order a reflex ISH test on the same specimen, or a new test "
        "(IHC or ISH) on a new specimen if available."
    ),
    "ihc_workup": (
        "Perform HER2 IHC on sections of the same tissue used for ISH (if not already done) "
        "and review the ISH and IHC slides together to choose the areas to count."
    ),
    "blinded_recount": (
        "An additional observer, blinded to the earlier ISH result, counts at least 20 cells "
        "that include the area of IHC 2+ invasive cancer."
    ),
    "dual_probe_ish": (
        "Perform dual-probe ISH on the same tissue to decide the final result."
    ),
    "adjudicate": (
        "The recount falls in a different ISH group than the first count: adjudicate per the "
        "laboratory's internal procedures to reach the final category."
    ),
    "repeat_test": (
        "The test cannot be interpreted: reject and repeat it (or test by another method) "
        "and report the current result as indeterminate."
    ),
})
