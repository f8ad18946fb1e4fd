#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/web/) when /usr/bin/chromium is
# missing. Playwright drives this system browser because its own browser download cannot
# work offline. Idempotent and quiet: does nothing when Chromium is already there.
# Needs root (CI runs as root) or passwordless sudo; otherwise it says so and exits 0
# (the browser tests then skip, or fail when HER2KIT_REQUIRE_BROWSER=1, as `make test` sets).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "setup_chromium.sh: apt-get not found; install Chromium at /usr/bin/chromium" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        echo "setup_chromium.sh: not root; install Chromium with 'apt-get install chromium'" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x /usr/bin/chromium
