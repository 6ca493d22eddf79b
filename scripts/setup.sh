#!/usr/bin/env bash
# Install what Lightbox needs on Debian 12 and build .venv with the project in it.
#   scripts/setup.sh          the viewer: Qt/VTK system libraries, fonts, a virtual X server
#   scripts/setup.sh --test   also the test peers and tools: DCMTK, Orthanc (+DICOMweb), a C compiler
# Idempotent: apt runs only when a package is missing, pip only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  python3 python3-venv python3-pip
  libgl1 libegl1 libglib2.0-0 libfontconfig1 fonts-dejavu-core fonts-wqy-zenhei libx11-6 libxkbcommon0 libdbus-1-3
  libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1
  libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxcursor1 libosmesa6
  xvfb xauth
)
extra=""
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(dcmtk orthanc orthanc-dicomweb gcc libc6-dev curl iproute2 procps)
  extra="[test]"
fi

missing=()
for p in "${pkgs[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Orthanc's postinst tries to start its system service; in containers policy-rc.d denies it,
  # and the tests never use that service (they start private servers on loopback).
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.lightbox-installed${extra:+-test}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".${extra}"
  echo "$want" > "$stamp"
fi
