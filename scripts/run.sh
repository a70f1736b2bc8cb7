#!/usr/bin/env bash
# Quickstart 1: set up, then run the main job on the embedded data in raw/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dwi run "$@"
