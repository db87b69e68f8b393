"""Deterministic synthetic scenes and templated questions for fovea-tiny.

Every scene is a pure function of (split, index): the generator seeds a
numpy PCG64 stream with ``[SPLIT_SEEDS[split], index]``, so train and eval
images can never coincide and any scene can be regenerated on its own.

Scene
-----
* 96x96 RGB, light background with low-frequency tint noise, per-pixel grain
  and a few faint grey lines (clutter).
* 1-6 objects.  Shapes: circle, square, triangle, cross, star.  Colours: red,
  green, blue, yellow, purple, orange.  Radius 7-13 px (the shape fits in a
  circle of that radius).  Objects never overlap: centre distance is at least
  r1 + r2 + 3 px, and every object lies fully inside the image.
* Rendering: drawn at 4x with PIL and box-filtered down to 96x96.

Questions (all answers are short lower-case strings)
----------------------------------------------------
count      "how many shapes?" / "how many red shapes?" / "how many circles?"
           -> "0".."6"
attribute  "what colour is the triangle?" (asked only when exactly one
           triangle) / "what shape is the blue object?" (only when exactly one
           blue object) -> "red" / "triangle"
existence  "is there a green circle?" / "is there an orange star?" -> "yes" / "no" (balanced 50/50; half of
           the "no" cases use a colour or a shape that is present)
spatial    "what is left of the square?" (also right of / above / below).
           The reference object is named by its shape when that shape is
           unique in the scene, else by colour and shape when that pair is
           unique.  Object Y is *left of* X when Y's centre x is smaller than
           X's by more than 8 px (right/above/below likewise; y grows
           downwards).  Asked only when exactly one object Y is left of X and
           every other object Z (not X, not Y) lies clearly on the other side,
           centre x > X.x + 2 -- so Y is the leftmost object and X the next
           one.  Answer: "<colour> <shape>", e.g. "red circle".
caption    "describe the image", asked only for scenes with 1 or 2 objects.
           One object: "a red circle" ("an orange ..." for orange).  Two objects A, B with offsets
           dx = |xA-xB|, dy = |yA-yB|: when dx >= dy + 6 the caption is
           "a <left object> left of a <right object>"; when dy >= dx + 6 it is
           "a <upper object> above a <lower object>" ("an" before orange);
           otherwise no caption
           question is asked.

Patch labels (for the dense encoder pre-training)
-------------------------------------------------
For every 8x8 patch (12x12 grid, row-major), the object with the largest
coverage of that patch if it covers at least 15% of it, else background:
``shape_label`` in 0..5 (0 = background, 1+shape index) and ``colour_label``
in 0..6 (0 = background, 1+colour index).  ``center_label`` is 1 for the patch
holding an object's centre.
"""

import math

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 96
PATCH = 8
GRID = IMAGE_SIZE // PATCH
SS = 4  # supersampling factor

SHAPES = ["circle", "square", "triangle", "cross", "star"]
SHAPE_PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles",
                "cross": "crosses", "star": "stars"}
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
COLOUR_RGB = {
    "red": (215, 35, 35),
    "green": (35, 160, 50),
    "blue": (35, 70, 215),
    "yellow": (235, 200, 25),
    "purple": (135, 45, 175),
    "orange": (245, 125, 25),
}
QTYPES = ["count", "attribute", "existence", "spatial", "caption"]
SPLIT_SEEDS = {"train": 1, "eval": 2, "tokenizer": 3}
MAX_OBJECTS = 6
SPATIAL_MARGIN = 8
SPATIAL_CLEAR = 2
CAPTION_MARGIN = 6


def scene_rng(split, index):
    return np.random.Generator(np.random.PCG64([SPLIT_SEEDS[split], int(index)]))


# ----------------------------------------------------------------------------
# scene layout and rendering
# ----------------------------------------------------------------------------

