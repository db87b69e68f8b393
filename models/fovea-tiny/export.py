"""Export a checkpoint as Hugging Face-style files (f16 safetensors).

    /usr/bin/python3 export.py                 # latest checkpoint -> this folder
    /usr/bin/python3 export.py --ckpt .ckpt/decoder_final.pt --out /some/dir
    /usr/bin/python3 export.py --reference ref.safetensors   # intermediates of the exported model

Writes into ``--out``:
    config.json               LLaVA-style config (vision_config, text_config, ...)
    model.safetensors         all target weights, f16, HF LLaVA names
    preprocessor_config.json  image preprocessing (CLIPImageProcessor-style)
    draft/config.json         the draft's config (its own text_config)
    draft/model.safetensors   draft projector + decoder, f16
The tokenizer (tokenizer.json) is shared by both and lives next to this file.

safetensors layout: 8-byte little-endian header length N, N bytes of JSON
header ({name: {dtype, shape, data_offsets}} plus "__metadata__"), padded
with spaces to a multiple of 8, then the raw little-endian tensor data in the
order of the sorted names.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import model as M  # noqa: E402
import prompt  # noqa: E402

DTYPES = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
NP_OF = {"F16": np.float16, "F32": np.float32, "I64": np.int64}


def write_safetensors(path, tensors, metadata=None):
    names = sorted(tensors)
    header, blobs, off = {}, [], 0
    for n in names:
        a = np.ascontiguousarray(tensors[n])
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[n] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt", **(metadata or {})}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        raw = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(raw[s:e], dtype=np.dtype(NP_OF[v["dtype"]]).newbyteorder("<")).reshape(v["shape"])
    assert base > 0
    return out


def target_config(cfg):
    c = json.loads(json.dumps(cfg))
    c["fovea"] = {
        "prompt_format": "<bos>USER: <image>\\n{question} ASSISTANT: {answer}<eos>",
        "generation": "greedy; the prompt ends with 'ASSISTANT:'; stop at <eos> (id 2)",
        "image_token_expansion": "<image> is repeated image_seq_length (145) times in input_ids; "
                                 "those positions take the projected features: [CLS] then 12x12 patches row-major",
        "image_features": "vision hidden_states[vision_feature_layer]; hidden_states[0] = pre_layrnorm output, "
                          "hidden_states[i] = output of encoder layer i; strategy 'full' keeps [CLS]",
        "patch_embedding": "Conv2d weight (D, 3, 8, 8), stride 8, no bias; equal to a Linear over each patch "
                           "flattened in (c, ky, kx) order",
        "preprocessing": "RGB uint8 96x96 -> (x / 255 - 0.5) / 0.5 per channel, layout (3, 96, 96)",
        "vision_attention": "full (no mask); biases on q/k/v/out_proj and fc1/fc2; exact erf gelu",
        "text_attention": "causal over the whole sequence including image tokens; GQA: query head j uses kv head "
                          "j // (num_attention_heads / num_key_value_heads); RoPE rotate-half (HF Llama), "
                          "positions 0.. over the full sequence",
        "post_layernorm": "applies to the pooled [CLS] of the last vision layer only; not used by the VLM",
        "special_tokens": {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<image>": 3},
        "num_visual_tokens": prompt.NUM_VISUAL_TOKENS,
    }
    return c


def preprocessor_config(cfg):
    v = cfg["vision_config"]
    return {"image_processor_type": "CLIPImageProcessor", "do_resize": False, "do_center_crop": False,
            "do_rescale": True, "rescale_factor": 1.0 / 255.0, "do_normalize": True,
            "image_mean": list(M.IMAGE_MEAN), "image_std": list(M.IMAGE_STD), "do_convert_rgb": True,
            "size": {"height": v["image_size"], "width": v["image_size"]},
            "crop_size": {"height": v["image_size"], "width": v["image_size"]}}


def to_f16(sd):
    return {k: v.detach().float().numpy().astype(np.float16) for k, v in sd.items()}


def export(ckpt, out):
    ck = torch.load(ckpt, map_location="cpu")
    cfg = ck["cfg"]
    model = M.FoveaTiny(cfg)
    model.load_state_dict(ck["model"])
    dcfg = ck.get("draft_cfg") or M.draft_config(cfg)
    draft = M.DraftModel(dcfg)
    draft.load_state_dict(ck["draft"])
    st = ck.get("state", {})
    os.makedirs(out, exist_ok=True)
    meta = {"stage": str(st.get("stage")), "step": str(st.get("step")), "done": ",".join(st.get("done", []))}
    write_safetensors(os.path.join(out, "model.safetensors"), to_f16(model.hf_state_dict()), meta)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(target_config(cfg), f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(preprocessor_config(cfg), f, indent=2)
        f.write("\n")
    draft_trained = "draft" in st.get("done", []) or (st.get("stage") == "draft" and st.get("step", 0) > 0)
    if not draft_trained:
        print("the draft is not trained yet in this checkpoint: draft/ not written")
        return model, None
    os.makedirs(os.path.join(out, "draft"), exist_ok=True)
    write_safetensors(os.path.join(out, "draft", "model.safetensors"), to_f16(draft.hf_state_dict()), meta)
    dc = target_config(dcfg)
    dc["fovea"]["draft_of"] = "../config.json; reads the target's image features (vision_tower not included)"
    with open(os.path.join(out, "draft", "config.json"), "w") as f:
        json.dump(dc, f, indent=2)
        f.write("\n")
    return model, draft


def load_exported(folder, draft=False):
    """(FoveaTiny, DraftModel or None) in f32 from exported files."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    cfg.pop("fovea", None)
    model = M.FoveaTiny(cfg)
    w = read_safetensors(os.path.join(folder, "model.safetensors"))
    sd = {}
    for k, v in w.items():
        t = torch.from_numpy(v.astype(np.float32))
        if k.endswith("embeddings.patch_embedding.weight"):
            t = t.reshape(t.shape[0], -1)
        sd[k] = t
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.startswith("lm.")]
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    d = None
    if draft:
        dcfg = json.load(open(os.path.join(folder, "draft", "config.json")))
        dcfg.pop("fovea", None)
        d = M.DraftModel(dcfg)
        w = read_safetensors(os.path.join(folder, "draft", "model.safetensors"))
        missing, unexpected = d.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in w.items()},
                                                strict=False)
        assert not [k for k in missing if not k.startswith("lm.")] and not unexpected
        d.eval()
    return model, d


