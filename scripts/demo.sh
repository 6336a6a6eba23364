#!/usr/bin/env bash
# Build Flotilla in build/ and run its demo (examples/demo.c): a tiled
# heat-diffusion stencil as a task graph, verified against a sequential
# run, then transform -> reduce -> scan across all devices. Works on a
# fresh Debian 12 machine: installs what it needs first.
#
#   bash scripts/demo.sh [demo options, e.g. --size 2048 --steps 50]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$FLO_ROOT"

bash scripts/install-deps.sh
flo_meson_setup build
ninja -C build
echo
echo "==> build/examples/flo-demo $*"
exec build/examples/flo-demo "$@"
