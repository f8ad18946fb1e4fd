"""The package's layers point inward: the guideline rules import nothing of the rest."""

from __future__ import annotations

import subprocess
import sys


def modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_guideline_imports_no_io_layers_and_no_numpy():
    loaded = modules_after_import("her2kit.guideline")
    ours = {m for m in loaded if m.startswith("her2kit")}
    assert ours <= {"her2kit", "her2kit.errors"} | {m for m in ours if m.startswith(
        "her2kit.guideline")}, ours
    assert "numpy" not in loaded and "her2kit.imaging" not in loaded


def test_cli_help_stays_light():
    loaded = modules_after_import("her2kit.cli")
    assert not {"numpy", "scipy", "skimage", "matplotlib", "fhir"} & loaded
