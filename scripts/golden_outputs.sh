#!/usr/bin/env bash
# Write what every command prints and writes (JSON, CSV, GeoJSON, PNG overlays, summaries) on
# the demo inputs and the real shared images into one folder, so that two trees can be
# compared byte for byte:
#
#   bash scripts/golden_outputs.sh /tmp/before        # on the old tree
#   bash scripts/golden_outputs.sh /tmp/after         # on the new tree
#   diff -r /tmp/before /tmp/after && echo identical
#
# A refactor that claims "behaviour unchanged" shows this diff empty. Needs `make demo`'s
# .venv and ../shared/data/real next to the checkout. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: golden_outputs.sh OUT_DIR}
rm -rf "$out" && mkdir -p "$out"
her2kit=$PWD/.venv/bin/her2kit
real=${HER2KIT_REAL_DATA:-../shared/data/real}  # relative: the same text in any checkout
test -d "$real" || { echo "golden_outputs.sh: $real is missing" >&2; exit 2; }

# Commands' stdout and stderr both go to files; the exit status is recorded too.
run() {  # run NAME ARGS...
  local name=$1; shift
  set +e
  "$her2kit" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"
  echo $? >"$out/$name.rc"
  set -e
}

mkdir -p "$out/cases"
for case in examples/cases/*.json; do
  n=$(basename "$case" .json)
  run "cases/$n" classify "$case"
  run "cases/$n.json" classify --json "$case"
  run "cases/$n.2013" classify --json --guideline asco-cap-2013 "$case"
done
run classify-flags classify --json --ihc 2+ --her2-mean 4.6 --cep17-mean 2.1 --cells 20
run classify-bad classify --json --ihc 5+

mkdir -p "$out/ihc"
for s in 0 0+ 1+ 2+ 3+; do
  run "ihc/synth-$s" synth-ihc "$out/ihc/region-$s.png" --score "$s" --seed 7 --size 768 --mpp 0.5
  run "ihc/score-$s" score-ihc "$out/ihc/region-$s.png" --mpp 0.5 --json \
    --overlay "$out/ihc/overlay-$s.png" --cells "$out/ihc/cells-$s.csv" \
    --geojson "$out/ihc/cells-$s.geojson" --out "$out/ihc/score-$s.json"
  run "ihc/score-est-$s" score-ihc "$out/ihc/region-$s.png" --mpp 0.5 --json --estimate-stains
done
cat >"$out/ihc/roi.geojson" <<'JSON'
{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
 "geometry": {"type": "Polygon", "coordinates": [[[40, 40], [600, 60], [520, 700], [60, 640], [40, 40]]]}}]}
JSON
run ihc/score-roi score-ihc "$out/ihc/region-2+.png" --mpp 0.5 --json --roi "$out/ihc/roi.geojson"

mkdir -p "$out/ihc-real"
for f in "$real"/her2_ihc_gea_tma_bozeklab/*.jpg; do
  n=$(basename "$f" .jpg)
  run "ihc-real/gea-$n" score-ihc "$f" --mpp 0.25 --json --cells "$out/ihc-real/gea-$n.csv"
done
for f in "$real"/her2_ihc_bci_sample_mdopx/val*/*.png; do
  n=$(basename "$(dirname "$f")")-$(basename "$f" .png)
  run "ihc-real/bci-$n" score-ihc "$f" --mpp 0.5 --json --overlay "$out/ihc-real/bci-$n.png" \
    --geojson "$out/ihc-real/bci-$n.geojson"
done
run ihc-real/skimage score-ihc "$real/ihc_dab_unlabelled_skimage/ihc.png" --mpp 0.5 --json

mkdir -p "$out/ish"
for assay in fish dual-ish cish; do
  ext=png; [ "$assay" = fish ] && ext=ome.tif
  for sc in normal amplified group2 group4; do
    f="$out/ish/$assay-$sc.$ext"
    run "ish/synth-$assay-$sc" synth-ish "$f" --assay "$assay" --scenario "$sc" --seed 3 --size 768
    ch=(--mpp 0.2); [ "$assay" = fish ] && ch=(--channels dapi=0,her2=1,cep17=2)
    run "ish/count-$assay-$sc" count-ish "$f" --assay "$assay" "${ch[@]}" --json \
      --overlay "$out/ish/overlay-$assay-$sc.png" --nuclei "$out/ish/nuclei-$assay-$sc.csv" \
      --out "$out/ish/count-$assay-$sc.json"
  done
done
run ish/pooled count-ish "$out/ish/dual-ish-normal.png" "$out/ish/dual-ish-group2.png" \
  --assay dual-ish --mpp 0.2 --json --nuclei "$out/ish/pooled.csv"

mkdir -p "$out/ish-real"
for i in 1 2 3 4 5; do
  run "ish-real/fish$i" count-ish "$real/her2_fish_dish_pcm/FISH/FISH$i.jpg" \
    --channels her2=R,cep17=G,dapi=B --mpp 0.054 --json --nuclei "$out/ish-real/fish$i.csv" \
    --overlay "$out/ish-real/fish$i.png"
  run "ish-real/dish$i" count-ish "$real/her2_fish_dish_pcm/DISH/DISH$i.jpg" \
    --assay dual-ish --mpp 0.065 --json --nuclei "$out/ish-real/dish$i.csv" \
    --overlay "$out/ish-real/dish$i.png"
done

mkdir -p "$out/report"
cp examples/report/demo-case.json "$out/report/case.json"
run report/all report "$out/report/case.json" --format json --out "$out/report/json"
run report/fhir report "$out/report/case.json" --format fhir --out "$out/report/fhir"
run report/html report "$out/report/case.json" --format html --out "$out/report/html"
# Paths inside outputs name $out; make them relative so two folders compare equal.
grep -rlZ --exclude='*.png' --exclude='*.tif' -F "$out" "$out" | xargs -0 -r sed -i "s#$out#OUT#g"
# What legitimately changes from run to run: report timestamps and random UUIDs, and the
# OME-TIFF writer's DateTime tag (its pixels are kept as a hash instead).
find "$out/report" -type f \( -name '*.json' -o -name '*.html' \) -print0 | xargs -0 -r sed -i -E \
  -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/UUID/g' \
  -e 's/20[0-9]{2}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?Z?)?/TIMESTAMP/g'
for f in "$out"/ish/*.ome.tif; do
  .venv/bin/python -c 'import hashlib, sys, tifffile; a = tifffile.imread(sys.argv[1]); print(a.shape, a.dtype, hashlib.sha256(a.tobytes()).hexdigest())' "$f" >"$f.pixels"
  rm "$f"
done
echo "golden outputs in $out ($(find "$out" -type f | wc -l) files)"
