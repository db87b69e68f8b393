"""Byte-level BPE tokenizer for fovea-tiny (GPT-2 style), trained here.

The tokenizer is stored as a Hugging Face ``tokenizer.json``: model type BPE
(vocab + merges), ByteLevel pre-tokenizer (no prefix space, GPT-2 split
regex) and ByteLevel decoder, plus four special tokens:

    id 0 <pad>   id 1 <bos>   id 2 <eos>   id 3 <image>

Ids 4..259 are the 256 single bytes (in GPT-2 byte-to-unicode order of byte
value 0..255) and ids 260.. are the merges in the order they were learned.

Encoding a string: split it on the special tokens, split every other piece
with the GPT-2 pre-tokenizer regex (ASCII form: the project's text is ASCII),
map each piece's UTF-8 bytes to the byte-level alphabet and apply merges by
rank (lowest rank first) until none applies.
"""

import json
import re
from collections import Counter

SPECIALS = ["<pad>", "<bos>", "<eos>", "<image>"]
PAD, BOS, EOS, IMAGE = 0, 1, 2, 3
# GPT-2's pre-tokenizer pattern with \p{L} -> [A-Za-z] and \p{N} -> [0-9]
PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}


def pretokenize(text):
    return ["".join(B2U[b] for b in piece.encode("utf-8")) for piece in PAT.findall(text)]


def train_bpe(texts, max_merges=250, min_freq=2):
    """Learn merges from ``texts``; ties broken by the pair's string order."""
    words = Counter()
    for t in texts:
        for piece in SPECIAL_RE.split(t):
            if piece and piece not in SPECIALS:
                words.update(pretokenize(piece))
    seqs = {w: list(w) for w in words}
    merges = []
    for _ in range(max_merges):
        pairs = Counter()
        for w, f in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += f
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if best[1] < min_freq:
            break
        (a, b), _ = best
        merges.append((a, b))
        for w in words:
            s = seqs[w]
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.vocab = {s: i for i, s in enumerate(SPECIALS)}
        for b in range(256):
            self.vocab[B2U[b]] = len(self.vocab)
        for a, b in self.merges:
            if a + b not in self.vocab:
                self.vocab[a + b] = len(self.vocab)
        self.inv = {i: s for s, i in self.vocab.items()}
        self.cache = {}

    def __len__(self):
        return len(self.vocab)

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        s = list(word)
        while len(s) > 1:
            best, bi = None, -1
            for i in range(len(s) - 1):
                r = self.ranks.get((s[i], s[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            a, b = self.merges[best]
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            s = out
        ids = [self.vocab[t] for t in s]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for piece in SPECIAL_RE.split(text):
            if not piece:
                continue
            if piece in SPECIALS:
                ids.append(self.vocab[piece])
                continue
            for w in pretokenize(piece):
                ids.extend(self._bpe(w))
        return ids

    def decode(self, ids, skip_special=True):
        out, buf = [], []
        for i in ids:
            t = self.inv[int(i)]
            if t in SPECIALS:
                if buf:
                    out.append(bytes(buf).decode("utf-8", errors="replace"))
                    buf = []
                if not skip_special:
                    out.append(t)
                continue
            buf.extend(U2B[c] for c in t)
        if buf:
            out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)

    def to_json(self):
        added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for i, s in enumerate(SPECIALS)]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                              "use_regex": True},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                        "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": self.vocab, "merges": [f"{a} {b}" for a, b in self.merges]},
        }

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, ensure_ascii=False, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in j["model"]["merges"]]
        tok = cls(merges)
        assert tok.vocab == j["model"]["vocab"], "vocab does not match merges"
        return tok


def training_texts():
    """The exact strings the tokenizer sees in prompts (see prompt.py)."""
    import data
    import prompt
    texts = []
    for t in data.corpus_texts():
        texts.append(t)
    # the prompt pieces, tokenized as in real prompts
    qa = []
    for i in range(600):
        rng = data.scene_rng("tokenizer", 100000 + i)
        objs = data.sample_layout(rng)
        qa.extend(data.sample_questions(objs, rng, 3))
    for j in range(0, len(qa), 3):
        texts.append(prompt.build_text([(q, a) for q, a, _ in qa[j:j + 3]]))
    return texts


if __name__ == "__main__":
    import argparse
    import os
    ap = argparse.ArgumentParser(description="train the byte-level BPE and write tokenizer.json")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer.json"))
    ap.add_argument("--max-merges", type=int, default=250)
    args = ap.parse_args()
    tok = Tokenizer(train_bpe(training_texts(), max_merges=args.max_merges))
    tok.save(args.out)
    print(f"vocab size {len(tok)} ({len(tok.merges)} merges) -> {args.out}")
