#!/usr/bin/env bash
# Set up and run the Almaty default scenario offline; outputs land in out/almaty/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/siting run data/almaty.toml --out out/almaty "$@"
