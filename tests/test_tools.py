#!/usr/bin/env python3
"""Smoke test of the tools: fovea-info and a short fovea-bench run must exit 0
and print JSON of the expected shape. Nothing here judges a timing; the
figures only have to be present and finite.

usage: test_tools.py FOVEA_INFO FOVEA_BENCH"""
import json
import math
import subprocess
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def run(argv, timeout):
    print("$", " ".join(argv), flush=True)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    sys.stderr.write(p.stderr)
    check(p.returncode == 0, f"{argv[0]} exited with {p.returncode}")
    return p.stdout


def parse(text, what):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        check(False, f"{what}: output is not JSON ({e})")
        print(text)
        return None


def finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def main():
    info_exe, bench_exe = sys.argv[1:3]

    run([info_exe], 60)
    info = parse(run([info_exe, "--json"], 60), "fovea-info --json")
    if info:
        names = [b.get("backend") for b in info.get("backends", [])]
        check(sorted(names) == ["cpu", "opencl", "vulkan"], f"fovea-info lists backends {names}")
        for b in info.get("backends", []):
            check(isinstance(b.get("available"), bool), f"{b.get('backend')}: 'available' missing")
            if b.get("available"):
                check(len(b.get("devices", [])) > 0, f"{b['backend']}: available but no devices")
            else:
                check(bool(b.get("reason")), f"{b['backend']}: unavailable without a reason")
            for d in b.get("devices", []):
                for key in ("name", "type", "driver", "memory_bytes", "max_storage_range", "subgroup_size",
                            "fp16_arithmetic", "storage_16bit", "int8_dot_product", "cooperative_matrix",
                            "unified_memory"):
                    check(key in d, f"{b['backend']}: device field {key} missing")
        cpu = [b for b in info.get("backends", []) if b.get("backend") == "cpu"]
        check(bool(cpu) and cpu[0].get("available"), "the CPU backend is not available")

    # the quick mode with one cheap op; validation on, so a probe kernel that
    # breaks a Vulkan rule fails here
    bench = parse(run([bench_exe, "--quick", "--ops", "dispatch", "--validation", "--json"], 600),
                  "fovea-bench --json")
    if bench:
        host = bench.get("host", {})
        check(finite(host.get("stream_copy_gbps")), "host STREAM copy missing")
        check(isinstance(host.get("sgemm_gflops"), dict), "host SGEMM table missing")
        devices = bench.get("devices", [])
        check(any(d.get("available") for d in devices), "no device was benchmarked")
        for d in devices:
            tag = f"{d.get('backend')}:{d.get('index')}"
            if not d.get("available"):
                check(bool(d.get("reason")), f"{tag}: unavailable without a reason")
                continue
            c = d.get("ceilings")
            check(isinstance(c, dict), f"{tag}: no ceilings ({d.get('ceilings_error')})")
            if isinstance(c, dict):
                for key in ("fma_gflops", "read_gbps", "dispatch_us", "replay_us"):
                    check(finite(c.get(key)) and c[key] >= 0, f"{tag}: ceiling {key} is {c.get(key)}")
                check(c.get("fma_gflops", 0) > 0 and c.get("read_gbps", 0) > 0, f"{tag}: a zero ceiling")
            ops = [r.get("op") for r in d.get("results", [])]
            check(ops == ["dispatch"], f"{tag}: results for {ops}, expected only dispatch")
            for r in d.get("results", []):
                if r.get("ok"):
                    check(finite(r.get("rate")) and finite(r.get("ms")), f"{tag}: {r.get('op')} has no rate")
                else:
                    check(bool(r.get("note")), f"{tag}: {r.get('op')} failed without a note")

    # a bad option is a usage error, not a crash
    p = subprocess.run([bench_exe, "--ops", "nonsense"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(p.returncode == 2, f"fovea-bench --ops nonsense exited with {p.returncode}, expected 2")

    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
