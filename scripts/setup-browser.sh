#!/usr/bin/env bash
# Install Debian's chromium for the report's browser test (Playwright drives it; `playwright install` is
# never run: the tests launch /usr/bin/chromium). Idempotent: does nothing when chromium is there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