def dump_reference(folder, path, item=0):
    """Every intermediate of the exported (f16-rounded, run in f32) model on one eval item.

    Writes a safetensors file with ``pixel_values`` (1,3,96,96) F32,
    ``input_ids`` (1,T) I64 and the tensors of ``FoveaTiny.reference_forward``.
    """
    import prompt as P
    import tokenizer as tk
    from PIL import Image
    model, _ = load_exported(folder)
    items = [json.loads(line) for line in open(os.path.join(HERE, "eval", "eval.jsonl"))]
    it = items[item]
    img = np.asarray(Image.open(os.path.join(HERE, "eval", it["image"])).convert("RGB"))
    tok = tk.Tokenizer.load(os.path.join(HERE, "tokenizer.json"))
    ids = torch.tensor([P.encode_prompt(tok, it["question"])])
    px = M.preprocess(img)
    ref = model.reference_forward(px, ids)
    out = {"pixel_values": px.numpy(), "input_ids": ids.numpy().astype(np.int64)}
    out.update({k: v.float().numpy() for k, v in ref.items()})
    write_safetensors(path, out, {"image": it["image"], "question": it["question"]})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=os.path.join(HERE, ".ckpt", "latest.pt"))
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--reference", default=None,
                    help="also write every intermediate tensor for eval item 0 to this .safetensors file")
    args = ap.parse_args()
    if args.reference:
        dump_reference(args.out, args.reference)
        print(f"reference tensors -> {args.reference}")
        return
    model, draft = export(args.ckpt, args.out)
    msg = f"exported {os.path.basename(args.ckpt)}: target {M.count_params(model):,} params"
    if draft is not None:
        msg += f", draft {M.count_params(draft):,} params (+ the target's vision tower)"
    print(msg + f" -> {args.out}")


if __name__ == "__main__":
    main()
