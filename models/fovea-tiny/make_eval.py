"""Write the fixed held-out evaluation set.

Images are scenes 0..N-1 of the "eval" split (seed stream 2; training uses
stream 1, so no training image can repeat here).  For every image one
question of each type that applies to it is asked (count, attribute,
existence, spatial, caption), drawn with its own seeded stream.

Output (default ``eval/`` next to this file)::

    eval/images/00000.png ...     96x96 RGB PNG
    eval/eval.jsonl               one JSON object per line:
                                  {"image": "images/00000.png", "question": ...,
                                   "answer": ..., "type": ...}

``image`` is relative to the folder holding eval.jsonl.
"""

import argparse
import json
import os

import numpy as np
from PIL import Image

import data

HERE = os.path.dirname(os.path.abspath(__file__))


def eval_items(n_images):
    """(scene, [(question, answer, type), ...]) for eval scenes 0..n-1."""
    out = []
    for i in range(n_images):
        s = data.make_scene("eval", i)
        rng = np.random.Generator(np.random.PCG64([data.SPLIT_SEEDS["eval"], i, 7]))
        qs = []
        for t in data.QTYPES:
            qa = data.sample_question(s["objects"], t, rng)
            if qa is not None:
                qs.append((qa[0], qa[1], t))
        out.append((s, qs))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=320)
    ap.add_argument("--out", default=os.path.join(HERE, "eval"))
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    lines = []
    for s, qs in eval_items(args.images):
        rel = f"images/{s['index']:05d}.png"
        Image.fromarray(s["image"]).save(os.path.join(args.out, rel), optimize=True)
        for q, a, t in qs:
            lines.append(json.dumps({"image": rel, "question": q, "answer": a, "type": t}))
    with open(os.path.join(args.out, "eval.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} questions over {args.images} images -> {args.out}")


if __name__ == "__main__":
    main()
