#!/usr/bin/env bash
# Set up (if needed) and run the viewer on sample data.
# With a display: opens the window. Without one: renders the main window on a virtual X server,
# saves a screenshot and prints its path.   Usage: scripts/run.sh [PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONPYCACHEPREFIX="${XDG_CACHE_HOME:-$HOME/.cache}/lightbox/pycache"  # nothing written into the tree
sample="${1:-}"
if [[ -z "$sample" ]]; then
  if [[ -d ../shared/data/ct-pancreas-tcia ]]; then
    sample=../shared/data/ct-pancreas-tcia
  else   # pydicom ships a real CT slice
    sample=$(.venv/bin/python -c 'from pydicom.data import get_testdata_file as g; print(g("CT_small.dcm"))')
  fi
fi
export LIGHTBOX_HOME="${LIGHTBOX_HOME:-$HOME/.local/share/lightbox}"
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  exec .venv/bin/lightbox "$sample"
fi
shot="${TMPDIR:-/tmp}/lightbox-main-window.png"
echo "no display: rendering on a virtual X server"
xvfb-run -a -s "-screen 0 1600x1000x24 -nolisten tcp" .venv/bin/lightbox "$sample" --screenshot "$shot" --wait 1
