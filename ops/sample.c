/* sample: token sampling on the device — repetition penalty, greedy,
 * temperature, top-k, top-p and a counter-based RNG. Semantics: fovea.h,
 * fv_op_sample; the GPU algorithm: shaders/sample.comp.
 *
 * One node, up to four dispatches: [mask clear, mask set] (penalty only),
 * a per-chunk selection (argmax when greedy, else the chunk's best k), and a
 * finish per row that merges the chunks and draws. The dst is one packed
 * i32 buffer, each part at a multiple of FV_VIEW_ALIGN bytes:
 *   token [B] | partial [B, SAMPLE_MAX_CHUNKS, k] (key, id) pairs | mask [B, ceil(V/32)]
 * and the caller gets a view of the tokens. The chunk count is the device's
 * choice (at most SAMPLE_MAX_CHUNKS), made at encode time: 256 invocations
 * and chunks of 4096 logits on GPUs, 64 and 32768 on CPU devices
 * (FOVEA_SAMPLE_VARIANT=cpu|gpu forces either). The OpenCL kernels
 * (shaders/cl/sample.cl) are the same algorithm, chosen by dev->backend.
 *
 * The CPU reference below takes the same candidates (a sorted insertion
 * list under the same total order) and does the finish with the same
 * float operations in the same order, so its ids equal the kernels' ids
 * bit for bit; only the order in which candidates are found differs. */
#include "op_common.h"

#include <stdlib.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* a·b + c rounds twice, as in the kernels (GCC does not contract in ISO C mode) */
#endif

#define SAMPLE_MAX_CHUNKS 64

typedef struct sample_params {
    int64_t batch, vocab, hist_len;
    uint32_t k; /* candidates: 1 when greedy */
    int32_t greedy, penalize;
    float penalty, inv_penalty, inv_temp, top_p;
    int32_t hist_param, step_param; /* slot + 1, or 0 */
    uint64_t seed;
    uint64_t off_partial, off_mask; /* bytes into the packed dst */
} sample_params;

/* ---- the arithmetic shared with the kernels (keep in step with sample.comp) ---- */

static uint32_t sample_key(float v)
{
    uint32_t b;
    memcpy(&b, &v, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0; /* NaN */
    return (b & 0x80000000u) ? ~b : b | 0x80000000u;
}

static float key_value(uint32_t k)
{
    uint32_t b = (k & 0x80000000u) ? k & 0x7fffffffu : ~k;
    float v;
    memcpy(&v, &b, 4);
    return v;
}

static bool better(uint32_t ka, uint32_t ia, uint32_t kb, uint32_t ib)
{
    return ka > kb || (ka == kb && ia < ib);
}

static float sample_exp(float d)
{
    if (!(d > -80.0f)) return 0.0f;
    float k = floorf(d * 1.44269502f + 0.5f);
    float r = d - k * 0.693145752f;
    r = r - k * 1.42860677e-06f;
    float q = 0.000198412701f;
    q = q * r + 0.00138888892f;
    q = q * r + 0.00833333377f;
    q = q * r + 0.0416666679f;
    q = q * r + 0.166666672f;
    q = q * r + 0.5f;
    q = q * r + 1.0f;
    q = q * r + 1.0f;
    uint32_t e = (uint32_t)((int)k + 127) << 23;
    float scale;
    memcpy(&scale, &e, 4);
    return q * scale;
}

static void philox(uint32_t ctr[4], uint32_t k0, uint32_t k1)
{
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0], p1 = (uint64_t)0xCD9E8D57u * ctr[2];
        uint32_t c[4] = {(uint32_t)(p1 >> 32) ^ ctr[1] ^ k0, (uint32_t)p1, (uint32_t)(p0 >> 32) ^ ctr[3] ^ k1,
                         (uint32_t)p0};
        memcpy(ctr, c, sizeof c);
    }
}

/* The index among the n sorted candidates (weights w) that row b draws. */
static uint32_t draw(const sample_params *p, const int32_t *params, const float *w, uint32_t b, uint32_t n)
{
    uint32_t ctr[4] = {p->step_param ? (uint32_t)params[p->step_param - 1] : 0u, b, 0, 0};
    philox(ctr, (uint32_t)p->seed, (uint32_t)(p->seed >> 32));
    const float u = (float)(ctr[0] >> 8) * 5.96046448e-08f;
    uint32_t m = n;
    if (p->top_p > 0.0f) {
        float total = 0.0f;
        for (uint32_t i = 0; i < n; i++) total = total + w[i];
        const float limit = p->top_p * total;
        float before = 0.0f;
        for (uint32_t i = 1; i < n; i++) {
            before = before + w[i - 1];
            if (before >= limit) {
                m = i;
                break;
            }
        }
    }
    float kept = 0.0f;
    for (uint32_t i = 0; i < m; i++) kept = kept + w[i];
    const float target = u * kept;
    float acc = 0.0f;
    for (uint32_t i = 0; i < m; i++) {
        acc = acc + w[i];
        if (target < acc) return i;
    }
    return m - 1;
}

