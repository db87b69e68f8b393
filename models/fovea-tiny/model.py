"""fovea-tiny: LLaVA-1.5 in miniature, in plain torch, with Hugging Face names.

This file is the reference definition: ``reference_forward`` returns every
intermediate hidden state so another implementation can be compared layer by
layer.

Image preprocessing (``preprocess``)
------------------------------------
RGB uint8 image of 96x96 (H, W, C) -> float32 tensor (3, 96, 96):
``pixel = (value / 255 - 0.5) / 0.5`` for every channel (mean 0.5, std 0.5),
i.e. values in [-1, 1].  No resizing or cropping (images are already 96x96).

Vision tower (CLIP-style ViT, names as HF ``CLIPVisionModel``)
-----------------------------------------------------------------
* Patch embedding: the image is cut into 8x8 patches, 12x12 of them, taken
  row-major (patch p = py*12 + px).  Each patch is flattened in (c, ky, kx)
  order -- index c*64 + ky*8 + kx, with pixel (y, x) = (py*8 + ky, px*8 + kx)
  -- and multiplied by ``patch_embedding.weight`` with no bias.  This is
  exactly a Conv2d(3, D, 8, stride 8, bias=False); the exported weight has
  the Conv2d shape (D, 3, 8, 8).
* Sequence: [class_embedding, patch_0 .. patch_143] + position_embedding
  (learned, 145 positions), then ``pre_layrnorm`` (LayerNorm).
* Encoder layers (pre-LN): h = h + out_proj(attn(layer_norm1(h)));
  h = h + fc2(gelu(fc1(layer_norm2(h)))).  Attention is full (no mask),
  q/k/v/out projections have biases, softmax(q k^T / sqrt(head_dim)).
  gelu is the exact erf form.  LayerNorm eps 1e-5.
* hidden_states[0] is the output of pre_layrnorm and hidden_states[i] the
  output of layer i; ``post_layernorm`` is applied only to the pooled [CLS]
  output of the last layer (used in encoder pre-training only).

Projector (``multi_modal_projector``)
-------------------------------------
Image features are hidden_states[vision_feature_layer] (= -2: the output of
the second-to-last encoder layer) with strategy "full": all 145 tokens,
[CLS] first, then the 144 patches.  linear_2(gelu(linear_1(x))), both with
bias.

Language model (Llama, names as HF ``LlamaForCausalLM``)
--------------------------------------------------------
embed_tokens; the ids equal to image_token_index (3) are replaced, in order,
by the projected image features.  Each layer:
h = h + o_proj(attn(input_layernorm(h))); h = h + down_proj(silu(gate_proj(x)) * up_proj(x))
with x = post_attention_layernorm(h).  RMSNorm: x * rsqrt(mean(x^2) + eps) * w.
Grouped-query attention (num_key_value_heads < num_attention_heads; query
head j uses KV head j // (heads / kv_heads)), causal mask over the whole
sequence, no biases.  RoPE as HF Llama ("rotate half"): for head dim d,
inv_freq[i] = theta^(-2i/d), angle = position * inv_freq, cos/sin repeated
twice to length d, q' = q*cos + rotate_half(q)*sin with
rotate_half(x) = cat(-x[d/2:], x[:d/2]); positions are 0,1,2,... over the
full sequence (visual tokens included).  Final ``norm`` then ``lm_head``
(untied).
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)


def default_config():
    return {
        "architectures": ["LlavaForConditionalGeneration"],
        "model_type": "llava",
        "image_token_index": 3,
        "image_seq_length": 145,
        "projector_hidden_act": "gelu",
        "multimodal_projector_bias": True,
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "full",
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": 128,
            "intermediate_size": 512,
            "num_hidden_layers": 5,
            "num_attention_heads": 4,
            "num_channels": 3,
            "image_size": 96,
            "patch_size": 8,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-5,
            "attention_dropout": 0.0,
        },
        "text_config": {
            "model_type": "llama",
            "vocab_size": 401,
            "hidden_size": 128,
            "intermediate_size": 352,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 32,
            "hidden_act": "silu",
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "max_position_embeddings": 512,
            "tie_word_embeddings": False,
            "attention_bias": False,
            "mlp_bias": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 0,
        },
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
    }


def draft_text_config(cfg):
    t = dict(cfg["text_config"])
    t.update({"hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16})
    return t


def preprocess(images):
    """uint8 array (H,W,3) or (B,H,W,3) -> float32 tensor (B,3,H,W)."""
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[None]
    x = torch.from_numpy(a.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


# ----------------------------------------------------------------------------
# vision tower
# ----------------------------------------------------------------------------

class CLIPVisionEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, p = c["hidden_size"], c["patch_size"]
        self.patch_size = p
        self.num_patches = (c["image_size"] // p) ** 2
        self.class_embedding = nn.Parameter(torch.randn(d) * 0.02)
        self.patch_embedding = nn.Linear(c["num_channels"] * p * p, d, bias=False)
        self.position_embedding = nn.Embedding(self.num_patches + 1, d)
        nn.init.normal_(self.position_embedding.weight, std=0.02)

    def patchify(self, pixel_values):
        b, ch, h, w = pixel_values.shape
        p = self.patch_size
        x = pixel_values.reshape(b, ch, h // p, p, w // p, p)
        # -> (b, py, px, c, ky, kx) -> (b, py*px, c*ky*kx)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), ch * p * p)

    def forward(self, pixel_values):
        x = self.patch_embedding(self.patchify(pixel_values))
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1)
        return x + self.position_embedding.weight.unsqueeze(0)


class CLIPAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.h = c["num_attention_heads"]
        self.hd = d // self.h
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        a = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(self.hd), dim=-1)
        return self.out_proj((a @ v).transpose(1, 2).reshape(b, t, d))


class CLIPMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc1 = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.fc2 = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.self_attn = CLIPAttention(c)
        self.layer_norm2 = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.mlp = CLIPMLP(c)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class CLIPEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(c) for _ in range(c["num_hidden_layers"])])


class CLIPVisionTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = CLIPVisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.encoder = CLIPEncoder(c)
        self.post_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, pixel_values, upto=None):
        """All hidden states [pre_layrnorm out, layer 1 out, ...]; stops after ``upto`` layers."""
        h = self.pre_layrnorm(self.embeddings(pixel_values))
        hs = [h]
        for i, layer in enumerate(self.encoder.layers):
            if upto is not None and i >= upto:
                break
            h = layer(h)
            hs.append(h)
        return hs


class CLIPVisionModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vision_model = CLIPVisionTransformer(c)


# ----------------------------------------------------------------------------
# projector and language model
# ----------------------------------------------------------------------------

class LlavaMultiModalProjector(nn.Module):
    def __init__(self, vision_hidden, text_hidden):
        super().__init__()
        self.linear_1 = nn.Linear(vision_hidden, text_hidden)
        self.linear_2 = nn.Linear(text_hidden, text_hidden)

    def forward(self, x):
        return self.linear_2(F.gelu(self.linear_1(x)))


class LlamaRMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def rope_cos_sin(positions, head_dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    ang = positions.to(torch.float32)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], dim=-1)
    return emb.cos(), emb.sin()


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.h, self.kvh, self.hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.q_proj = nn.Linear(d, self.h * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.kvh * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.kvh * self.hd, bias=False)
        self.o_proj = nn.Linear(self.h * self.hd, d, bias=False)

    def forward(self, x, cos, sin, past=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kvh, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kvh, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None and past[0] is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        new_past = (k, v)
        rep = self.h // self.kvh
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        tk = k.shape[2]
        if t > 1:
            mask = torch.ones(t, tk, dtype=torch.bool).triu(tk - t + 1)
            s = s.masked_fill(mask, float("-inf"))
        a = torch.softmax(s, dim=-1)
        o = (a @ v).transpose(1, 2).reshape(b, t, self.h * self.hd)
        return self.o_proj(o), new_past


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = LlamaAttention(c)
        self.post_attention_layernorm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = LlamaMLP(c)

    def forward(self, x, cos, sin, past=None):
        a, new_past = self.self_attn(self.input_layernorm(x), cos, sin, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), new_past


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        nn.init.normal_(self.embed_tokens.weight, std=0.02)
        self.layers = nn.ModuleList([LlamaDecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = LlamaRMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, inputs_embeds, start_pos=0, past=None, want_hidden=False):
        t = inputs_embeds.shape[1]
        pos = torch.arange(start_pos, start_pos + t)
        cos, sin = rope_cos_sin(pos, self.c["head_dim"], self.c["rope_theta"])
        h = inputs_embeds
        hs = [h] if want_hidden else None
        new_past = []
        for i, layer in enumerate(self.layers):
            h, p = layer(h, cos, sin, None if past is None else past[i])
            new_past.append(p)
            if want_hidden:
                hs.append(h)
        return self.norm(h), new_past, hs


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        nn.init.normal_(self.lm_head.weight, std=0.02)


def _init_linears(module):
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class VisionLanguageDecoder(nn.Module):
    """Projector + Llama decoder: the part shared by the target and the draft."""

    def __init__(self, vision_hidden, text_cfg, image_token_index):
        super().__init__()
        self.text_cfg = text_cfg
        self.image_token_index = image_token_index
        self.multi_modal_projector = LlavaMultiModalProjector(vision_hidden, text_cfg["hidden_size"])
        self.language_model = LlamaForCausalLM(text_cfg)
        _init_linears(self)
        # scaled init of residual outputs
        n = text_cfg["num_hidden_layers"]
        for layer in self.language_model.model.layers:
            nn.init.normal_(layer.self_attn.o_proj.weight, std=0.02 / math.sqrt(2 * n))
            nn.init.normal_(layer.mlp.down_proj.weight, std=0.02 / math.sqrt(2 * n))

    def embed(self, input_ids, image_features):
        """Token embeddings with the <image> positions replaced by projected features."""
        emb = self.language_model.model.embed_tokens(input_ids)
        if image_features is None:
            return emb, None
        proj = self.multi_modal_projector(image_features)
        m = (input_ids == self.image_token_index)
        emb = emb.masked_scatter(m.unsqueeze(-1), proj.to(emb.dtype).reshape(-1, proj.shape[-1]))
        return emb, proj

    def forward(self, input_ids, image_features=None, start_pos=0, past=None, want_hidden=False):
        emb, proj = self.embed(input_ids, image_features)
        h, new_past, hs = self.language_model.model(emb, start_pos, past, want_hidden)
        logits = self.language_model.lm_head(h)
        return logits, new_past, {"projector": proj, "hidden_states": hs, "final_norm": h}


class FoveaTiny(nn.Module):
    """LlavaForConditionalGeneration in miniature."""

    def __init__(self, cfg=None):
        super().__init__()
        self.cfg = cfg or default_config()
        vc, tc = self.cfg["vision_config"], self.cfg["text_config"]
        self.vision_tower = CLIPVisionModel(vc)
        _init_linears(self.vision_tower)
        self.lm = VisionLanguageDecoder(vc["hidden_size"], tc, self.cfg["image_token_index"])
        # HF-style attribute names at the top level
        self.multi_modal_projector = self.lm.multi_modal_projector
        self.language_model = self.lm.language_model

    def feature_layer_index(self):
        n = self.cfg["vision_config"]["num_hidden_layers"]
        li = self.cfg["vision_feature_layer"]
        return li if li >= 0 else n + 1 + li

    def image_features(self, pixel_values):
        """hidden_states[vision_feature_layer], all 145 tokens ("full")."""
        li = self.feature_layer_index()
        return self.vision_tower.vision_model(pixel_values, upto=li)[li]

    def forward(self, input_ids, pixel_values=None, image_features=None):
        if image_features is None and pixel_values is not None:
            image_features = self.image_features(pixel_values)
        logits, _, _ = self.lm(input_ids, image_features)
        return logits

    def hf_state_dict(self):
        """State dict with Hugging Face LLaVA parameter names and shapes."""
        out = {}
        for k, v in self.state_dict().items():
            if k.startswith("lm."):
                continue  # aliases of multi_modal_projector / language_model
            if k.endswith("embeddings.patch_embedding.weight"):
                vc = self.cfg["vision_config"]
                p = vc["patch_size"]
                v = v.reshape(v.shape[0], vc["num_channels"], p, p)
            out[k] = v
        return out

    @torch.no_grad()
    def reference_forward(self, pixel_values, input_ids):
        """Every intermediate of one forward pass, for layer-by-layer checks.

        Returns a dict of float32 tensors:
          vision.embeddings        (B,145,Dv)  patch+class+position embeddings
          vision.hidden_states.i   (B,145,Dv)  i=0: after pre_layrnorm; i>=1: after layer i
          vision.pooled            (B,Dv)      post_layernorm of the last layer's [CLS]
          image_features           (B,145,Dv)  hidden_states[vision_feature_layer]
          projector                (B,145,Dt)  multi_modal_projector output
          text.hidden_states.i     (B,T,Dt)    i=0: merged input embeddings; i>=1: after layer i
          text.norm                (B,T,Dt)    after the final RMSNorm
          logits                   (B,T,V)
        """
        vm = self.vision_tower.vision_model
        out = {"vision.embeddings": vm.embeddings(pixel_values)}
        hs = vm(pixel_values)
        for i, h in enumerate(hs):
            out[f"vision.hidden_states.{i}"] = h
        out["vision.pooled"] = vm.post_layernorm(hs[-1][:, 0])
        feats = hs[self.feature_layer_index()]
        out["image_features"] = feats
        logits, _, extra = self.lm(input_ids, feats, want_hidden=True)
        out["projector"] = extra["projector"]
        for i, h in enumerate(extra["hidden_states"]):
            out[f"text.hidden_states.{i}"] = h
        out["text.norm"] = extra["final_norm"]
        out["logits"] = logits
        return out


class EncoderPretrainHeads(nn.Module):
    """Heads used only to pre-train the vision tower (not exported).

    Dense: every patch token of hidden_states[vision_feature_layer] predicts
    its shape (6 classes incl. background), colour (7) and whether it holds
    an object's centre (2).  Global: the [CLS] token of the same layer and the
    pooled output of the last layer each predict the object counts
    (total, per colour, per shape; 0..6 each).
    """

    def __init__(self, d, n_shapes=5, n_colours=6, max_count=6):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.shape = nn.Linear(d, n_shapes + 1)
        self.colour = nn.Linear(d, n_colours + 1)
        self.center = nn.Linear(d, 2)
        self.n_counts = 1 + n_colours + n_shapes
        self.mc = max_count + 1
        self.count_feat = nn.Linear(d, self.n_counts * self.mc)
        self.count_pool = nn.Linear(d, self.n_counts * self.mc)

    def forward(self, feats, pooled):
        p = self.ln(feats[:, 1:])
        b = feats.shape[0]
        return {"shape": self.shape(p), "colour": self.colour(p), "center": self.center(p),
                "count_feat": self.count_feat(self.ln(feats[:, 0])).view(b, self.n_counts, self.mc),
                "count_pool": self.count_pool(pooled).view(b, self.n_counts, self.mc)}


class DraftModel(nn.Module):
    """Draft for speculative decoding: own projector + small Llama decoder.

    It reads the same image features as the target (the target's vision
    tower, hidden_states[vision_feature_layer], all 145 tokens).
    """

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.lm = VisionLanguageDecoder(cfg["vision_config"]["hidden_size"], cfg["text_config"],
                                        cfg["image_token_index"])
        self.multi_modal_projector = self.lm.multi_modal_projector
        self.language_model = self.lm.language_model

    def hf_state_dict(self):
        return {k: v for k, v in self.state_dict().items() if not k.startswith("lm.")}


def draft_config(cfg):
    d = {k: v for k, v in cfg.items() if k not in ("vision_config", "text_config")}
    d["vision_config"] = dict(cfg["vision_config"])
    d["text_config"] = draft_text_config(cfg)
    d["shares_vision_tower_with_target"] = True
    return d


def count_params(module):
    return sum(p.numel() for p in module.parameters())
