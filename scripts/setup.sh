#!/usr/bin/env bash
# Set up everything siting needs on a fresh machine (idempotent):
#   - a virtual environment in .venv with siting and its dev dependencies;
#   - Debian's chromium and chromium-driver for the browser tests (when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: Python >= 3.11 is required ($("$PYTHON" --version 2>&1) found)" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

if [ "${SITING_SKIP_APT:-0}" != "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: chromium not found; install Debian's chromium and chromium-driver for browser tests" >&2
  fi
fi
echo "setup: done ($(.venv/bin/python --version), siting $(.venv/bin/python -c 'import siting; print(siting.__version__)'))"
