#!/usr/bin/env bash
# The main job: install what is missing, build fovea, then ask the bundled
# model (models/fovea-tiny) about a bundled scene twice: with every visual
# token, and with a quarter of them kept by HiPrune; then a caption decoded
# speculatively with the draft model.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -d build ] || meson setup build --buildtype=release
ninja -C build
./build/tools/fovea-info
scene=models/fovea-tiny/eval/images/00000.png
question="how many shapes?"
echo "== fovea run --image $scene --prompt \"$question\""
./build/tools/fovea run --image "$scene" --prompt "$question"
echo "== the same with --method hiprune --keep 0.25"
./build/tools/fovea run --image "$scene" --prompt "$question" --method hiprune --keep 0.25
if [ -f models/fovea-tiny/draft/model.safetensors ]; then
  echo "== a caption of another scene with --speculative (the draft decoder proposes, the model verifies)"
  ./build/tools/fovea run --image models/fovea-tiny/eval/images/00006.png --prompt "describe the image" --speculative
fi
