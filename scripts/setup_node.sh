#!/usr/bin/env bash
# Install the offline FHIR validator the tests use (tools/fhir-validator) from its
# committed package-lock.json, only when it is missing or the lock file changed.
# Needs node and npm; without them it says so and exits 0 (the validator tests
# then skip, or fail when HER2KIT_REQUIRE_FHIR_VALIDATOR=1, as `make test` sets).
set -euo pipefail
cd "$(dirname "$0")/../tools/fhir-validator"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup_node.sh: node/npm not found; the FHIR validator tests cannot run" >&2
    exit 0
fi
stamp=node_modules/.her2kit-package-lock.json
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
    exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
cp package-lock.json "$stamp"
