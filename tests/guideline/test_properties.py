"""Properties that must hold for every input, checked with generated cases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from her2kit.guideline import (
    Case,
    IhcPercent,
    IshInput,
    classify,
    dual_probe_group,
    ihc_from_percent,
    ish_result,
)
from her2kit.guideline._numbers import round_half_up

SCORES = ["0", "0+", "1+", "2+", "3+"]
ORDER = {"negative": 0, "equivocal": 1, "positive": 2}

nucleus = st.tuples(st.integers(0, 30), st.integers(1, 8)).map(list)
nuclei = st.lists(nucleus, min_size=20, max_size=60)


@settings(max_examples=300, deadline=None)
@given(nuclei=nuclei, extra=st.integers(1, 40), index=st.integers(0, 59),
       score=st.sampled_from([None, *SCORES]))
def test_more_her2_copies_never_lower_the_call(nuclei, extra, index, score):
    """Raising one nucleus's HER2 count, all else fixed, never moves the call down."""
    more = [list(n) for n in nuclei]
    more[index % len(more)][0] += extra
    ihc = {"ihc": {"score": score}} if score else {}
    before = classify(Case.model_validate({"ish": {"probe": "dual", "nuclei": nuclei}} | ihc))
    after = classify(Case.model_validate({"ish": {"probe": "dual", "nuclei": more}} | ihc))
    assert ORDER[after.her2.status] >= ORDER[before.her2.status]


@settings(max_examples=300, deadline=None)
@given(nuclei=nuclei)
def test_reported_numbers_reproduce_the_group(nuclei):
    """A reader re-deriving the group from the printed ratio and mean gets the same group."""
    r = ish_result(IshInput(probe="dual", nuclei=nuclei))
    her2 = sum(n[0] for n in nuclei)
    cep17 = sum(n[1] for n in nuclei)
    assert r.ratio == float(round_half_up(_exact(her2, cep17)))
    assert dual_probe_group(r.ratio, r.her2_mean) == r.group


def _exact(a, b):
    from fractions import Fraction

    return Fraction(a, b)


@settings(max_examples=200, deadline=None)
@given(nuclei=nuclei, seed=st.randoms())
def test_order_of_nuclei_does_not_matter(nuclei, seed):
    shuffled = list(nuclei)
    seed.shuffle(shuffled)
    a = ish_result(IshInput(probe="dual", nuclei=nuclei))
    b = ish_result(IshInput(probe="dual", nuclei=shuffled))
    assert (a.group, a.ratio, a.her2_mean, a.cep17_mean) == (b.group, b.ratio, b.her2_mean,
                                                             b.cep17_mean)


percent = st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 1))
KEYS = ["complete_intense", "complete_weak_moderate", "incomplete_moderate_intense",
        "incomplete_faint"]


@settings(max_examples=400, deadline=None)
@given(values=st.lists(percent, min_size=4, max_size=4), key=st.sampled_from(KEYS),
       bump=st.floats(0.1, 50).map(lambda x: round(x, 1)))
def test_more_staining_never_lowers_the_ihc_score(values, key, bump):
    total = sum(values)
    if total > 100:
        values = [v * 100 / total * 0.999 for v in values]
    base = dict(zip(KEYS, values, strict=True))
    room = 100 - sum(base.values())
    more = base | {key: base[key] + min(bump, room)}
    before, _, _ = ihc_from_percent(IhcPercent(**base))
    after, _, _ = ihc_from_percent(IhcPercent(**more))
    assert SCORES.index(after) >= SCORES.index(before)


@settings(max_examples=200, deadline=None)
@given(score=st.sampled_from(SCORES), nuclei=nuclei)
def test_output_always_follows_the_contract(score, nuclei):
    out = classify(Case.model_validate(
        {"ihc": {"score": score}, "ish": {"probe": "dual", "nuclei": nuclei}})).model_dump(
            mode="json")
    assert out["her2"]["status"] in {"positive", "negative", "equivocal", "indeterminate"}
    assert out["her2"]["category"] in {"positive", "low", "ultralow", "null", "unknown"}
    if out["her2"]["status"] == "negative":
        assert out["her2"]["category"] == {"0": "null", "0+": "ultralow", "1+": "low",
                                           "2+": "low"}[score]
    assert out["ish"]["group"] in {1, 2, 3, 4, 5}
    assert all(set(s) == {"code", "text"} for s in out["next_steps"])
