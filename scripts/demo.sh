#!/usr/bin/env bash
# `make demo`: run her2kit's main job on the bundled sample data and say where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
her2kit=.venv/bin/her2kit
out=out/demo
rm -rf "$out" && mkdir -p "$out/cases"

echo "== her2kit $($her2kit --version | cut -d' ' -f2): the ASCO/CAP decision on the example cases in examples/cases/"
for case in examples/cases/*.json; do
  name=$(basename "$case" .json)
  echo
  echo "--- $name: $(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["description"])' "$case")"
  $her2kit classify "$case"
  $her2kit classify --json "$case" > "$out/cases/$name.json"
done
echo
echo "Classification results as JSON: $out/cases/"

echo
echo "== her2kit report: lab report (HTML, PDF), FHIR bundle and patient summary for examples/report/demo-case.json"
.venv/bin/her2kit report examples/report/demo-case.json --out "$out/report"
echo
echo "Open $out/report/DEMO-2026-0117-lab.html (or the PDFs) to read the reports."
