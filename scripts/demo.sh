#!/usr/bin/env bash
# The main job: install what is missing, build fovea, show the devices and
# run a short benchmark on every backend present.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
./build/tools/fovea-info
./build/bench/fovea-bench --quick