/* ---- plain-C reference ---------------------------------------------------- */

static fv_status sample_cpu(const fv_node *n, const int32_t *params)
{
    const sample_params *p = (const sample_params *)n->params;
    const float *logits = fv_tensor_host(n->src[0]);
    const int32_t *hist = p->penalize ? fv_tensor_host(n->src[1]) : NULL;
    int32_t *token = fv_tensor_host(n->dst);
    const int64_t V = p->vocab;
    const uint32_t K = p->k;
    uint8_t *marked = p->penalize ? malloc((size_t)V) : NULL;
    uint32_t *key = malloc(K * sizeof *key), *id = malloc(K * sizeof *id);
    float *w = malloc(K * sizeof *w);
    if ((p->penalize && !marked) || !key || !id || !w) {
        free(marked);
        free(key);
        free(id);
        free(w);
        return fv_fail(n->dst->ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "sample: out of host memory");
    }
    for (int64_t b = 0; b < p->batch; b++) {
        const float *row = logits + b * V;
        if (marked) {
            int64_t live = p->hist_len;
            if (p->hist_param) live = FV_MAX(0, FV_MIN(live, params[p->hist_param - 1]));
            memset(marked, 0, (size_t)V);
            for (int64_t j = 0; j < live; j++) {
                const int32_t t = hist[b * p->hist_len + j];
                if (t >= 0 && t < V) marked[t] = 1;
            }
        }
        /* best K so far, sorted: insert where it belongs, dropping the last */
        uint32_t cnt = 0;
        for (int64_t i = 0; i < V; i++) {
            float v = row[i];
            if (marked && marked[i]) v = v < 0.0f ? v * p->penalty : v * p->inv_penalty;
            const uint32_t kv = sample_key(v), iv = (uint32_t)i;
            if (cnt == K && !better(kv, iv, key[K - 1], id[K - 1])) continue;
            uint32_t at = cnt < K ? cnt++ : K - 1;
            for (; at > 0 && better(kv, iv, key[at - 1], id[at - 1]); at--) {
                key[at] = key[at - 1];
                id[at] = id[at - 1];
            }
            key[at] = kv;
            id[at] = iv;
        }
        if (p->greedy) {
            token[b] = (int32_t)id[0];
            continue;
        }
        const float s0 = key_value(key[0]) * p->inv_temp;
        w[0] = 1.0f;
        for (uint32_t r = 1; r < cnt; r++) {
            const float sr = key_value(key[r]) * p->inv_temp;
            w[r] = sample_exp(sr - s0);
        }
        token[b] = (int32_t)id[draw(p, params, w, (uint32_t)b, cnt)];
    }
    free(marked);
    free(key);
    free(id);
    free(w);
    return FV_STATUS_OK;
}

/* ---- kernels ------------------------------------------------------------------ */

typedef struct sample_plan {
    uint32_t local, chunks, chunk;
} sample_plan;

/* Chunks per row: enough workgroups to fill a GPU (a chunk of about 4096
 * logits each, 256 invocations), fewer on CPU devices (32768 logits, 64
 * invocations), whose few cores gain nothing from more chunks but the
 * finish would have more lists to merge, and where every barrier is a
 * context switch. */
static sample_plan plan_for(const sample_params *p, const fv_device_info *dev)
{
    /* FOVEA_SAMPLE_VARIANT=cpu|gpu forces either plan (the tests run both) */
    const char *force = getenv("FOVEA_SAMPLE_VARIANT");
    const bool cpu = force && strcmp(force, "cpu") == 0 ? true
                     : force && strcmp(force, "gpu") == 0 ? false
                                                          : fv_is_cpu_device(dev);
    sample_plan s;
    s.local = cpu ? 64u : 256u;
    if (dev->max_workgroup_invocations && s.local > dev->max_workgroup_invocations) s.local = 64u;
    const int64_t per = cpu ? 32768 : 4096;
    int64_t chunks = FV_MAX(1, FV_MIN(SAMPLE_MAX_CHUNKS, (p->vocab + per - 1) / per));
    s.chunk = (uint32_t)((p->vocab + chunks - 1) / chunks);
    s.chunks = (uint32_t)((p->vocab + s.chunk - 1) / s.chunk);
    return s;
}

