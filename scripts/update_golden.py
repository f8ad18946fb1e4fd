"""Rewrite the golden per-cell and per-nucleus outputs in tests/data/golden/.

Usage (from the repository root)::

    PYTHONPATH=$PWD/src .venv/bin/python scripts/update_golden.py          # every case
    PYTHONPATH=$PWD/src .venv/bin/python scripts/update_golden.py fish-real-1

Each case runs the CLI (``python -m her2kit``) the way a user would: the generated
cases first write their input with ``synth-ihc`` / ``synth-ish``; the real cases read
``../shared/data/real`` (skipped here, with a message, when it is missing). A case
writes two files: the per-cell table (``score-ihc --cells``, floats to 4 significant
digits) or the per-nucleus table (``count-ish --nuclei``, exactly as written), and a
small summary of the JSON document (scores, means, flags). tests/test_golden.py
recomputes every case and compares byte for byte.

Every change to these files gets a line in tests/data/golden/CHANGELOG.md saying what
moved and why.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"
REAL = REPO.parent / "shared" / "data" / "real"


class Case(NamedTuple):
    name: str
    real: str | None  # folder under ../shared/data/real, or None for a generated input
    make: tuple[str, ...] | None  # CLI arguments writing {input}, for generated inputs
    image: str  # {input} for generated ones, or a path inside the real folder
    command: tuple[str, ...]  # CLI arguments after the image; {table} is the table path
    kind: str  # "ihc" or "ish"


CASES: tuple[Case, ...] = (
    Case("ihc-synth-2plus", None,
         ("synth-ihc", "{input}", "--score", "2+", "--seed", "7", "--size", "512",
          "--mpp", "0.5"),
         "{input}", ("score-ihc", "--mpp", "0.5", "--json", "--cells", "{table}"), "ihc"),
    Case("fish-synth-amplified", None,
         ("synth-ish", "{input}", "--assay", "fish", "--scenario", "amplified", "--seed",
          "3", "--size", "512"),
         "{input}", ("count-ish", "--channels", "dapi=0,her2=1,cep17=2", "--json",
                     "--nuclei", "{table}"), "ish"),
    Case("ihc-real-bci-valB-00672", "her2_ihc_bci_sample_mdopx", None,
         "valB/00672_test_3+.png", ("score-ihc", "--mpp", "0.5", "--json", "--cells",
                                    "{table}"), "ihc"),
    Case("dish-real-1", "her2_fish_dish_pcm", None, "DISH/DISH1.jpg",
         ("count-ish", "--assay", "dual-ish", "--mpp", "0.065", "--json", "--nuclei",
          "{table}"), "ish"),
    Case("fish-real-1", "her2_fish_dish_pcm", None, "FISH/FISH1.jpg",
         ("count-ish", "--channels", "her2=R,cep17=G,dapi=B", "--mpp", "0.054", "--json",
          "--nuclei", "{table}"), "ish"),
)


def _her2kit(args: list[str], cwd: Path) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"),
                                         *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-m", "her2kit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"her2kit {' '.join(args)} exited {proc.returncode}:\n"
                           f"{proc.stderr[-2000:]}")
    return proc.stdout


def _four_digits(text: str) -> str:
    """The CSV with every non-integer number written to 4 significant digits."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(io.StringIO(text)):
        cells = []
        for v in row:
            try:
                int(v)
                cells.append(v)
                continue
            except ValueError:
                pass
            try:
                cells.append(f"{float(v):.4g}")
            except ValueError:
                cells.append(v)
        writer.writerow(cells)
    return out.getvalue()


def _summary(doc: dict, kind: str) -> str:
    ev = doc["evidence"]
    if kind == "ihc":
        keep = {"ihc_score": doc["ihc"]["score"], "percent": doc["ihc"]["percent"],
                "cells_detected": ev["cells_detected"], "cells_counted": ev["cells_counted"],
                "h_score": ev["h_score"], "nucleus_threshold_od": ev["nucleus_threshold_od"],
                "quality_flags": ev["quality_flags"]}
    else:
        ish = doc["ish"]
        keep = {k: ish[k] for k in ("group", "call", "cells_counted", "her2_mean",
                                    "cep17_mean", "ratio")}
        keep |= {k: ev.get(k) for k in ("nuclei_segmented", "nuclei_counted",
                                        "quality_flags", "heterogeneity")}
    return json.dumps(keep, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def produce(case: Case, real_folder: Path | None = None) -> dict[str, str]:
    """The golden files of one case: file name → text."""
    with tempfile.TemporaryDirectory(prefix="her2kit-golden-") as tmp:
        work = Path(tmp)
        suffix = ".ome.tif" if "fish" in case.name and case.real is None else ".png"
        generated = work / f"input{suffix}"
        if case.make is not None:
            _her2kit([a.replace("{input}", str(generated)) for a in case.make], work)
            image = generated
        else:
            assert real_folder is not None
            image = real_folder / case.image
        table = work / "table.csv"
        args = [str(image)] + [a.replace("{table}", str(table)) for a in case.command[1:]]
        doc = json.loads(_her2kit([case.command[0], *args], work))
        text = table.read_text(encoding="utf-8")
    table_name = "cells.csv" if case.kind == "ihc" else "nuclei.csv"
    return {f"{case.name}.{table_name}": _four_digits(text) if case.kind == "ihc" else text,
            f"{case.name}.summary.json": _summary(doc, case.kind)}


def main(argv: list[str] | None = None, *, say: Callable[[str], None] = print) -> int:
    names = set(argv if argv is not None else sys.argv[1:])
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        if names and case.name not in names:
            continue
        folder = None
        if case.real is not None:
            folder = REAL / case.real
            if not folder.is_dir():
                say(f"{case.name}: skipped, ../shared/data/real/{case.real} is missing")
                continue
        for fname, text in produce(case, folder).items():
            path = GOLDEN / fname
            old = path.read_text(encoding="utf-8") if path.is_file() else None
            path.write_text(text, encoding="utf-8")
            state = "new" if old is None else ("unchanged" if old == text else "CHANGED")
            say(f"{fname}: {state}")
    say("Add a line to tests/data/golden/CHANGELOG.md for every CHANGED or new file.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
