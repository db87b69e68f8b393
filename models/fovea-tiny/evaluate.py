"""Exact-match accuracy of fovea-tiny on the held-out eval set, per type.

    /usr/bin/python3 evaluate.py                       # latest checkpoint in .ckpt/
    /usr/bin/python3 evaluate.py --ckpt .ckpt/decoder_latest.pt
    /usr/bin/python3 evaluate.py --weights .           # exported config.json + model.safetensors

Greedy decoding, at most 16 new tokens, stopping at <eos>; the decoded text
is stripped of surrounding whitespace and compared with the answer exactly.
With ``--draft`` it also reports how often the draft's greedy next token
matches the target's along the target's greedy outputs (<eos> included).
"""

import argparse
import json
import os
import sys
import time

if __name__ == "__main__":
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_v, "1")
from collections import defaultdict

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import model as M  # noqa: E402
import prompt  # noqa: E402
import tokenizer as tk  # noqa: E402

MAX_NEW = 16


def load_eval(path=None, limit=None):
    path = path or os.path.join(HERE, "eval", "eval.jsonl")
    root = os.path.dirname(path)
    items = [json.loads(line) for line in open(path) if line.strip()]
    if limit:
        # a fixed, type-balanced subset: every k-th item
        k = max(1, len(items) // limit)
        items = items[::k][:limit]
    cache = {}
    for it in items:
        if it["image"] not in cache:
            cache[it["image"]] = np.asarray(Image.open(os.path.join(root, it["image"])).convert("RGB"))
    return items, cache


@torch.no_grad()
def greedy(lm, tok, questions, feats, max_new=MAX_NEW, batch=64):
    """Greedy answers for (question, image_feature_row) pairs; batched by prompt length."""
    prompts = [prompt.encode_prompt(tok, q) for q in questions]
    outs = [None] * len(prompts)
    by_len = defaultdict(list)
    for i, p in enumerate(prompts):
        by_len[len(p)].append(i)
    for L, idx in sorted(by_len.items()):
        for s in range(0, len(idx), batch):
            chunk = idx[s:s + batch]
            ids = torch.tensor([prompts[i] for i in chunk])
            f = feats[torch.tensor(chunk)]
            logits, past, _ = lm(ids, f)
            nxt = logits[:, -1].argmax(-1)
            gen = [[] for _ in chunk]
            done = torch.zeros(len(chunk), dtype=torch.bool)
            pos = L
            for _ in range(max_new):
                for j in range(len(chunk)):
                    if not done[j]:
                        gen[j].append(int(nxt[j]))
                done |= nxt == tk.EOS
                if bool(done.all()):
                    break
                logits, past, _ = lm(nxt[:, None], None, start_pos=pos, past=past)
                pos += 1
                nxt = logits[:, -1].argmax(-1)
            for j, i in enumerate(chunk):
                outs[i] = gen[j]
    return outs


@torch.no_grad()
def draft_match(target_lm, draft_lm, tok, questions, feats, target_outs):
    """Fraction of positions along the target's greedy outputs where the draft's argmax agrees."""
    hit = tot = 0
    for i, q in enumerate(questions):
        ids = prompt.encode_prompt(tok, q) + target_outs[i]
        x = torch.tensor([ids])
        n = len(target_outs[i])
        lg, _, _ = draft_lm(x, feats[i:i + 1])
        pred = lg[0, -n - 1:-1].argmax(-1)
        hit += int((pred == torch.tensor(target_outs[i])).sum())
        tot += n
    return hit / max(tot, 1)


@torch.no_grad()
def image_features(model, images, batch=64):
    fs = []
    for s in range(0, len(images), batch):
        fs.append(model.image_features(M.preprocess(np.stack(images[s:s + batch]))))
    return torch.cat(fs)


def evaluate(model, tok, items, cache, draft=None, log_examples=0):
    model.eval()
    names = sorted(cache)
    row = {n: i for i, n in enumerate(names)}
    feats_img = image_features(model, [cache[n] for n in names])
    feats = feats_img[torch.tensor([row[it["image"]] for it in items])]
    qs = [it["question"] for it in items]
    t0 = time.time()
    outs = greedy(model.lm, tok, qs, feats)
    dt = time.time() - t0
    per = defaultdict(lambda: [0, 0])
    wrong = []
    for it, o in zip(items, outs):
        pred = tok.decode([t for t in o if t != tk.EOS]).strip()
        ok = pred == it["answer"]
        per[it["type"]][0] += ok
        per[it["type"]][1] += 1
        if not ok and len(wrong) < log_examples:
            wrong.append((it["question"], it["answer"], pred))
    res = {t: per[t][0] / per[t][1] for t in sorted(per)}
    res["overall"] = sum(v[0] for v in per.values()) / max(1, sum(v[1] for v in per.values()))
    res["n"] = len(items)
    res["decode_s"] = round(dt, 2)
    if draft is not None:
        draft.eval()
        res["draft_next_token_match"] = draft_match(model.lm, draft.lm, tok, qs, feats, outs)
    if log_examples:
        res["wrong_examples"] = wrong
    return res


def load_model(args):
    if args.weights:
        import export
        return export.load_exported(args.weights, draft=args.draft)
    import train
    ck = args.ckpt or train.latest_checkpoint(os.path.join(HERE, ".ckpt"))
    if ck is None:
        sys.exit("no checkpoint found")
    print("checkpoint:", ck)
    return train.load_models_from_checkpoint(ck, draft=args.draft)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=None, help="a .pt checkpoint (default: the latest in .ckpt/)")
    ap.add_argument("--weights", default=None, help="a folder with config.json + model.safetensors")
    ap.add_argument("--eval", default=None, help="eval.jsonl (default eval/eval.jsonl)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--draft", action="store_true", help="also score the draft model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--examples", type=int, default=0, help="print this many wrong answers")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = tk.Tokenizer.load(os.path.join(HERE, "tokenizer.json"))
    model, draft = load_model(args)
    items, cache = load_eval(args.eval, args.limit)
    res = evaluate(model, tok, items, cache, draft if args.draft else None, args.examples)
    for ex in res.pop("wrong_examples", []):
        print("  wrong:", ex)
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