static fv_status sample_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const sample_params *p = (const sample_params *)n->params;
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    const sample_plan s = plan_for(p, dev);
    const fv_tensor *logits = n->src[0], *y = n->dst;
    const uint32_t words = (uint32_t)((p->vocab + 31) / 32);
    /* offers per invocation per step: half of the buffer beyond k is the
     * room for one step, the other half fills up between cuts */
    const uint32_t per_step = FV_MAX(1u, (FV_SAMPLE_BUFFER - p->k) / (2u * s.local));
    fv_pc_sample pc = {.batch = (uint32_t)p->batch,
                       .vocab = (uint32_t)p->vocab,
                       .chunks = s.chunks,
                       .chunk = s.chunk,
                       .k = p->k,
                       .per_step = per_step,
                       .limit = FV_SAMPLE_BUFFER - per_step * s.local,
                       .greedy = (uint32_t)p->greedy,
                       .penalize = (uint32_t)p->penalize,
                       .penalty = p->penalty,
                       .inv_penalty = p->inv_penalty,
                       .mask_words = words,
                       .hist_len = (uint32_t)p->hist_len,
                       .hist_slot = p->hist_param,
                       .inv_temp = p->inv_temp,
                       .top_p = p->top_p,
                       .seed_lo = (uint32_t)p->seed,
                       .seed_hi = (uint32_t)(p->seed >> 32),
                       .step_slot = p->step_param,
                       /* runs for the top-k pass's threshold: about 4k of them, so
                        * that few elements beat the k-th best run (sample.comp) */
                       .blocks = FV_MIN(FV_SAMPLE_BUFFER / s.local, (4 * p->k + s.local - 1) / s.local)};
    const size_t token_bytes = (size_t)p->batch * 4;
    const size_t partial_bytes = (size_t)p->batch * s.chunks * p->k * 8;
    const size_t mask_bytes = (size_t)p->batch * words * 4;
    fv_dispatch *d;
    if (p->penalize) {
        d = fv_dispatch_push(out, cl ? "sample_mask_clear_cl" : "sample_mask_clear");
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_dispatch_bind_range(d, y, p->off_mask, mask_bytes, FV_BIND_STORAGE, true);
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, (uint64_t)p->batch * words, 64);
        d = fv_dispatch_push(out, cl ? "sample_mask_set_cl" : "sample_mask_set");
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_dispatch_bind(d, n->src[1], FV_BIND_STORAGE, false);
        fv_dispatch_bind_range(d, y, p->off_mask, mask_bytes, FV_BIND_STORAGE, true);
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, (uint64_t)(p->batch * p->hist_len), 64);
    }
    const char *select = p->greedy ? (cl ? "sample_argmax_cl" : "sample_argmax")
                                   : (cl ? "sample_topk_cl" : "sample_topk");
    d = fv_dispatch_push(out, select);
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, logits, FV_BIND_STORAGE, false);
    /* without a penalty a few bytes of the logits stand in for the mask */
    if (p->penalize) fv_dispatch_bind_range(d, y, p->off_mask, mask_bytes, FV_BIND_STORAGE, false);
    else fv_dispatch_bind_range(d, logits, 0, 4, FV_BIND_STORAGE, false);
    fv_dispatch_bind_range(d, y, p->off_partial, partial_bytes, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    d->spec[0] = s.local;
    d->nspec = 1;
    d->groups[0] = s.chunks;
    d->groups[1] = (uint32_t)p->batch;

    d = fv_dispatch_push(out, cl ? "sample_finish_cl" : "sample_finish");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind_range(d, y, p->off_partial, partial_bytes, FV_BIND_STORAGE, false);
    fv_dispatch_bind_range(d, y, 0, token_bytes, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, &pc, sizeof pc);
    d->spec[0] = s.local;
    d->nspec = 1;
    d->groups[0] = 1;
    d->groups[1] = (uint32_t)p->batch;
    return FV_STATUS_OK;
}

static const char *sample_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const sample_params *p = (const sample_params *)n->params;
    if (p->batch > 65535) return "more rows than one dispatch covers";
    if (dev->max_workgroup_invocations && dev->max_workgroup_invocations < 64)
        return "the sampler needs workgroups of 64 invocations";
    if (dev->backend == FV_BACKEND_OPENCL) return NULL;
    if (n->src[0]->nbytes > dev->max_storage_range) return "the logits are larger than one storage binding";
    if (n->dst->nbytes > dev->max_storage_range) return "the sampler's scratch is larger than one storage binding";
    if (p->penalize && n->src[1]->nbytes > dev->max_storage_range)
        return "the history is larger than one storage binding";
    if (dev->shared_memory_bytes && dev->shared_memory_bytes < 2 * FV_SAMPLE_BUFFER * 4 + 1024 + 64)
        return "the sampler needs 9 KiB of shared memory";
    return NULL;
}

