"""`her2kit classify` through a real subprocess: the JSON contract, examples, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "cases"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "her2kit", *args], input=stdin, capture_output=True, text=True,
        timeout=60, cwd=REPO,
    )


def classify_json(*args: str, stdin: str | None = None) -> dict:
    proc = run("classify", "--json", *args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


CONTRACT_KEYS = {"guideline", "ihc", "ish", "her2", "er", "pr", "next_steps", "comments",
                 "rationale"}


def test_shortcut_flags_follow_the_contract():
    out = classify_json("--ihc", "2+", "--her2-mean", "4.6", "--cep17-mean", "2.1",
                        "--cells", "20")
    assert set(out) >= CONTRACT_KEYS
    assert out["guideline"] == "asco-cap-2018"
    assert out["ihc"]["score"] == "2+"
    assert {k: out["ish"][k] for k in ("group", "ratio", "her2_mean", "cep17_mean",
                                       "cells_counted")} == {
        "group": 1, "ratio": 2.19, "her2_mean": 4.6, "cep17_mean": 2.1, "cells_counted": 20}
    assert out["her2"] == {"status": "positive", "category": "positive",
                           "rule": "dual_ish_positive"}
    assert out["er"] is None and out["pr"] is None
    assert isinstance(out["rationale"], list) and out["rationale"]


def test_stdin_and_guideline_option():
    case = json.dumps({"ihc": {"score": "2+"}, "ish": {"probe": "dual", "cells_counted": 20,
                                                       "her2_mean": 4.5, "cep17_mean": 3.0}})
    assert classify_json("-", stdin=case)["her2"]["status"] == "equivocal"
    old = classify_json("-", "--guideline", "asco-cap-2013", stdin=case)
    assert old["guideline"] == "asco-cap-2013" and old["ish"]["call"] == "equivocal"


def test_single_probe_flags_and_er_pr_flags():
    out = classify_json("--ihc", "2+", "--probe", "single", "--her2-mean", "4.8", "--cells",
                        "20", "--er", "5", "--er-intensity", "weak", "--pr", "0")
    assert [s["code"] for s in out["next_steps"]] == ["dual_probe_ish"]
    assert out["er"]["status"] == "low positive" and out["er"]["allred"] == 3
    assert out["pr"]["status"] == "negative"


def test_readable_summary_names_status_guideline_and_sign_out():
    proc = run("classify", "--ihc", "0+")
    assert proc.returncode == 0
    assert "HER2: NEGATIVE (HER2-ultralow)" in proc.stdout
    assert "2018" in proc.stdout and "pathologist" in proc.stdout


# Expected decisions for the documented example cases (examples/cases/README.md), read off
# the guideline tables by hand.
EXPECTED = {
    "01-ihc-3plus-positive": ("positive", "positive", None, []),
    "02-ihc-0-null": ("negative", "null", None, []),
    "03-ihc-0plus-ultralow": ("negative", "ultralow", None, []),
    "04-ihc-1plus-low": ("negative", "low", None, []),
    "05-ihc-2plus-reflex-ish": ("equivocal", "unknown", None, ["reflex_ish"]),
    "06-ihc-2plus-group1-positive": ("positive", "positive", 1, []),
    "07-group2-ihc1plus-negative": ("negative", "low", 2, []),
    "08-group3-ihc2plus-recount-positive": ("positive", "positive", 3, []),
    "09-group4-ihc2plus-recount-changes-group": ("equivocal", "unknown", 4, ["adjudicate"]),
    "10-group4-ihc2plus-needs-recount": ("equivocal", "unknown", 4, ["blinded_recount"]),
    "11-ihc2plus-group5-low": ("negative", "low", 5, []),
    "12-single-probe-workup": ("equivocal", "unknown", None, ["dual_probe_ish"]),
    "13-single-probe-dual-workup-positive": ("positive", "positive", None, []),
    "14-er-low-positive": ("negative", "low", None, []),
    "15-ish-rejected-weak-signals": ("indeterminate", "unknown", None, ["repeat_test"]),
    "16-heterogeneity-amplified-subpopulation": ("positive", "positive", 5, []),
}


def test_every_example_is_listed():
    assert {p.stem for p in EXAMPLES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_case(name):
    out = classify_json(str(EXAMPLES / f"{name}.json"))
    status, category, group, steps = EXPECTED[name]
    assert out["her2"]["status"] == status
    assert out["her2"]["category"] == category
    assert (out["ish"] or {}).get("group") == group
    assert [s["code"] for s in out["next_steps"]] == steps
    assert out["case_id"] == name[:2] + "-" + name[3:]


BAD_INPUT = [
    # (stdin JSON, text expected in the one-line error)
    ('{"ish": {"probe": "dual", "nuclei": [[2, -1]]}}', "ish.nuclei[0][1]"),
    ('{"ish": {"probe": "dual", "cells_counted": 20, "her2_mean": -4, "cep17_mean": 2}}',
     "ish.her2_mean"),
    ('{"ish": {"probe": "dual", "cells_counted": 20, "her2_mean": "4.6", "cep17_mean": 2}}',
     "ish.her2_mean"),
    ('{"ish": {"probe": "dual", "nuclei": [["2", 2]]}}', "ish.nuclei[0][0]"),
    ('{"ish": {"probe": "dual", "nuclei": [[2.5, 2]]}}', "ish.nuclei[0][0]"),
    ('{"ihc": {"percent": {"complete_intense": 120}}}', "ihc.percent.complete_intense"),
    ('{"ihc": {"percent": {"complete_intense": -5}}}', "ihc.percent.complete_intense"),
    ('{"ihc": {"percent": {"complete_intense": 60, "incomplete_faint": 50}}}',
     "sum to 110, over 100"),
    ('{"er": {"percent": 101}}', "er.percent"),
    ('{"ish": {"probe": "dual", "nuclei": ' + json.dumps([[3, 2]] * 19) + "}}",
     "only 19 nuclei"),
    ('{"ish": {"probe": "dual", "nuclei": ' + json.dumps([[3, 0]] * 20) + "}}",
     "CEP17 count is 0"),
    ('{"ish": {"probe": "dual", "cells_counted": 20, "her2_mean": 4, "cep17_mean": 0}}',
     "mean CEP17 is 0"),
    ('{"ish": {"probe": "dual", "cells_counted": 20, "her2_mean": 4.6, "cep17_mean": 2.1, '
     '"ratio": 3.5}}', "ish.ratio: ratio 3.5 contradicts"),
    ('{"ihc": {"score": "2+"}, "colour": "brown"}', "colour: unknown key"),
    ('{"ihc": {"score": "4+"}}', "ihc.score"),
    ('{"ihc": {"score": "2+", "pattern": "x"}}', "ihc.pattern: unknown key"),
    ('{"ish": {"probe": "triple", "cells_counted": 20, "her2_mean": 4}}', "ish.probe"),
    ('{"ihc": ', "malformed JSON"),
    ('{"ihc": {"score": NaN}}', "malformed JSON"),
    ("[1, 2]", "expected a JSON object"),
    ("{}", "nothing to classify"),
    ('{"ihc": {"score": "1+"}, "ish_recount": {"probe": "dual", "cells_counted": 20, '
     '"her2_mean": 4, "cep17_mean": 2}}', "needs the first count"),
]


@pytest.mark.parametrize(("case", "expected"), BAD_INPUT)
def test_bad_input_is_one_line_exit_2_and_nothing_on_stdout(case, expected):
    proc = run("classify", "--json", "-", stdin=case)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("her2kit: error: ")
    assert expected in lines[0]


def test_missing_file_and_unknown_guideline():
    proc = run("classify", "no-such-case.json")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "no-such-case.json: file not found" in proc.stderr
    proc = run("classify", "--guideline", "asco-cap-2099", "--ihc", "1+")
    assert proc.returncode == 2 and "unknown guideline 'asco-cap-2099'" in proc.stderr


def test_case_file_and_flags_together_are_refused():
    proc = run("classify", str(EXAMPLES / "04-ihc-1plus-low.json"), "--ihc", "1+")
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("her2kit ")


def test_readable_summary_lists_next_step_codes():
    proc = run("classify", str(EXAMPLES / "10-group4-ihc2plus-needs-recount.json"))
    assert proc.returncode == 0
    assert "[blinded_recount] An additional observer" in proc.stdout
