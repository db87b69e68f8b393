"""Train fovea-tiny (and its draft) from scratch on generated scenes.

One command runs, or resumes, the whole curriculum:

    /usr/bin/python3 train.py            # = --stage all

Stages, in order (each resumes from the latest checkpoint automatically):

  encoder  pre-train the vision tower with dense per-patch labels (shape,
           colour, object centre) on hidden_states[-2] and object counts from
           [CLS]; fresh scenes every step (train split, index step*B + i).
  cache    run the frozen vision tower once over a fixed pool of training
           scenes (indices 0..N-1) and store hidden_states[-2] (f16).
  decoder  train projector + Llama decoder on the cached features, with
           multi-turn question sequences drawn afresh every step.
  joint    (--joint-steps, 0 skips it) fine-tune everything end to end on
           fresh scenes, keeping the dense losses as an auxiliary term and
           the decoder's visual-token dropout.
  captions (--caption-steps, 0 skips it) fine-tune projector + decoder on
           the final cached features with half of every batch scenes that
           have a caption (of two objects, --caption-min-objects), each
           asked for it.
  draft    distil the draft decoder from the target: KL to the target's
           next-token distribution plus cross-entropy to its argmax on the
           answer tokens (features recomputed if the joint stage ran).

Everything lives in ``.ckpt/`` next to this file: ``latest.pt`` (all weights,
optimizer, stage and step), ``feats.f16`` + ``cache_meta.json`` (the feature
cache), ``train.log``.  ``train_record.json`` (next to this file) records the
command, seed, speeds and metrics.  Determinism: model init is seeded, and the
data of every step is a pure function of (seed, stage, step), so a resumed run
sees the same batches as an uninterrupted one.
"""

import argparse
import json
import math
import os
import sys
import time


def _limit_threads():
    """Apply --threads to the BLAS/OpenMP pools before numpy and torch load."""
    n = "1"
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(v, n)


_limit_threads()

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import data  # noqa: E402
import model as M  # noqa: E402
import prompt  # noqa: E402
import tokenizer as tk  # noqa: E402

STAGES = ["encoder", "cache", "decoder", "joint", "captions", "draft"]
TYPE_WEIGHTS = {"count": 0.2, "attribute": 0.2, "existence": 0.15, "spatial": 0.25, "caption": 0.2}


# ----------------------------------------------------------------------------
# utilities
# ----------------------------------------------------------------------------

class Logger:
    def __init__(self, path):
        self.f = open(path, "a")

    def __call__(self, *a):
        s = time.strftime("%Y-%m-%d %H:%M:%S ") + " ".join(str(x) for x in a)
        print(s, flush=True)
        self.f.write(s + "\n")
        self.f.flush()


def lr_at(step, total, base, warmup=100, floor=0.1):
    if step < warmup:
        return base * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


def set_lr(opt, lr):
    for g in opt.param_groups:
        g["lr"] = lr


def make_opt(params, lr, wd=0.05):
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))


def train_questions(objs, rng, k):
    """Up to k distinct questions for a scene, types weighted by TYPE_WEIGHTS."""
    types = list(TYPE_WEIGHTS)
    w = np.array([TYPE_WEIGHTS[t] for t in types])
    w = w / w.sum()
    out, seen = [], set()
    for _ in range(4 * k):
        if len(out) >= k:
            break
        t = types[int(rng.choice(len(types), p=w))]
        qa = data.sample_question(objs, t, rng)
        if qa is None or qa[0] in seen:
            continue
        seen.add(qa[0])
        out.append(qa)
    return out


def batch_sequences(tok, objs_list, rng, turns, n_visual=prompt.NUM_VISUAL_TOKENS, with_caption=None):
    """Multi-turn sequences, one per scene. with_caption[i]: the i-th scene's
    sequence includes its caption question, at a random turn."""
    seqs, masks = [], []
    for i, objs in enumerate(objs_list):
        k = int(rng.integers(max(1, (turns + 1) // 2), turns + 1))
        qas = train_questions(objs, rng, k)
        cap = data.caption(objs) if with_caption is not None and with_caption[i] else None
        if cap is not None:
            qas = [qa for qa in qas if qa[0] != "describe the image"][:k - 1]
            qas.insert(int(rng.integers(0, len(qas) + 1)), ("describe the image", cap))
        ids, m = prompt.encode_training(tok, qas, n_visual)
        seqs.append(ids)
        masks.append(m)
    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), tk.PAD, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.float32)
    for i, (s, m) in enumerate(zip(seqs, masks)):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(m)] = torch.tensor(m, dtype=torch.float32)
    return ids, mask