static const fv_op_def op_sample = {"sample", sample_cpu, sample_encode, sample_unsupported};

/* ---- builder ------------------------------------------------------------------ */

fv_status fv_op_sample(fv_graph *g, fv_tensor *logits, const fv_sample_desc *desc, fv_tensor **token)
{
    if (!g || !token) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "sample", "logits", logits);
    fv_status st = fv_op_require_dtype(g, "sample", "logits", logits, FV_DTYPE_F32);
    if (st) return st;
    fv_context *ctx = fv_graph_context(g);
    fv_sample_desc dd = {0};
    if (desc) dd = *desc;
    char sl[96], sh[96];
    fv_shape_str(logits, sl, sizeof sl);
    if (logits->ndim != 2)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "sample: logits %s must be [B, V]", sl);
    const int64_t B = logits->shape[0], V = logits->shape[1];
    if (V > INT32_MAX || fv_tensor_numel(logits) > INT32_MAX)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "sample: logits %s are too large", sl);
    if (dd.top_k < 0 || dd.top_k > FV_SAMPLE_MAX_CANDIDATES)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "sample: top_k %d is not in 0..%d", dd.top_k,
                       FV_SAMPLE_MAX_CANDIDATES);
    if (!(dd.top_p >= 0.0f) || !isfinite(dd.temperature))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "sample: temperature %g or top_p %g is not valid",
                       (double)dd.temperature, (double)dd.top_p);
    if (!(dd.repetition_penalty >= 0.0f) || !isfinite(dd.repetition_penalty))
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "sample: repetition_penalty %g must be > 0 (or 0 for none)",
                       (double)dd.repetition_penalty);
    if (dd.history_len_param < 0 || dd.history_len_param > FV_GRAPH_PARAM_SLOTS || dd.step_param < 0 ||
        dd.step_param > FV_GRAPH_PARAM_SLOTS)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                       "sample: history_len_param %d / step_param %d must be a slot + 1 in 1..%d, or 0",
                       dd.history_len_param, dd.step_param, FV_GRAPH_PARAM_SLOTS);
    const bool penalize = dd.repetition_penalty != 0.0f && dd.repetition_penalty != 1.0f;
    if (penalize && !dd.history)
        return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "sample: a repetition penalty needs a history tensor");
    int64_t hist_len = 0;
    if (penalize) {
        FV_OP_CHECK_INPUT(g, "sample", "history", dd.history);
        fv_shape_str(dd.history, sh, sizeof sh);
        if (dd.history->dtype != FV_DTYPE_I32 || dd.history->ndim != 2 || dd.history->shape[0] != B)
            return fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT, "sample: history %s (%s) must be i32 [B, Nh] for logits %s",
                           sh, fv_dtype_name(dd.history->dtype), sl);
        hist_len = dd.history->shape[1];
    }
    const bool greedy = dd.temperature <= 0.0f || dd.top_k == 1;
    sample_params p = {.batch = B,
                       .vocab = V,
                       .hist_len = hist_len,
                       .k = greedy ? 1u : (uint32_t)FV_MIN(dd.top_k ? dd.top_k : FV_SAMPLE_MAX_CANDIDATES, V),
                       .greedy = greedy,
                       .penalize = penalize,
                       .penalty = penalize ? dd.repetition_penalty : 1.0f,
                       .inv_penalty = penalize ? 1.0f / dd.repetition_penalty : 1.0f,
                       .inv_temp = greedy ? 1.0f : 1.0f / dd.temperature,
                       .top_p = dd.top_p > 0.0f && dd.top_p < 1.0f ? dd.top_p : 0.0f,
                       .hist_param = dd.history_len_param,
                       .step_param = dd.step_param,
                       .seed = dd.seed};
    /* packed dst: token | partial | mask */
    uint64_t top = FV_ALIGN_UP((uint64_t)B * 4, FV_VIEW_ALIGN);
    p.off_partial = top;
    top += FV_ALIGN_UP((uint64_t)B * SAMPLE_MAX_CHUNKS * p.k * 8, FV_VIEW_ALIGN);
    p.off_mask = top;
    if (penalize) top += (uint64_t)B * (uint64_t)((V + 31) / 32) * 4;
    fv_tensor *src[2] = {logits, dd.history}, *packed = NULL;
    const int64_t words = (int64_t)(top / 4);
    st = fv_graph_add_node(g, &op_sample, src, penalize ? 2 : 1, &p, sizeof p, FV_DTYPE_I32, 1, &words, &packed);
    if (!st) st = fv_graph_view(g, packed, 0, FV_DTYPE_I32, 1, &B, token);
    return st;
}
