#!/usr/bin/env bash
# Build the web page (web/) into the Python package (src/her2kit/api/static/), which
# `her2kit serve` serves. Runs `npm ci` from the committed package-lock.json only when the
# lock file changed, and the build only when the lock file or the page's sources changed.
# Needs node and npm; without them it says so and exits 0 (the browser tests then skip,
# or fail when HER2KIT_REQUIRE_BROWSER=1, as `make test` sets).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/web"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup_web.sh: node/npm not found; the web page cannot be built" >&2
    exit 0
fi
lock_stamp=node_modules/.her2kit-package-lock.json
if ! { [ -f "$lock_stamp" ] && cmp -s package-lock.json "$lock_stamp"; }; then
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
    cp package-lock.json "$lock_stamp"
fi
static="$root/src/her2kit/api/static"
sources_hash="$(cat package-lock.json build.mjs $(find src -type f | LC_ALL=C sort) \
    | sha256sum | cut -d' ' -f1)"
if [ -f "$static/.build-stamp" ] && [ "$(cat "$static/.build-stamp")" = "$sources_hash" ]; then
    exit 0
fi
node build.mjs
echo "$sources_hash" > "$static/.build-stamp"
