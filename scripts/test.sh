#!/usr/bin/env bash
# Installs what is missing, builds fovea twice (release; debug with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test on every
# backend present, with Vulkan validation layers on. Lavapipe (Vulkan on the
# CPU) and PoCL (OpenCL on the CPU) are required here, so a machine that
# silently lacks them fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

export FOVEA_TEST_REQUIRE="${FOVEA_TEST_REQUIRE:-vulkan}"
export XDG_CACHE_HOME="$PWD/build-test-cache"

rm -rf build-test build-sanitize
meson setup build-test --buildtype=release
ninja -C build-test
meson test -C build-test --print-errorlogs --num-processes 1

meson setup build-sanitize --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
ninja -C build-sanitize
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-sanitize --print-errorlogs --num-processes 1 --timeout-multiplier 3
echo "fovea: all tests passed (release and ASan/UBSan builds)"
