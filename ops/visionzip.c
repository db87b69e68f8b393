/* visionzip_assign / visionzip_merge: the contextual tokens of VisionZip
 * (Yang et al., "VisionZip: Longer is Better but Not Necessary in Vision
 * Language Models", CVPR 2025), after its reference code: the tokens not
 * kept as dominant, in index order, give kc targets at uniform steps; every
 * other one joins the target whose key is most similar (cosine), and each
 * contextual token is its target's hidden state plus the mean of the hidden
 * states that joined it. Kernels: shaders/visionzip.comp, shaders/cl/visionzip.cl. */
#include "op_common.h"

#define VZ_MAX_KC 1024
#define VZ_LANES 64u

typedef struct vzip_params {
    fv_pc_vzip pc;
} vzip_params;

static float vz_dot(const float *k, const fv_pc_vzip *p, uint32_t i, uint32_t j)
{
    const float *a = k + (size_t)(p->skip + i) * p->dim, *b = k + (size_t)(p->skip + j) * p->dim;
    float s = 0.0f;
    for (uint32_t c = 0; c < p->dim; c++) s += a[c] * b[c];
    return s;
}

static fv_status assign_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const fv_pc_vzip *p = &((const vzip_params *)n->params)->pc;
    const int32_t *dom = fv_tensor_host(n->src[0]);
    const float *key = fv_tensor_host(n->src[1]);
    int32_t *out = fv_tensor_host(n->dst), *tgt = out + p->n;
    uint32_t r = 0, q = 0;
    for (uint32_t j = 0; j < p->n; j++) r += dom[j] == 0;
    const uint32_t step = FV_MAX(1u, r / p->kc);
    for (uint32_t j = 0; j < p->n; j++) {
        if (dom[j]) continue;
        if (q % step == 0 && q / step < p->kc) tgt[q / step] = (int32_t)j;
        q++;
    }
    for (uint32_t j = 0; j < p->n; j++) {
        if (dom[j]) {
            out[j] = -1;
            continue;
        }
        int32_t g = -1;
        for (uint32_t m = 0; m < p->kc; m++)
            if ((uint32_t)tgt[m] == j) g = (int32_t)m;
        if (g < 0) {
            const float nj = fmaxf(sqrtf(vz_dot(key, p, j, j)), 1e-12f);
            float best = 0.0f;
            for (uint32_t m = 0; m < p->kc; m++) {
                const uint32_t tm = (uint32_t)tgt[m];
                const float s = vz_dot(key, p, j, tm) / (nj * fmaxf(sqrtf(vz_dot(key, p, tm, tm)), 1e-12f));
                if (g < 0 || s > best) {
                    best = s;
                    g = (int32_t)m;
                }
            }
        }
        out[j] = g;
    }
    return FV_STATUS_OK;
}

static fv_status merge_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const fv_pc_vzip *p = &((const vzip_params *)n->params)->pc;
    const float *h = fv_tensor_host(n->src[0]);
    const int32_t *a = fv_tensor_host(n->src[1]);
    float *y = fv_tensor_host(n->dst);
    for (uint32_t m = 0; m < p->kc; m++) {
        const uint32_t tm = (uint32_t)a[p->n + m];
        for (uint32_t c = 0; c < p->dim; c++) {
            float acc = 0.0f;
            uint32_t cnt = 0;
            for (uint32_t j = 0; j < p->n; j++) {
                if (a[j] != (int32_t)m || j == tm) continue;
                acc += h[(size_t)(p->skip + j) * p->dim + c];
                cnt++;
            }
            y[(size_t)m * p->dim + c] = h[(size_t)(p->skip + tm) * p->dim + c] + acc / (float)FV_MAX(cnt, 1u);
        }
    }
    return FV_STATUS_OK;
}

static fv_status vzip_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out, bool assign)
{
    const fv_pc_vzip *p = &((const vzip_params *)n->params)->pc;
    const bool cl = dev->backend == FV_BACKEND_OPENCL;
    const char *k = assign ? (cl ? "vzip_assign_cl" : "vzip_assign") : (cl ? "vzip_merge_cl" : "vzip_merge");
    fv_dispatch *d = fv_dispatch_push(out, k);
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, n->src[0], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->src[1], FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_dispatch_set_push(d, p, sizeof *p);
    if (assign) fv_dispatch_size_1d(d, VZ_LANES, VZ_LANES);
    else fv_dispatch_size_1d(d, (uint64_t)p->kc * p->dim, 64);
    return FV_STATUS_OK;
}

