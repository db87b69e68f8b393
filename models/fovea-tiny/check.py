"""Self-checks for fovea-tiny's Python side (fast; no trained weights needed).

    /usr/bin/python3 check.py          # or: /usr/bin/python3 -m pytest check.py

* the scene generator is deterministic and the eval set on disk matches it;
* tokenizer.json round-trips, and, when the ``tokenizers`` package is
  installed, HF's tokenizer encodes exactly like ours;
* our safetensors writer is read identically by the ``safetensors`` package
  (when installed) and by our reader;
* the KV-cached greedy path equals a full forward, and reference_forward's
  last hidden state and logits agree with the plain forward.
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data  # noqa: E402
import export  # noqa: E402
import model as M  # noqa: E402
import prompt  # noqa: E402
import tokenizer as tk  # noqa: E402


def sample_texts():
    texts = []
    for i in range(200):
        rng = data.scene_rng("eval", 900000 + i)
        objs = data.sample_layout(rng)
        qas = data.sample_questions(objs, rng, 3)
        texts.append(prompt.build_text([(q, a) for q, a, _ in qas]))
        texts.extend(q for q, _, _ in qas)
    texts += ["Unseen Words, digits 12345 and  double  spaces\n\nnew lines!", "it's a test's text"]
    return texts


def test_determinism():
    a, b = data.make_scene("train", 123), data.make_scene("train", 123)
    assert np.array_equal(a["image"], b["image"]) and a["objects"] == b["objects"]
    c = data.make_scene("eval", 123)
    assert not np.array_equal(a["image"], c["image"])


def test_eval_set_matches_generator():
    import make_eval
    path = os.path.join(HERE, "eval", "eval.jsonl")
    items = [json.loads(line) for line in open(path)]
    assert len(items) >= 1000
    scenes = make_eval.eval_items(5)
    expect = [(f"images/{s['index']:05d}.png", q, a, t) for s, qs in scenes for q, a, t in qs]
    got = [(it["image"], it["question"], it["answer"], it["type"]) for it in items[:len(expect)]]
    assert got == expect
    for s, _ in scenes:
        img = np.asarray(Image.open(os.path.join(HERE, "eval", f"images/{s['index']:05d}.png")).convert("RGB"))
        assert np.array_equal(img, s["image"])


def test_tokenizer():
    tok = tk.Tokenizer.load(os.path.join(HERE, "tokenizer.json"))
    for t in sample_texts():
        assert tok.decode(tok.encode(t), skip_special=False) == t
    try:
        from tokenizers import Tokenizer as HFTokenizer
    except ImportError:
        print("tokenizers not installed: HF comparison skipped")
        return
    hf = HFTokenizer.from_file(os.path.join(HERE, "tokenizer.json"))
    for t in sample_texts():
        assert hf.encode(t).ids == tok.encode(t), t


def test_safetensors():
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.standard_normal((3, 5)).astype(np.float16),
               "b": rng.standard_normal((7,)).astype(np.float32)}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        export.write_safetensors(p, tensors)
        back = export.read_safetensors(p)
        assert all(np.array_equal(back[k], tensors[k]) for k in tensors)
        try:
            from safetensors.numpy import load_file
        except ImportError:
            print("safetensors not installed: comparison skipped")
            return
        ref = load_file(p)
        assert all(np.array_equal(ref[k], tensors[k]) for k in tensors)


def test_model_paths_agree():
    torch.manual_seed(0)
    tok = tk.Tokenizer.load(os.path.join(HERE, "tokenizer.json"))
    cfg = M.default_config()
    cfg["text_config"]["vocab_size"] = len(tok)
    m = M.FoveaTiny(cfg).eval()
    s = data.make_scene("eval", 5)
    px = M.preprocess(s["image"])
    ids = prompt.encode_prompt(tok, "how many shapes?") + tok.encode(" 3")
    x = torch.tensor([ids])
    with torch.no_grad():
        ref = m.reference_forward(px, x)
        logits = m(x, pixel_values=px)
        assert torch.allclose(ref["logits"], logits, atol=1e-5)
        n_layers = cfg["text_config"]["num_hidden_layers"]
        assert f"text.hidden_states.{n_layers}" in ref
        # KV cache: prefill all but the last token, then one step
        f = m.image_features(px)
        _, past, _ = m.lm(x[:, :-1], f)
        step, _, _ = m.lm(x[:, -1:], None, start_pos=x.shape[1] - 1, past=past)
        assert torch.allclose(step[0, -1], logits[0, -1], atol=1e-4)
        # the Linear patch embedding equals the exported Conv2d layout
        w = m.hf_state_dict()["vision_tower.vision_model.embeddings.patch_embedding.weight"]
        conv = torch.nn.functional.conv2d(px, w, stride=8).flatten(2).transpose(1, 2)
        lin = m.vision_tower.vision_model.embeddings.patch_embedding(
            m.vision_tower.vision_model.embeddings.patchify(px))
        assert torch.allclose(conv, lin, atol=1e-5)


if __name__ == "__main__":
    fails = 0
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print("ok  ", name)
            except Exception as e:  # noqa: BLE001
                fails += 1
                print("FAIL", name, repr(e))
    n = sum(1 for k in globals() if k.startswith("test_"))
    print(f"{n - fails} passed, {fails} failed")
    sys.exit(1 if fails else 0)