def sample_layout(rng):
    n = int(rng.integers(1, MAX_OBJECTS + 1))
    objs = []
    tries = 0
    while len(objs) < n and tries < 400:
        tries += 1
        r = float(rng.uniform(7.0, 13.0))
        x = float(rng.uniform(r + 1.5, IMAGE_SIZE - r - 1.5))
        y = float(rng.uniform(r + 1.5, IMAGE_SIZE - r - 1.5))
        if any(math.hypot(x - o["x"], y - o["y"]) < r + o["r"] + 3.0 for o in objs):
            continue
        objs.append({
            "shape": SHAPES[int(rng.integers(len(SHAPES)))],
            "colour": COLOURS[int(rng.integers(len(COLOURS)))],
            "x": round(x, 2), "y": round(y, 2), "r": round(r, 2),
        })
    return objs


def _shape_polygon(shape, x, y, r):
    """Polygon (list of points) for polygonal shapes, in pixel units."""
    if shape == "square":
        h = r / math.sqrt(2.0) * 1.05
        return [(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)]
    if shape == "triangle":
        pts = []
        for k in range(3):
            a = -math.pi / 2 + 2 * math.pi * k / 3
            pts.append((x + r * math.cos(a), y + r * 0.95 * math.sin(a) + r * 0.12))
        return pts
    if shape == "cross":
        w = r * 0.36
        return [(x - w, y - r), (x + w, y - r), (x + w, y - w), (x + r, y - w),
                (x + r, y + w), (x + w, y + w), (x + w, y + r), (x - w, y + r),
                (x - w, y + w), (x - r, y + w), (x - r, y - w), (x - w, y - w)]
    if shape == "star":
        pts = []
        for k in range(10):
            a = -math.pi / 2 + math.pi * k / 5
            rr = r if k % 2 == 0 else r * 0.45
            pts.append((x + rr * math.cos(a), y + rr * math.sin(a) + r * 0.08))
        return pts
    raise ValueError(shape)