def drop_visual_tokens(feats, rng, args):
    """Visual-token dropout: with probability args.drop_prob, every sequence of
    the batch keeps [CLS] and a uniformly random subset of k patch tokens (k
    drawn once per batch, args.drop_min..args.drop_max), in grid order. The
    decoder then learns to answer from a shortened visual sequence, which is
    what it gets behind fovea's training-free compression methods. Returns
    the (possibly) shortened features."""
    if args.drop_prob <= 0 or rng.random() >= args.drop_prob:
        return feats
    n = feats.shape[1] - 1
    k = int(rng.integers(args.drop_min, min(args.drop_max, n) + 1))
    rows = [torch.tensor([0] + sorted(1 + int(i) for i in rng.choice(n, size=k, replace=False)))
            for _ in range(feats.shape[0])]
    return torch.stack([feats[b, r] for b, r in enumerate(rows)])


def answer_logits(lm, ids, feats, mask):
    """Logits only where the next token is supervised: (logits[n, V], targets[n], weights[n])."""
    emb, _ = lm.embed(ids, feats)
    h, _, _ = lm.language_model.model(emb)
    sel = mask[:, 1:] > 0
    hs = h[:, :-1][sel]
    return lm.language_model.lm_head(hs), ids[:, 1:][sel]


def answer_loss(lm, ids, feats, mask):
    lg, tgt = answer_logits(lm, ids, feats, mask)
    loss = F.cross_entropy(lg, tgt)
    with torch.no_grad():
        acc = (lg.argmax(-1) == tgt).float().mean()
    return loss, float(acc)


def scenes_batch(split, start, n):
    return [data.make_scene(split, start + i) for i in range(n)]


def encoder_losses(model, heads, scenes):
    x = M.preprocess(np.stack([s["image"] for s in scenes]))
    vm = model.vision_tower.vision_model
    hs = vm(x)
    feats = hs[model.feature_layer_index()]
    pooled = vm.post_layernorm(hs[-1][:, 0])
    o = heads(feats, pooled)
    sl = torch.from_numpy(np.stack([s["shape_label"] for s in scenes]))
    cl = torch.from_numpy(np.stack([s["colour_label"] for s in scenes]))
    ce = torch.from_numpy(np.stack([s["center_label"] for s in scenes]))
    cnt = torch.from_numpy(np.stack([s["counts"] for s in scenes])).clamp(max=heads.mc - 1)
    l_shape = F.cross_entropy(o["shape"].reshape(-1, o["shape"].shape[-1]), sl.reshape(-1))
    l_col = F.cross_entropy(o["colour"].reshape(-1, o["colour"].shape[-1]), cl.reshape(-1))
    l_cen = F.cross_entropy(o["center"].reshape(-1, 2), ce.reshape(-1),
                            weight=torch.tensor([1.0, 4.0]))
    l_cf = F.cross_entropy(o["count_feat"].reshape(-1, heads.mc), cnt.reshape(-1))
    l_cp = F.cross_entropy(o["count_pool"].reshape(-1, heads.mc), cnt.reshape(-1))
    loss = l_shape + l_col + 0.5 * l_cen + 0.5 * (l_cf + l_cp)
    with torch.no_grad():
        obj = sl > 0
        ps = (o["shape"].argmax(-1) == sl)[obj].float().mean()
        pc = (o["colour"].argmax(-1) == cl)[obj].float().mean()
        bg = (o["shape"].argmax(-1) == 0)[~obj].float().mean()
        cacc = (o["count_feat"].argmax(-1) == cnt).float().mean()
    return loss, {"shape_acc": float(ps), "colour_acc": float(pc), "bg_acc": float(bg),
                  "count_acc": float(cacc)}


# ----------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------

def latest_checkpoint(ckdir):
    p = os.path.join(ckdir, "latest.pt")
    return p if os.path.exists(p) else None


