"""The layer contracts of pyproject.toml ``[tool.importlinter]``, checked by import-linter.

``make test`` runs ``lint-imports`` itself; this test runs it too, so that a plain
``pytest`` checks the direction of imports. One test per contract, so a broken one is named.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The contracts this test expects, by id (a contract dropped from pyproject.toml fails here).
CONTRACTS = (
    "guideline-pure",
    "imaging-arrays-only",
    "io-below-guideline",
    "viz-below-guideline",
    "report-without-imaging",
    "cli-through-pipelines",
    "segment-below-ihc-ish",
    "color-at-the-bottom",
    "store-below-api",
    "api-below-cli",
)
# Broken today, on purpose: the cli helper moves the imaging calls of `score-ihc`,
# `count-ish` and `stains` into pipelines. strict: the day it holds, this marker must go.
NOT_YET: dict[str, str] = {}


@pytest.fixture(scope="module")
def lint_report() -> dict[str, str]:
    """Contract name → "KEPT" or "BROKEN", from one run of lint-imports on this tree."""
    exe = Path(sys.executable).with_name("lint-imports")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([str(exe), "--no-cache", "--no-logo"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    status = dict(re.findall(r"^(.+?) (KEPT|BROKEN)$", proc.stdout, flags=re.M))
    assert status, proc.stdout + proc.stderr
    return status


def _names() -> dict[str, str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c["name"] for c in config["tool"]["importlinter"]["contracts"]}


def test_every_contract_is_declared():
    assert set(_names()) == set(CONTRACTS)


@pytest.mark.parametrize("contract", [
    pytest.param(c, marks=pytest.mark.xfail(reason=NOT_YET[c], strict=True)) if c in NOT_YET
    else c for c in CONTRACTS])
def test_layer_contract_kept(contract, lint_report):
    assert lint_report[_names()[contract]] == "KEPT"
