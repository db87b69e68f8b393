#!/usr/bin/env python3
"""The `fovea` command on the random-weight fixture model (tests/fixtures/vlm):
`fovea run` must answer with the JSON fields it promises and stream the same
answer as plain text; `fovea eval` must write its table, JSON and plot, and
running the set as two shards then `--merge` must give exactly the counts of
one unsharded run. Bad arguments must fail with a message, not a crash. The
answers' correctness is test-vlm's business (token ids against torch).

usage: test_cli.py FOVEA FIXTURES_DIR WORK_DIR"""
import json
import os
import shutil
import subprocess
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def run(argv, timeout=300, want_rc=0):
    print("$", " ".join(argv), flush=True)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    sys.stderr.write(p.stderr)
    check(p.returncode == want_rc, f"{' '.join(argv[1:3])}: exit {p.returncode}, wanted {want_rc}")
    return p


def main():
    exe, fixtures, work = sys.argv[1:4]
    model = os.path.join(fixtures, "model")
    image = os.path.join(fixtures, "scene1.png")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    for device in ("cpu", "vulkan", "opencl"):
        p = run([exe, "run", "--model", model, "--image", image, "--prompt", "how many red shapes?",
                 "--device", device, "--json", "--max-new", "6"])
        try:
            j = json.loads(p.stdout)
        except json.JSONDecodeError:
            check(False, f"run --json on {device}: not JSON: {p.stdout!r}")
            continue
        for key in ("answer", "device", "method", "visual_tokens", "prompt_tokens", "new_tokens", "ms"):
            check(key in j, f"run --json on {device}: no '{key}'")
        check(j.get("visual_tokens") == 17 and j.get("new_tokens") == 6,
              f"run on {device}: {j.get('visual_tokens')} visual / {j.get('new_tokens')} new tokens")
        for stage in ("encode", "prefill", "first_token", "decode"):
            check(j.get("ms", {}).get(stage, -1) >= 0, f"run on {device}: no time for {stage}")
        if device == "cpu":
            text = run([exe, "run", "--model", model, "--image", image, "--prompt", "how many red shapes?",
                        "--device", device, "--max-new", "6"])
            check(text.stdout.strip() == j.get("answer"), f"streamed '{text.stdout.strip()}' vs json '{j.get('answer')}'")
            check("prefill" in text.stderr and "decode" in text.stderr, "no timing line on stderr")
            p = run([exe, "run", "--model", model, "--image", image, "--prompt", "how many red shapes?",
                     "--device", device, "--json", "--max-new", "6", "--method", "fastervlm", "--keep", "0.25"])
            check('"visual_tokens": 5' in p.stdout, f"fastervlm 0.25 did not give 5 visual tokens: {p.stdout}")
            p = run([exe, "run", "--model", model, "--image", image, "--prompt", "how many red shapes?",
                     "--device", device, "--json", "--max-new", "6", "--speculative"])
            try:
                sj = json.loads(p.stdout)
            except json.JSONDecodeError:
                sj = {}
            check(sj.get("speculative") is True and sj.get("answer") == j.get("answer"),
                  f"speculative run differs: {p.stdout}")

    # eval: one run, two shards, merge
    common = ["--model", model, "--set", os.path.join(fixtures, "eval.jsonl"), "--methods", "fastervlm,stride",
              "--keeps", "1,0.5,0.25", "--device", "cpu"]
    run([exe, "eval", *common, "--out", os.path.join(work, "all")])
    for name in ("eval.json", "eval.md", "retention.png"):
        check(os.path.isfile(os.path.join(work, "all", name)), f"eval wrote no {name}")
    for i in range(2):
        run([exe, "eval", *common, "--shard", f"{i}/2", "--out", os.path.join(work, f"shard{i}")])
    run([exe, "eval", "--merge", os.path.join(work, "shard0", "eval.json"), os.path.join(work, "shard1", "eval.json"),
         "--out", os.path.join(work, "merged")])

    def counts(d):
        with open(os.path.join(work, d, "eval.json")) as f:
            j = json.load(f)
        return {(r["method"], r["keep"]): (r["count"], r["correct"], r["type_count"], r["type_correct"])
                for r in j["results"]}, j["types"]

    whole, types = counts("all")
    merged, mtypes = counts("merged")
    check(len(whole) == 5, f"eval ran {len(whole)} configurations, wanted full + 2 methods x 2 keeps")
    check(all(c[0] == 5 for c in whole.values()), f"not every configuration saw the 5 questions: {whole}")
    check(sorted(types) == sorted(mtypes), f"types {types} vs merged {mtypes}")
    for k, v in whole.items():
        m = merged.get(k)
        if m is None or sorted(types) != sorted(mtypes):
            check(False, f"merge lost {k}")
            continue
        remap = [mtypes.index(t) for t in types]
        check(v[0] == m[0] and v[1] == m[1] and v[2] == [m[2][i] for i in remap] and v[3] == [m[3][i] for i in remap],
              f"{k}: one run {v}, two shards merged {m}")

    # eval --speculative: the baseline decoded with the draft gives greedy's answers, with its speed beside
    run([exe, "eval", "--model", model, "--set", os.path.join(fixtures, "eval.jsonl"), "--methods", "fastervlm",
         "--keeps", "1", "--speculative", "--device", "cpu", "--out", os.path.join(work, "spec")])
    with open(os.path.join(work, "spec", "eval.json")) as f:
        res = {r["method"]: r for r in json.load(f)["results"]}
    sp, full = res.get("speculative", {}), res.get("full", {})
    check(sp.get("count") == 5 and sp.get("same_as_greedy") == 5 and sp.get("correct") == full.get("correct"),
          f"speculative eval: {sp} vs full {full}")
    check(0 < sp.get("draft_accepted", -1) + 1 <= sp.get("draft_proposed", 0) + 1 and sp.get("decode_tokens", 0) > 0
          and full.get("decode_tokens") == sp.get("decode_tokens"), f"speculative eval counts: {sp} vs full {full}")
    with open(os.path.join(work, "spec", "eval.md")) as f:
        check("Speculative decoding" in f.read(), "eval.md has no speculative line")

    # bad arguments: a message and a non-zero exit, never a crash
    for argv in (["run", "--model", model, "--image", image],
                 ["run", "--model", model, "--image", image, "--prompt", "x", "--method", "nonsense"],
                 ["run", "--model", model, "--image", os.path.join(work, "missing.png"), "--prompt", "x"],
                 ["run", "--model", os.path.join(work, "no-model"), "--image", image, "--prompt", "x"],
                 ["eval", "--shard", "3/2"], ["eval", *common, "--methods", "nonsense"]):
        p = subprocess.run([exe, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
        check(p.returncode in (1, 2) and p.stderr.strip(), f"fovea {' '.join(argv[:1])} {argv[-1]}: exit {p.returncode}, "
              f"stderr {p.stderr.strip()!r}")

    print("FAILED: " + "; ".join(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
