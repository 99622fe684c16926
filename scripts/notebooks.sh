#!/usr/bin/env bash
# Set up siting and JupyterLab in .venv, then open the notebooks (offline Almaty data).
#   bash scripts/notebooks.sh                  # opens http://localhost:8888/lab
#   bash scripts/notebooks.sh --no-browser     # any other JupyterLab option passes through
set -euo pipefail
cd "$(dirname "$0")/.."
SITING_SKIP_APT=${SITING_SKIP_APT:-1} bash scripts/setup.sh   # no browser tests here: no chromium
if ! .venv/bin/python -c 'import jupyterlab' 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "jupyterlab>=4"
fi
# JupyterLab refuses to run as root (containers, cloud machines) unless told
root_flag=()
if [ "$(id -u)" -eq 0 ]; then root_flag=(--allow-root); fi
exec .venv/bin/jupyter lab --notebook-dir notebooks "${root_flag[@]}" "$@"