def _draw_shape(draw, shape, x, y, r, fill):
    s = SS
    if shape == "circle":
        draw.ellipse([(x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s], fill=fill)
    else:
        draw.polygon([(px * s, py * s) for px, py in _shape_polygon(shape, x, y, r)], fill=fill)


def render(objs, rng):
    """Render a scene. Returns (uint8 HxWx3 image, float32 [n,H,W] coverage)."""
    big = IMAGE_SIZE * SS
    # background: light base colour + low-frequency tint + grain
    base = rng.uniform(205, 245, size=3)
    low = rng.normal(0, 1, size=(4, 4, 3))
    low_img = np.asarray(Image.fromarray(((low * 20) + 128).clip(0, 255).astype(np.uint8))
                         .resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC), dtype=np.float32) - 128
    bg = base[None, None, :] + low_img * 0.5
    bg = bg + rng.normal(0, 3.0, size=(IMAGE_SIZE, IMAGE_SIZE, 1))
    bg = bg.clip(170, 255)
    # clutter: a few faint grey lines, drawn at 4x
    clutter = Image.new("L", (big, big), 0)
    cd = ImageDraw.Draw(clutter)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0, x1, y1 = rng.uniform(0, big, size=4)
        cd.line([(x0, y0), (x1, y1)], fill=255, width=int(rng.integers(2, 7)))
    clutter = np.asarray(clutter.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BOX), dtype=np.float32) / 255.0
    shade = float(rng.uniform(60, 110))
    img = bg * (1 - 0.25 * clutter[..., None]) + 0.25 * clutter[..., None] * shade
    cover = np.zeros((len(objs), IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    for i, o in enumerate(objs):
        m = Image.new("L", (big, big), 0)
        _draw_shape(ImageDraw.Draw(m), o["shape"], o["x"], o["y"], o["r"], 255)
        a = np.asarray(m.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BOX), dtype=np.float32) / 255.0
        cover[i] = a
        col = np.array(COLOUR_RGB[o["colour"]], dtype=np.float64) + rng.uniform(-15, 15, size=3)
        img = img * (1 - a[..., None]) + a[..., None] * col[None, None, :]
    img = np.rint(img).clip(0, 255).astype(np.uint8)
    return img, cover


def patch_labels(objs, cover):
    """Per-patch labels on the 12x12 grid (row-major)."""
    shape_l = np.zeros(GRID * GRID, dtype=np.int64)
    colour_l = np.zeros(GRID * GRID, dtype=np.int64)
    center_l = np.zeros(GRID * GRID, dtype=np.int64)
    if objs:
        pc = cover.reshape(len(objs), GRID, PATCH, GRID, PATCH).mean(axis=(2, 4)).reshape(len(objs), -1)
        best = pc.argmax(axis=0)
        ok = pc.max(axis=0) >= 0.15
        for i, o in enumerate(objs):
            sel = ok & (best == i)
            shape_l[sel] = 1 + SHAPES.index(o["shape"])
            colour_l[sel] = 1 + COLOURS.index(o["colour"])
            cx = min(GRID - 1, int(o["x"] // PATCH))
            cy = min(GRID - 1, int(o["y"] // PATCH))
            center_l[cy * GRID + cx] = 1
    return shape_l, colour_l, center_l


def count_targets(objs):
    """[total, per colour (6), per shape (5)] object counts."""
    t = [len(objs)]
    t += [sum(o["colour"] == c for o in objs) for c in COLOURS]
    t += [sum(o["shape"] == s for o in objs) for s in SHAPES]
    return np.array(t, dtype=np.int64)


def make_scene(split, index):
    """Scene ``index`` of ``split``: dict(image uint8 HxWx3, objects, labels)."""
    rng = scene_rng(split, index)
    objs = sample_layout(rng)
    img, cover = render(objs, rng)
    shape_l, colour_l, center_l = patch_labels(objs, cover)
    return {"image": img, "objects": objs, "shape_label": shape_l,
            "colour_label": colour_l, "center_label": center_l,
            "counts": count_targets(objs), "split": split, "index": int(index)}


# ----------------------------------------------------------------------------
# questions
# ----------------------------------------------------------------------------

def name(o):
    return f"{o['colour']} {o['shape']}"


def article(word):
    return "an" if word[0] in "aeiou" else "a"


def a_name(o):
    """'a red circle' / 'an orange star'."""
    return f"{article(o['colour'])} {name(o)}"


def _reference(objs, i):
    """Shortest unambiguous description of object i, or None."""
    o = objs[i]
    if sum(p["shape"] == o["shape"] for p in objs) == 1:
        return f"the {o['shape']}"
    if sum(p["shape"] == o["shape"] and p["colour"] == o["colour"] for p in objs) == 1:
        return f"the {o['colour']} {o['shape']}"
    return None


def _relation_answer(objs, i, rel):
    """The single object in relation ``rel`` to object i, or None."""
    X = objs[i]

    def key(o):  # signed offset of o from X along the relation's axis
        if rel == "left of":
            return X["x"] - o["x"]
        if rel == "right of":
            return o["x"] - X["x"]
        if rel == "above":
            return X["y"] - o["y"]
        return o["y"] - X["y"]  # below

    others = [j for j in range(len(objs)) if j != i]
    hits = [j for j in others if key(objs[j]) > SPATIAL_MARGIN]
    if len(hits) != 1:
        return None
    for j in others:
        if j != hits[0] and key(objs[j]) >= -SPATIAL_CLEAR:
            return None
    return objs[hits[0]]


def caption(objs):
    if len(objs) == 1:
        return a_name(objs[0])
    if len(objs) == 2:
        a, b = objs
        dx, dy = abs(a["x"] - b["x"]), abs(a["y"] - b["y"])
        if dx >= dy + CAPTION_MARGIN:
            l, r = (a, b) if a["x"] < b["x"] else (b, a)
            return f"{a_name(l)} left of {a_name(r)}"
        if dy >= dx + CAPTION_MARGIN:
            t, u = (a, b) if a["y"] < b["y"] else (b, a)
            return f"{a_name(t)} above {a_name(u)}"
    return None


def candidates(objs, qtype):
    """All valid (question, answer) pairs of one type for a scene."""
    out = []
    if qtype == "count":
        out.append(("how many shapes?", str(len(objs))))
        for c in COLOURS:
            out.append((f"how many {c} shapes?", str(sum(o["colour"] == c for o in objs))))
        for s in SHAPES:
            out.append((f"how many {SHAPE_PLURAL[s]}?", str(sum(o["shape"] == s for o in objs))))
    elif qtype == "attribute":
        for s in SHAPES:
            m = [o for o in objs if o["shape"] == s]
            if len(m) == 1:
                out.append((f"what colour is the {s}?", m[0]["colour"]))
        for c in COLOURS:
            m = [o for o in objs if o["colour"] == c]
            if len(m) == 1:
                out.append((f"what shape is the {c} object?", m[0]["shape"]))
    elif qtype == "existence":
        present = {(o["colour"], o["shape"]) for o in objs}
        for c in COLOURS:
            for s in SHAPES:
                out.append((f"is there {article(c)} {c} {s}?", "yes" if (c, s) in present else "no"))
    elif qtype == "spatial":
        for i in range(len(objs)):
            ref = _reference(objs, i)
            if ref is None:
                continue
            for rel in ("left of", "right of", "above", "below"):
                y = _relation_answer(objs, i, rel)
                if y is not None:
                    out.append((f"what is {rel} {ref}?", name(y)))
    elif qtype == "caption":
        c = caption(objs)
        if c is not None:
            out.append(("describe the image", c))
    return out


def sample_question(objs, qtype, rng):
    """One (question, answer) of ``qtype`` or None if the type does not apply."""
    cands = candidates(objs, qtype)
    if not cands:
        return None
    if qtype == "existence":
        present = {(o["colour"], o["shape"]) for o in objs}
        if rng.random() < 0.5:
            c, s = sorted(present)[int(rng.integers(len(present)))]
            return (f"is there {article(c)} {c} {s}?", "yes")
        cols = {o["colour"] for o in objs}
        shps = {o["shape"] for o in objs}
        absent = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in present]
        hard = [(c, s) for c, s in absent if c in cols or s in shps]
        pool = hard if (hard and rng.random() < 0.5) else absent
        c, s = pool[int(rng.integers(len(pool)))]
        return (f"is there {article(c)} {c} {s}?", "no")
    if qtype == "count":
        # balance: total count, a colour count, a shape count; present items favoured
        k = rng.random()
        if k < 0.3:
            return cands[0]
        if k < 0.65:
            cols = sorted({o["colour"] for o in objs})
            c = cols[int(rng.integers(len(cols)))] if rng.random() < 0.75 else COLOURS[int(rng.integers(len(COLOURS)))]
            return cands[1 + COLOURS.index(c)]
        shs = sorted({o["shape"] for o in objs})
        s = shs[int(rng.integers(len(shs)))] if rng.random() < 0.75 else SHAPES[int(rng.integers(len(SHAPES)))]
        return cands[1 + len(COLOURS) + SHAPES.index(s)]
    return cands[int(rng.integers(len(cands)))]


def sample_questions(objs, rng, k, types=None):
    """Up to ``k`` distinct (question, answer, type) triples for a scene."""
    types = list(types or QTYPES)
    out, seen = [], set()
    for _ in range(4 * k):
        if len(out) >= k:
            break
        t = types[int(rng.integers(len(types)))]
        qa = sample_question(objs, t, rng)
        if qa is None or qa[0] in seen:
            continue
        seen.add(qa[0])
        out.append((qa[0], qa[1], t))
    return out


def corpus_texts(n_scenes=3000):
    """Question/answer text used to train the tokenizer (its own seed split)."""
    texts = []
    for i in range(n_scenes):
        rng = scene_rng("tokenizer", i)
        objs = sample_layout(rng)
        for t in QTYPES:
            for q, a in candidates(objs, t):
                texts.append(q)
                texts.append(a)
    return texts


if __name__ == "__main__":
    import argparse
    import os
    ap = argparse.ArgumentParser(description="render a few scenes for inspection")
    ap.add_argument("--split", default="train")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--out", default="scenes_preview")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.n):
        s = make_scene(args.split, i)
        Image.fromarray(s["image"]).save(os.path.join(args.out, f"{args.split}_{i:04d}.png"))
        rng = np.random.Generator(np.random.PCG64([99, i]))
        print(i, [name(o) for o in s["objects"]])
        for q, a, t in sample_questions(s["objects"], rng, 5):
            print("   ", t, "|", q, "->", a)
