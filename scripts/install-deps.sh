#!/usr/bin/env bash
# Installs the Debian packages fovea needs to build, run and test, skipping
# those already present. Run as root (or through sudo).
set -euo pipefail

packages=(
  gcc pkg-config python3 meson ninja-build
  glslang-tools libvulkan-dev
  mesa-vulkan-drivers vulkan-validationlayers
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd
  libopenblas0
  libcjson-dev libstb-dev
  libvkfft-dev glslang-dev spirv-tools
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