static fv_status assign_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    return vzip_encode(n, dev, out, true);
}

static fv_status merge_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    return vzip_encode(n, dev, out, false);
}

static const char *vzip_unsupported(const fv_node *n, const fv_device_info *dev)
{
    /* lane 0 walks the candidates twice: under llvmpipe's 65,535 loop iterations */
    if (((const vzip_params *)n->params)->pc.n > 20000) return "more than 20000 candidate tokens";
    for (int i = 0; i < n->nsrc; i++)
        if (n->src[i]->nbytes > dev->max_storage_range) return "an input is larger than one storage binding";
    return NULL;
}

static const fv_op_def op_assign = {"visionzip_assign", assign_cpu, assign_encode, vzip_unsupported};
static const fv_op_def op_merge = {"visionzip_merge", merge_cpu, merge_encode, vzip_unsupported};

fv_status fv_op_visionzip_assign(fv_graph *g, fv_tensor *dominant, fv_tensor *keys, int skip, int kc,
                                 fv_tensor **assign)
{
    if (!g || !assign) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "visionzip_assign", "dominant", dominant);
    FV_OP_CHECK_INPUT(g, "visionzip_assign", "keys", keys);
    const int64_t n = fv_tensor_numel(dominant), dim = keys->shape[keys->ndim - 1], rows = fv_tensor_rows(keys);
    char s1[96], s2[96];
    if (dominant->dtype != FV_DTYPE_I32 || keys->dtype != FV_DTYPE_F32 || skip < 0 || skip + n > rows || kc <= 0 ||
        kc > VZ_MAX_KC || kc > n || rows * dim > UINT32_MAX)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "visionzip_assign: dominant %s %s, keys %s %s, skip %d, %d targets (at most %d)",
                       fv_dtype_name(dominant->dtype), fv_shape_str(dominant, s1, sizeof s1),
                       fv_dtype_name(keys->dtype), fv_shape_str(keys, s2, sizeof s2), skip, kc, VZ_MAX_KC);
    vzip_params p = {{.n = (uint32_t)n, .skip = (uint32_t)skip, .dim = (uint32_t)dim, .kc = (uint32_t)kc}};
    fv_tensor *src[2] = {dominant, keys};
    const int64_t shape[1] = {n + kc};
    return fv_graph_add_node(g, &op_assign, src, 2, &p, sizeof p, FV_DTYPE_I32, 1, shape, assign);
}

fv_status fv_op_visionzip_merge(fv_graph *g, fv_tensor *hidden, fv_tensor *assign, int skip, int n, int kc,
                                fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "visionzip_merge", "hidden", hidden);
    FV_OP_CHECK_INPUT(g, "visionzip_merge", "assign", assign);
    const int64_t dim = hidden->shape[hidden->ndim - 1], rows = fv_tensor_rows(hidden);
    char s1[96], s2[96];
    if (hidden->dtype != FV_DTYPE_F32 || assign->dtype != FV_DTYPE_I32 || fv_tensor_numel(assign) != (int64_t)n + kc ||
        skip < 0 || n <= 0 || skip + (int64_t)n > rows || kc <= 0 || rows * dim > UINT32_MAX)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "visionzip_merge: hidden %s %s, assign %s %s, skip %d, n %d, kc %d",
                       fv_dtype_name(hidden->dtype), fv_shape_str(hidden, s1, sizeof s1),
                       fv_dtype_name(assign->dtype), fv_shape_str(assign, s2, sizeof s2), skip, n, kc);
    vzip_params p = {{.n = (uint32_t)n, .skip = (uint32_t)skip, .dim = (uint32_t)dim, .kc = (uint32_t)kc}};
    fv_tensor *src[2] = {hidden, assign};
    const int64_t shape[2] = {kc, dim};
    return fv_graph_add_node(g, &op_merge, src, 2, &p, sizeof p, FV_DTYPE_F32, 2, shape, y);
}
