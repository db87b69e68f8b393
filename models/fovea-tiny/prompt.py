"""Prompt format of fovea-tiny.

Single turn (what evaluation and the runtime use)::

    <bos>USER: <image>\\n{question} ASSISTANT: {answer}<eos>

The model is given everything up to and including ``ASSISTANT:`` and
generates `` {answer}<eos>`` (the answer's first token carries the leading
space).  In token ids, ``<image>`` stands for ``NUM_VISUAL_TOKENS`` (145)
consecutive ``<image>`` ids (id 3), replaced inside the model by the projected
visual features, in order: the vision tower's [CLS] token, then the 12x12
patches in row-major order.

Training also uses multi-turn sequences over the same image::

    <bos>USER: <image>\\n{q1} ASSISTANT: {a1}<eos>USER: {q2} ASSISTANT: {a2}<eos>...

whose first turn is exactly the single-turn prompt; the loss is taken on the
answer tokens and their ``<eos>`` only.
"""

import tokenizer as tk

NUM_VISUAL_TOKENS = 145


def build_text(qas, image_token="<image>"):
    parts = ["<bos>"]
    for k, (q, a) in enumerate(qas):
        parts.append("USER: " + (image_token + "\n" if k == 0 else "") + q + " ASSISTANT:")
        if a is not None:
            parts.append(" " + a + "<eos>")
    return "".join(parts)


def encode_prompt(tok, question, n_visual=NUM_VISUAL_TOKENS):
    """Token ids of a single-turn prompt, ending with 'ASSISTANT:'."""
    return [tk.BOS] + tok.encode("USER: ") + [tk.IMAGE] * n_visual + \
        tok.encode("\n" + question + " ASSISTANT:")


def encode_training(tok, qas, n_visual=NUM_VISUAL_TOKENS):
    """(ids, loss_mask) for a multi-turn sequence; mask is 1 on answer tokens + <eos>."""
    ids, mask = [], []
    for k, (q, a) in enumerate(qas):
        if k == 0:
            p = encode_prompt(tok, q, n_visual)
        else:
            p = tok.encode("USER: " + q + " ASSISTANT:")
        ids += p
        mask += [0] * len(p)
        ans = tok.encode(" " + a) + [tk.EOS]
        ids += ans
        mask += [1] * len(ans)
    return ids, mask
