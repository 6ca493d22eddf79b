#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, then the linter.
# Tests start their own Xvfb and their own PACS servers (Orthanc, dcmqrscp) on loopback,
# and read real data from ../shared beside the repository.   Usage: scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
# Nothing is written into the source tree at run time: byte code and ruff's cache go elsewhere.
export PYTHONPYCACHEPREFIX="${XDG_CACHE_HOME:-$HOME/.cache}/lightbox/pycache"
.venv/bin/python -m pytest "$@"
.venv/bin/ruff check --no-cache viewer tests bench
echo "ruff: clean"
