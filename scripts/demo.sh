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
echo "== her2kit score-ihc: a generated HER2 IHC region (true score 2+), scored cell by cell"
mkdir -p "$out/ihc"
$her2kit synth-ihc "$out/ihc/region.png" --score 2+ --seed 7 --size 1024 --mpp 0.5
$her2kit score-ihc "$out/ihc/region.png" --mpp 0.5 --overlay "$out/ihc/overlay.png" \
  --cells "$out/ihc/cells.csv" --geojson "$out/ihc/cells.geojson" --out "$out/ihc/score-ihc.json"

echo
echo "== her2kit count-ish: a generated FISH field (ISH Group 4 by construction), counted nucleus by nucleus"
mkdir -p "$out/ish"
$her2kit synth-ish "$out/ish/fish.ome.tif" --scenario group4 --seed 3 --size 1024
$her2kit count-ish "$out/ish/fish.ome.tif" --channels dapi=0,her2=1,cep17=2 \
  --overlay "$out/ish/overlay.png" --nuclei "$out/ish/nuclei.csv" --out "$out/ish/count-ish.json"

echo
echo "== her2kit report: lab report (HTML, PDF), FHIR bundle and patient summary"
# The demo case plus the image-analysis result above, whose overlay and evidence the report pulls in.
.venv/bin/python - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
case = json.loads(pathlib.Path("examples/report/demo-case.json").read_text())
case.pop("ihc")  # the IHC block now comes from the image analysis
case["image_analysis"] = ["ihc/score-ihc.json"]
(out / "demo-case.json").write_text(json.dumps(case, indent=2, ensure_ascii=False))
PY
$her2kit report "$out/demo-case.json" --out "$out/report"
echo
echo "== her2kit report: the extra example cases in examples/report/ (pending recount, metastatic,"
echo "   image analysis, missing facts, heterogeneity, failed controls)"
for case in examples/report/*.json; do
  name=$(basename "$case" .json)
  case "$name" in lab|demo-case) continue ;; esac
  echo "--- $name"
  $her2kit report "$case" --out "$out/report/examples" > /dev/null
done
echo "Their reports: $out/report/examples/"
echo
echo "== her2kit score-slide: a generated pyramidal slide (a 3+ island in 1+ tissue), scored whole"
mkdir -p "$out/slide"
$her2kit synth-slide "$out/slide/slide.svs" --size 8192x6144 --layout 3+in1+ --seed 3
$her2kit score-slide "$out/slide/slide.svs" --out "$out/slide/run"
echo
echo "Open $out/report/DEMO-2026-0117-lab.html (or the PDFs) to read the reports;"
echo "the IHC overlay is $out/ihc/overlay.png, the QuPath cells $out/ihc/cells.geojson,"
echo "the FISH overlay $out/ish/overlay.png, and the slide's heatmap $out/slide/run/heatmap.png"
echo "(its cells for QuPath: $out/slide/run/cells.geojson.gz)."
echo "The lab service and its page: .venv/bin/her2kit users add NAME --role pathologist, then"
echo ".venv/bin/her2kit serve and open http://127.0.0.1:8000/ (README: The lab service)."