def load_models_from_checkpoint(path, draft=False):
    ck = torch.load(path, map_location="cpu")
    model = M.FoveaTiny(ck["cfg"])
    model.load_state_dict(ck["model"])
    model.eval()
    d = None
    if draft and ck.get("draft") is not None:
        d = M.DraftModel(ck.get("draft_cfg") or M.draft_config(ck["cfg"]))
        d.load_state_dict(ck["draft"])
        d.eval()
    return model, d


class Trainer:
    def __init__(self, args):
        self.args = args
        self.ckdir = args.ckpt_dir
        os.makedirs(self.ckdir, exist_ok=True)
        self.log = Logger(os.path.join(self.ckdir, "train.log"))
        self.tok = tk.Tokenizer.load(os.path.join(HERE, "tokenizer.json"))
        torch.manual_seed(args.seed)
        cfg = M.default_config()
        cfg["text_config"]["vocab_size"] = len(self.tok)
        self.model = M.FoveaTiny(cfg)
        self.heads = M.EncoderPretrainHeads(cfg["vision_config"]["hidden_size"])
        torch.manual_seed(args.seed + 1)
        self.draft = M.DraftModel(M.draft_config(cfg))
        self.state = {"stage": None, "step": 0, "done": [], "history": [], "speeds": {},
                      "commands": []}
        self.opt = None
        self.opt_state = None
        p = latest_checkpoint(self.ckdir)
        if p is not None:
            ck = torch.load(p, map_location="cpu")
            st = ck["state"]
            early = st["stage"] in (None, "encoder", "cache") and \
                all(s in ("encoder", "cache") for s in st["done"])
            if ck["cfg"] != cfg and early:
                # the decoder has not started: keep the trained vision tower, take the new
                # text/draft config (a freshly seeded decoder and draft)
                keep = {k: v for k, v in ck["model"].items() if k.startswith("vision_tower.")}
                self.model.load_state_dict(keep, strict=False)
                self.log("config changed before the decoder stage: vision tower kept, decoder re-initialised")
            else:
                if ck["cfg"] != cfg:
                    self.model = M.FoveaTiny(ck["cfg"])
                dcfg = ck.get("draft_cfg") or M.draft_config(ck["cfg"])
                if dcfg != self.draft.cfg:
                    self.draft = M.DraftModel(dcfg)
                self.model.load_state_dict(ck["model"])
                self.draft.load_state_dict(ck["draft"])
            self.heads.load_state_dict(ck["heads"])
            self.state = st
            self.opt_state = ck.get("opt")
            self.log(f"resumed from {os.path.basename(p)}: stage {self.state['stage']} "
                     f"step {self.state['step']}, done {self.state['done']}")
        cmd = "python3 train.py " + " ".join(sys.argv[1:])
        self.state["commands"].append({"time": time.strftime("%Y-%m-%d %H:%M:%S"), "command": cmd.strip()})
        self.last_save = time.time()
        self.record()

    def save(self, tag=None):
        ck = {"cfg": self.model.cfg, "model": self.model.state_dict(), "heads": self.heads.state_dict(),
              "draft_cfg": self.draft.cfg, "draft": self.draft.state_dict(), "state": self.state,
              "opt": self.opt.state_dict() if self.opt is not None else None}
        tmp = os.path.join(self.ckdir, "latest.pt.tmp")
        torch.save(ck, tmp)
        os.replace(tmp, os.path.join(self.ckdir, "latest.pt"))
        if tag:
            ck["opt"] = None
            torch.save(ck, os.path.join(self.ckdir, f"{tag}.pt"))
        self.last_save = time.time()
        self.record()

    def maybe_save(self):
        if time.time() - self.last_save > self.args.ckpt_seconds:
            self.save()
            self.log(f"checkpoint: stage {self.state['stage']} step {self.state['step']}")

    def record(self):
        rec = {"seed": self.args.seed, "commands": self.state["commands"],
               "arguments": {k: v for k, v in vars(self.args).items() if k != "ckpt_dir"},
               "stage": self.state["stage"], "step": self.state["step"], "done": self.state["done"],
               "samples_per_second": self.state["speeds"],
               "params": {"vision_tower": M.count_params(self.model.vision_tower),
                          "projector": M.count_params(self.model.multi_modal_projector),
                          "language_model": M.count_params(self.model.language_model),
                          "draft_projector_and_decoder": M.count_params(self.draft)},
               "history": self.state["history"][-40:]}
        default_dir = os.path.realpath(self.ckdir) == os.path.realpath(os.path.join(HERE, ".ckpt"))
        path = os.path.join(HERE if default_dir else self.ckdir, "train_record.json")
        with open(path, "w") as f:
            json.dump(rec, f, indent=1)
            f.write("\n")

    def begin(self, stage, params, lr):
        """Set up the optimizer for a stage; returns the step to start at."""
        self.opt = make_opt(params, lr)
        start = 0
        if self.state["stage"] == stage:
            start = self.state["step"]
            if self.opt_state is not None:
                try:
                    self.opt.load_state_dict(self.opt_state)
                except (ValueError, KeyError):
                    self.log("optimizer state did not match; starting it afresh")
        self.opt_state = None
        self.state["stage"] = stage
        self.state["step"] = start
        return start

    def finish(self, stage, metrics=None):
        self.state["done"].append(stage)
        if metrics:
            self.state["history"].append({"stage": stage, "step": self.state["step"], **metrics})
        self.opt = None
        self.save(tag=f"{stage}_final")
        self.log(f"stage {stage} finished")

    def speed(self, stage, n, dt):
        self.state["speeds"][stage] = round(n / max(dt, 1e-9), 2)

    # --------------------------------------------------------------- stages
    def stage_encoder(self):
        a = self.args
        params = list(self.model.vision_tower.parameters()) + list(self.heads.parameters())
        start = self.begin("encoder", params, a.enc_lr)
        self.model.train()
        t0, n0 = time.time(), 0
        for step in range(start, a.enc_steps):
            set_lr(self.opt, lr_at(step, a.enc_steps, a.enc_lr))
            scenes = scenes_batch("train", 10_000_000 + step * a.enc_batch, a.enc_batch)
            loss, m = encoder_losses(self.model, self.heads, scenes)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.opt.step()
            n0 += a.enc_batch
            self.state["step"] = step + 1
            if (step + 1) % a.log_every == 0:
                self.speed("encoder", n0, time.time() - t0)
                self.log(f"encoder step {step + 1}/{a.enc_steps} loss {loss.item():.4f} "
                         + " ".join(f"{k} {v:.3f}" for k, v in m.items())
                         + f" | {self.state['speeds']['encoder']} img/s")
            self.maybe_save()
        # held-out check on eval-split scenes (not the eval questions)
        self.model.eval()
        with torch.no_grad():
            _, m = encoder_losses(self.model, self.heads, scenes_batch("eval", 50_000, 128))
        self.log("encoder held-out: " + " ".join(f"{k} {v:.3f}" for k, v in m.items()))
        self.finish("encoder", {"encoder_heldout": m})

    def cache_paths(self, tag="feats"):
        return os.path.join(self.ckdir, f"{tag}.f16"), os.path.join(self.ckdir, f"{tag}_meta.json")

    def build_cache(self, tag="feats"):
        a = self.args
        fpath, mpath = self.cache_paths(tag)
        n, d = a.cache_images, self.model.cfg["vision_config"]["hidden_size"]
        T = self.model.cfg["image_seq_length"]
        meta = {"n": n, "done": 0, "objects": []}
        if os.path.exists(mpath) and os.path.exists(fpath):
            meta = json.load(open(mpath))
        if meta["done"] >= n and meta["n"] == n:
            return
        mode = "r+" if os.path.exists(fpath) and meta["done"] > 0 else "w+"
        mm = np.memmap(fpath, dtype=np.float16, mode=mode, shape=(n, T, d))
        self.model.eval()
        t0, c0 = time.time(), meta["done"]
        chunk = 500
        while meta["done"] < n:
            s = meta["done"]
            e = min(n, s + chunk)
            scenes = scenes_batch("train", s, e - s)
            with torch.no_grad():
                f = self.model.image_features(M.preprocess(np.stack([x["image"] for x in scenes])))
            mm[s:e] = f.numpy().astype(np.float16)
            mm.flush()
            meta["objects"] += [x["objects"] for x in scenes]
            meta["done"] = e
            with open(mpath + ".tmp", "w") as fh:
                json.dump(meta, fh)
            os.replace(mpath + ".tmp", mpath)
            self.speed("cache", e - c0, time.time() - t0)
            self.log(f"cache {tag}: {e}/{n} images ({self.state['speeds']['cache']} img/s)")

    def load_cache(self, tag="feats"):
        fpath, mpath = self.cache_paths(tag)
        meta = json.load(open(mpath))
        T = self.model.cfg["image_seq_length"]
        d = self.model.cfg["vision_config"]["hidden_size"]
        mm = np.memmap(fpath, dtype=np.float16, mode="r", shape=(meta["n"], T, d))
        return torch.from_numpy(np.array(mm)), meta["objects"]

    def stage_cache(self):
        self.state["stage"] = "cache"
        self.build_cache("feats")
        self.finish("cache")

    def pool_indices(self, step, batch, n, salt):
        """Indices into the cache pool for a step: a seeded permutation per epoch."""
        g0 = step * batch
        epoch = g0 // n
        perm = np.random.Generator(np.random.PCG64([self.args.seed, salt, epoch])).permutation(n)
        idx = [(g0 + i) for i in range(batch)]
        out = []
        for g in idx:
            e = g // n
            if e != epoch:
                perm = np.random.Generator(np.random.PCG64([self.args.seed, salt, e])).permutation(n)
                epoch = e
            out.append(int(perm[g % n]))
        return out

    def quick_eval(self, limit, draft=False):
        import evaluate
        if not hasattr(self, "_eval"):
            self._eval = {}
        if limit not in self._eval:
            self._eval[limit] = evaluate.load_eval(limit=limit)
        items, cache = self._eval[limit]
        res = evaluate.evaluate(self.model, self.tok, items, cache, self.draft if draft else None)
        self.model.train()
        return res

    def periodic_eval(self, stage, step):
        """The quick eval during a stage: logged, kept in the history, and
        followed by a checkpoint. Returns its seconds, which the caller
        leaves out of the stage's speed."""
        te = time.time()
        res = self.quick_eval(self.args.eval_limit)
        self.state["history"].append({"stage": stage, "step": step, "eval": res})
        self.log(f"eval@{step} ({time.time() - te:.0f}s): "
                 + " ".join(f"{k} {v:.3f}" for k, v in res.items() if isinstance(v, float)))
        self.save()
        return time.time() - te

    def stage_decoder(self):
        a = self.args
        self.build_cache("feats")  # no-op when complete; rebuilds a lost cache from the saved encoder
        feats, objects = self.load_cache("feats")
        n = len(objects)
        params = list(self.model.lm.parameters())
        start = self.begin("decoder", params, a.dec_lr)
        self.model.train()
        t0, n0 = time.time(), 0
        for step in range(start, a.dec_steps):
            set_lr(self.opt, lr_at(step, a.dec_steps, a.dec_lr, warmup=200))
            idx = self.pool_indices(step, a.dec_batch, n, salt=11)
            rng = np.random.Generator(np.random.PCG64([a.seed, 12, step]))
            f = feats[torch.tensor(idx)].float()
            if step >= a.drop_from:
                f = drop_visual_tokens(f, np.random.Generator(np.random.PCG64([a.seed, 14, step])), a)
            ids, mask = batch_sequences(self.tok, [objects[i] for i in idx], rng, a.turns, f.shape[1])
            loss, acc = answer_loss(self.model.lm, ids, f, mask)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.opt.step()
            n0 += a.dec_batch
            self.state["step"] = step + 1
            if (step + 1) % a.log_every == 0:
                self.speed("decoder", n0, time.time() - t0)
                self.log(f"decoder step {step + 1}/{a.dec_steps} loss {loss.item():.4f} "
                         f"tok_acc {acc:.3f} lr {self.opt.param_groups[0]['lr']:.2e} "
                         f"| {self.state['speeds']['decoder']} seq/s")
            if (step + 1) % a.eval_every == 0 or step + 1 == a.dec_steps:
                t0 += self.periodic_eval("decoder", step + 1)
            self.maybe_save()
        res = self.quick_eval(None)
        self.log("decoder full eval: " + json.dumps(res))
        self.finish("decoder", {"eval_full": res})

    def stage_joint(self):
        a = self.args
        if a.joint_steps <= 0:
            self.state["stage"] = "joint"
            self.finish("joint", {"skipped": True})
            return
        params = list(self.model.parameters()) + list(self.heads.parameters())
        start = self.begin("joint", params, a.joint_lr)
        self.model.train()
        t0, n0 = time.time(), 0
        for step in range(start, a.joint_steps):
            set_lr(self.opt, lr_at(step, a.joint_steps, a.joint_lr, warmup=50))
            scenes = scenes_batch("train", 20_000_000 + step * a.joint_batch, a.joint_batch)
            rng = np.random.Generator(np.random.PCG64([a.seed, 13, step]))
            x = M.preprocess(np.stack([s["image"] for s in scenes]))
            f = drop_visual_tokens(self.model.image_features(x),
                                   np.random.Generator(np.random.PCG64([a.seed, 15, step])), a)
            ids, mask = batch_sequences(self.tok, [s["objects"] for s in scenes], rng, a.turns, f.shape[1])
            loss, acc = answer_loss(self.model.lm, ids, f, mask)
            aux, _ = encoder_losses(self.model, self.heads, scenes)
            total = loss + a.joint_aux * aux
            self.opt.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.opt.step()
            n0 += a.joint_batch
            self.state["step"] = step + 1
            if (step + 1) % a.log_every == 0:
                self.speed("joint", n0, time.time() - t0)
                self.log(f"joint step {step + 1}/{a.joint_steps} loss {loss.item():.4f} aux {aux.item():.4f} "
                         f"tok_acc {acc:.3f} | {self.state['speeds']['joint']} seq/s")
            if (step + 1) % a.eval_every == 0:
                t0 += self.periodic_eval("joint", step + 1)
            self.maybe_save()
        res = self.quick_eval(None)
        self.log("joint full eval: " + json.dumps(res))
        self.finish("joint", {"eval_full": res})

    def stage_captions(self):
        """Decoder-only fine-tune on the cached features (of the final vision
        tower) in which half of every batch are scenes that have a caption,
        each asked for it at a random turn among its other questions; the
        other half is drawn as in the decoder stage. Visual-token dropout as
        there. Captions name both objects and their relation ("a red circle
        left of a blue star" vs "... above ..."), the one type that needs the
        horizontal and vertical offsets compared; ordinary batches hold
        about one caption in four sequences."""
        a = self.args
        if a.caption_steps <= 0:
            self.state["stage"] = "captions"
            self.finish("captions", {"skipped": True})
            return
        tag = "feats_final" if a.joint_steps > 0 else "feats"
        self.build_cache(tag)
        feats, objects = self.load_cache(tag)
        n = len(objects)
        capable = np.array([i for i in range(n) if data.caption(objects[i]) is not None
                            and len(objects[i]) >= a.caption_min_objects])
        params = list(self.model.lm.parameters())
        start = self.begin("captions", params, a.caption_lr)
        self.model.train()
        t0, n0 = time.time(), 0
        half = a.dec_batch // 2
        for step in range(start, a.caption_steps):
            set_lr(self.opt, lr_at(step, a.caption_steps, a.caption_lr, warmup=50))
            rng = np.random.Generator(np.random.PCG64([a.seed, 16, step]))
            idx = [int(i) for i in rng.choice(capable, size=half, replace=False)] + \
                self.pool_indices(step, a.dec_batch - half, n, salt=17)
            f = drop_visual_tokens(feats[torch.tensor(idx)].float(),
                                   np.random.Generator(np.random.PCG64([a.seed, 18, step])), a)
            ids, mask = batch_sequences(self.tok, [objects[i] for i in idx], rng, a.turns, f.shape[1],
                                        with_caption=[j < half for j in range(len(idx))])
            loss, acc = answer_loss(self.model.lm, ids, f, mask)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.opt.step()
            n0 += len(idx)
            self.state["step"] = step + 1
            if (step + 1) % a.log_every == 0:
                self.speed("captions", n0, time.time() - t0)
                self.log(f"captions step {step + 1}/{a.caption_steps} loss {loss.item():.4f} tok_acc {acc:.3f} "
                         f"| {self.state['speeds']['captions']} seq/s")
            if (step + 1) % a.eval_every == 0:
                t0 += self.periodic_eval("captions", step + 1)
            self.maybe_save()
        res = self.quick_eval(None)
        self.log("captions full eval: " + json.dumps(res))
        self.finish("captions", {"eval_full": res})

    def stage_draft(self):
        a = self.args
        tag = "feats_final" if a.joint_steps > 0 else "feats"
        self.build_cache(tag)
        feats, objects = self.load_cache(tag)
        n = len(objects)
        params = list(self.draft.parameters())
        start = self.begin("draft", params, a.draft_lr)
        self.model.eval()
        self.draft.train()
        t0, n0 = time.time(), 0
        for step in range(start, a.draft_steps):
            set_lr(self.opt, lr_at(step, a.draft_steps, a.draft_lr, warmup=100))
            idx = self.pool_indices(step, a.dec_batch, n, salt=21)
            rng = np.random.Generator(np.random.PCG64([a.seed, 22, step]))
            ids, mask = batch_sequences(self.tok, [objects[i] for i in idx], rng, a.turns)
            f = feats[torch.tensor(idx)].float()
            with torch.no_grad():
                tl, _ = answer_logits(self.model.lm, ids, f, mask)
            dl, _ = answer_logits(self.draft.lm, ids, f, mask)
            tlp = F.log_softmax(tl, -1)
            dlp = F.log_softmax(dl, -1)
            kl = (tlp.exp() * (tlp - dlp)).sum(-1)
            ce = F.nll_loss(dlp, tlp.argmax(-1), reduction="none")
            loss = (kl + ce).mean()
            with torch.no_grad():
                match = float((dlp.argmax(-1) == tlp.argmax(-1)).float().mean())
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.opt.step()
            n0 += a.dec_batch
            self.state["step"] = step + 1
            if (step + 1) % a.log_every == 0:
                self.speed("draft", n0, time.time() - t0)
                self.log(f"draft step {step + 1}/{a.draft_steps} loss {loss.item():.4f} match {match:.3f} "
                         f"| {self.state['speeds']['draft']} seq/s")
            self.maybe_save()
        self.draft.eval()
        res = self.quick_eval(None, draft=True)
        self.log("final eval (target + draft): " + json.dumps(res))
        self.finish("draft", {"eval_full": res})

    def run(self, stages):
        for s in stages:
            if s in self.state["done"]:
                continue
            self.log(f"=== stage {s} ===")
            getattr(self, "stage_" + s)()
        self.record()
        self.log("all requested stages done")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stage", default="all", choices=["all"] + STAGES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-dir", default=os.path.join(HERE, ".ckpt"))
    ap.add_argument("--ckpt-seconds", type=float, default=240)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-limit", type=int, default=400)
    ap.add_argument("--enc-steps", type=int, default=3000)
    ap.add_argument("--enc-batch", type=int, default=32)
    ap.add_argument("--enc-lr", type=float, default=1e-3)
    ap.add_argument("--cache-images", type=int, default=40000)
    ap.add_argument("--dec-steps", type=int, default=16000)
    ap.add_argument("--dec-batch", type=int, default=16)
    ap.add_argument("--dec-lr", type=float, default=1e-3)
    ap.add_argument("--turns", type=int, default=10, help="questions per training sequence: ceil(turns/2)..turns")
    ap.add_argument("--drop-prob", type=float, default=0.5,
                    help="decoder stage: share of batches trained on a random subset of the visual tokens")
    ap.add_argument("--drop-min", type=int, default=4, help="fewest patch tokens kept by that dropout")
    ap.add_argument("--drop-max", type=int, default=72, help="most patch tokens kept by that dropout")
    ap.add_argument("--drop-from", type=int, default=7228,
                    help="first decoder step with the dropout (the recorded run added it when resuming at "
                         "step 7,228)")
    ap.add_argument("--joint-steps", type=int, default=2000)
    ap.add_argument("--joint-batch", type=int, default=16)
    ap.add_argument("--joint-lr", type=float, default=2e-4)
    ap.add_argument("--joint-aux", type=float, default=0.3)
    ap.add_argument("--caption-steps", type=int, default=2000)
    ap.add_argument("--caption-lr", type=float, default=3e-4)
    ap.add_argument("--caption-min-objects", type=int, default=2,
                    help="captions stage: the caption scenes have at least this many objects (1 or 2)")
    ap.add_argument("--draft-steps", type=int, default=4000)
    ap.add_argument("--draft-lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tr = Trainer(args)
    tr.run(STAGES if args.stage == "all" else [args.stage])


if __name__ == "__main__":
    main()
