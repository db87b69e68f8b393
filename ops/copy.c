/* permute, transpose, convert, concat: materialised strided copies with
 * f32 <-> f16 conversion, all through one kernel (shaders/copy.comp).
 *
 * Every copy is described as one or two "parts": a 4-d index space (the
 * tensor's shape padded with 1s on the left) with element strides into the
 * source and the destination. permute walks the output in order and reads
 * the input through permuted strides; concat is two parts writing at two
 * offsets of the output. */
#include "row_ops.h"

typedef struct copy_part {
    int64_t shape[4];
    int64_t sstride[4]; /* elements of the source */
    int64_t dstride[4]; /* elements of the destination */
    int64_t dst_off;
} copy_part;

typedef struct copy_params {
    int nparts; /* part i reads src[i] */
    copy_part part[2];
} copy_params;

/* contiguous element strides of a shape padded to 4-d on the left */
static void padded(const fv_tensor *t, int64_t shape[4], int64_t stride[4])
{
    int64_t s = 1;
    for (int k = 3; k >= 0; k--) {
        int d = t->ndim - (4 - k);
        shape[k] = d >= 0 ? t->shape[d] : 1;
        stride[k] = s;
        s *= shape[k];
    }
}

static float load_elem(const fv_tensor *t, int64_t i)
{
    const void *h = fv_tensor_host(t);
    return t->dtype == FV_DTYPE_F16 ? fv_f16_to_f32(((const uint16_t *)h)[i]) : ((const float *)h)[i];
}

static fv_status copy_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const copy_params *p = (const copy_params *)n->params;
    void *y = fv_tensor_host(n->dst);
    bool f16 = n->dst->dtype == FV_DTYPE_F16;
    for (int k = 0; k < p->nparts; k++) {
        const copy_part *c = &p->part[k];
        for (int64_t i0 = 0; i0 < c->shape[0]; i0++)
            for (int64_t i1 = 0; i1 < c->shape[1]; i1++)
                for (int64_t i2 = 0; i2 < c->shape[2]; i2++)
                    for (int64_t i3 = 0; i3 < c->shape[3]; i3++) {
                        int64_t s =
                            i0 * c->sstride[0] + i1 * c->sstride[1] + i2 * c->sstride[2] + i3 * c->sstride[3];
                        int64_t d = c->dst_off + i0 * c->dstride[0] + i1 * c->dstride[1] +
                                    i2 * c->dstride[2] + i3 * c->dstride[3];
                        float v = load_elem(n->src[k], s);
                        if (f16)
                            ((uint16_t *)y)[d] = fv_f32_to_f16(v);
                        else
                            ((float *)y)[d] = v;
                    }
    }
    return FV_STATUS_OK;
}

/* Whether a part can move items of 4 elements: dim 3 contiguous on both
 * sides, and every stride and offset a multiple of 4 (aligned 4-wide texels
 * and stores). */
static bool copy_part_vec4(const copy_part *c)
{
    if (c->shape[3] % 4 || c->sstride[3] != 1 || c->dstride[3] != 1 || c->dst_off % 4) return false;
    for (int j = 0; j < 3; j++)
        if (c->sstride[j] % 4 || c->dstride[j] % 4) return false;
    return true;
}

static fv_bind_kind copy_src_kind(const fv_tensor *src, bool vec4)
{
    if (src->dtype == FV_DTYPE_F16) return vec4 ? FV_BIND_TEXEL_F16X4 : FV_BIND_TEXEL_F16;
    return vec4 ? FV_BIND_TEXEL_F32X4 : FV_BIND_TEXEL_F32;
}

/* One part as dispatches. The source is one texel view of the whole tensor;
 * the destination is bound in ranges that fit a storage binding: the part
 * is cut along its outermost dimension of extent > 1 (the one with the
 * largest destination stride, as the destination is contiguous) into slabs
 * of whole slices, each bound from a 256-byte aligned offset. Sizes are
 * worked out in elements, then given to the kernel in items (1 or 4). */
static fv_status copy_encode_part(const fv_node *n, int k, const fv_device_info *dev, fv_dispatch_list *out)
{
    static const char *const kernels[2][2] = {{"copy_f32", "copy_f16"}, {"copy_f32x4", "copy_f16x4"}};
    const copy_part *c = &((const copy_params *)n->params)->part[k];
    const fv_tensor *src = n->src[k], *dst = n->dst;
    const bool vec4 = copy_part_vec4(c);
    const int64_t w = vec4 ? 4 : 1;
    size_t esz = dst->dtype == FV_DTYPE_F16 ? 2 : 4;
    int cut = 0;
    while (cut < 3 && c->shape[cut] == 1) cut++;
    int64_t slice = 1; /* destination elements spanned by one slice along `cut` */
    for (int j = cut + 1; j < 4; j++) slice += (c->shape[j] - 1) * c->dstride[j];
    int64_t per = c->shape[cut]; /* slices per dispatch */
    uint64_t whole = (uint64_t)((c->shape[cut] - 1) * c->dstride[cut] + slice) * esz;
    if (whole + 256 > dev->max_storage_range) {
        uint64_t room = dev->max_storage_range - 256; /* alignment slack */
        if (dev->max_storage_range <= 256 || (uint64_t)slice * esz > room) return FV_STATUS_UNSUPPORTED;
        per = (int64_t)((room - (uint64_t)slice * esz) / ((uint64_t)c->dstride[cut] * esz)) + 1;
        if (cut == 3) per = per / w * w; /* whole items */
        if (per == 0) return FV_STATUS_UNSUPPORTED;
    }
    for (int64_t a = 0; a < c->shape[cut]; a += per) {
        int64_t cnt = FV_MIN(per, c->shape[cut] - a);
        fv_dispatch *d = fv_dispatch_push(out, kernels[vec4][esz == 2]);
        if (!d) return FV_STATUS_UNSUPPORTED;
        int64_t first = c->dst_off + a * c->dstride[cut];           /* first destination element */
        int64_t last = first + (cnt - 1) * c->dstride[cut] + slice; /* one past the last         */
        size_t begin = (size_t)first * esz / 256 * 256, end = (size_t)last * esz;
        fv_dispatch_bind(d, src, copy_src_kind(src, vec4), false);
        fv_dispatch_bind_range(d, dst, begin, end - begin, FV_BIND_STORAGE, true);
        int64_t shape[4] = {c->shape[0], c->shape[1], c->shape[2], c->shape[3]};
        shape[cut] = cnt;
        shape[3] /= w;
        fv_pc_copy pc = {.n = (uint32_t)(shape[0] * shape[1] * shape[2] * shape[3]),
                         .shape1 = (uint32_t)shape[1],
                         .shape2 = (uint32_t)shape[2],
                         .shape3 = (uint32_t)shape[3],
                         .sstride0 = (uint32_t)(c->sstride[0] / w),
                         .sstride1 = (uint32_t)(c->sstride[1] / w),
                         .sstride2 = (uint32_t)(c->sstride[2] / w),
                         .sstride3 = (uint32_t)(vec4 ? 1 : c->sstride[3]),
                         .dstride0 = (uint32_t)(c->dstride[0] / w),
                         .dstride1 = (uint32_t)(c->dstride[1] / w),
                         .dstride2 = (uint32_t)(c->dstride[2] / w),
                         .dstride3 = (uint32_t)(vec4 ? 1 : c->dstride[3]),
                         .src_off = (uint32_t)(a * c->sstride[cut] / w),
                         .dst_off = (uint32_t)((first - (int64_t)(begin / esz)) / w)};
        fv_fastdiv_magic(pc.shape1, &pc.magic1, &pc.shift1);
        fv_fastdiv_magic(pc.shape2, &pc.magic2, &pc.shift2);
        fv_fastdiv_magic(pc.shape3, &pc.magic3, &pc.shift3);
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, pc.n, 256);
    }
    return FV_STATUS_OK;
}

/* OpenCL: one dispatch per part with both tensors bound whole; the kernel
 * splits its first index with plain divides (shaders/cl/copy.cl) */
static fv_status copy_encode_cl(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const copy_params *p = (const copy_params *)n->params;
    for (int k = 0; k < p->nparts; k++) {
        const copy_part *c = &p->part[k];
        fv_dispatch *d = fv_dispatch_push(out, "copy_cl");
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_dispatch_bind(d, n->src[k], FV_BIND_STORAGE, false);
        fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
        fv_pc_copy pc = {.n = (uint32_t)(c->shape[0] * c->shape[1] * c->shape[2] * c->shape[3]),
                         .shape1 = (uint32_t)c->shape[1],
                         .shape2 = (uint32_t)c->shape[2],
                         .shape3 = (uint32_t)c->shape[3],
                         .sstride0 = (uint32_t)c->sstride[0],
                         .sstride1 = (uint32_t)c->sstride[1],
                         .sstride2 = (uint32_t)c->sstride[2],
                         .sstride3 = (uint32_t)c->sstride[3],
                         .dstride0 = (uint32_t)c->dstride[0],
                         .dstride1 = (uint32_t)c->dstride[1],
                         .dstride2 = (uint32_t)c->dstride[2],
                         .dstride3 = (uint32_t)c->dstride[3],
                         .dst_off = (uint32_t)c->dst_off};
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_cl_size_elementwise(d, dev, pc.n);
        d->spec[2] = n->src[k]->dtype == FV_DTYPE_F16;
        d->spec[3] = n->dst->dtype == FV_DTYPE_F16;
        d->nspec = 4;
    }
    return FV_STATUS_OK;
}

static fv_status copy_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const copy_params *p = (const copy_params *)n->params;
    if (dev->backend == FV_BACKEND_OPENCL) return copy_encode_cl(n, dev, out);
    for (int k = 0; k < p->nparts; k++) {
        fv_status st = copy_encode_part(n, k, dev, out);
        if (st) return st;
    }
    return FV_STATUS_OK;
}

static const char *copy_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const copy_params *p = (const copy_params *)n->params;
    if (dev->backend == FV_BACKEND_OPENCL) return fv_cl_unsupported_size((uint64_t)fv_tensor_numel(n->dst));
    for (int k = 0; k < p->nparts; k++) {
        bool vec4 = copy_part_vec4(&p->part[k]);
        /* single halves are 16-bit stores; 4-wide items store 32-bit words */
        if (n->dst->dtype == FV_DTYPE_F16 && !vec4 && !dev->storage_16bit) return "writing f16 needs 16-bit storage";
        if (!fv_fits_texel_view(dev, n->src[k], copy_src_kind(n->src[k], vec4)))
            return "a source has more texels than one texel view may cover";
    }
    fv_dispatch_list *scratch = malloc(sizeof *scratch);
    if (!scratch) return "out of host memory";
    scratch->n = 0;
    fv_status st = copy_encode(n, dev, scratch);
    free(scratch);
    return st ? "tensor needs more dispatches than a node may have" : NULL;
}

static const fv_op_def op_permute = {"permute", copy_cpu, copy_encode, copy_unsupported};
static const fv_op_def op_convert = {"convert", copy_cpu, copy_encode, copy_unsupported};
static const fv_op_def op_concat = {"concat", copy_cpu, copy_encode, copy_unsupported};

static fv_status require_float(fv_graph *g, const char *op, const char *what, const fv_tensor *t)
{
    if (t->dtype == FV_DTYPE_F32 || t->dtype == FV_DTYPE_F16) return FV_STATUS_OK;
    char s[96];
    return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT, "%s: %s is %s %s; it must be f32 or f16",
                   op, what, fv_dtype_name(t->dtype), fv_shape_str(t, s, sizeof s));
}

/* y.shape[i] = x.shape[perm[i]], written in y's order, converted to `dtype` */
static fv_status permute_build(fv_graph *g, const fv_op_def *op, fv_tensor *x, const int *perm,
                               fv_dtype dtype, fv_tensor **y)
{
    int64_t shape[FV_MAX_DIMS], xs[4], xstr[4];
    padded(x, xs, xstr);
    copy_params p = {.nparts = 1};
    int pad = 4 - x->ndim;
    for (int i = 0; i < 4; i++) {
        int from = i < pad ? i : pad + perm[i - pad]; /* padded source dim for output dim i */
        p.part[0].shape[i] = xs[from];
        p.part[0].sstride[i] = xstr[from];
    }
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
    int64_t s = 1;
    for (int k = 3; k >= 0; k--) {
        p.part[0].dstride[k] = s;
        s *= p.part[0].shape[k];
    }
    return fv_graph_add_node(g, op, &x, 1, &p, sizeof p, dtype, x->ndim, shape, y);
}

fv_status fv_op_permute(fv_graph *g, fv_tensor *x, const int *perm, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "permute", "x", x);
    fv_status st = require_float(g, "permute", "x", x);
    if (st) return st;
    bool seen[FV_MAX_DIMS] = {false};
    bool ok = perm != NULL;
    for (int i = 0; ok && i < x->ndim; i++) {
        ok = perm[i] >= 0 && perm[i] < x->ndim && !seen[perm[i]];
        if (ok) seen[perm[i]] = true;
    }
    if (!ok) {
        char s[96];
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "permute: perm is not a permutation of the %d dimensions of x %s", x->ndim,
                       fv_shape_str(x, s, sizeof s));
    }
    return permute_build(g, &op_permute, x, perm, x->dtype, y);
}

fv_status fv_op_transpose(fv_graph *g, fv_tensor *x, int dim0, int dim1, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "transpose", "x", x);
    int a = dim0 < 0 ? dim0 + x->ndim : dim0, b = dim1 < 0 ? dim1 + x->ndim : dim1;
    if (a < 0 || a >= x->ndim || b < 0 || b >= x->ndim) {
        char s[96];
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "transpose: dims %d and %d are not both dimensions of x %s", dim0, dim1,
                       fv_shape_str(x, s, sizeof s));
    }
    int perm[FV_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[a] = b;
    perm[b] = a;
    return fv_op_permute(g, x, perm, y);
}

fv_status fv_op_convert(fv_graph *g, fv_tensor *x, fv_dtype dtype, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "convert", "x", x);
    fv_status st = require_float(g, "convert", "x", x);
    if (st) return st;
    if (dtype != FV_DTYPE_F32 && dtype != FV_DTYPE_F16)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "convert: to %s is not supported (f32, f16)", fv_dtype_name(dtype));
    static const int identity[FV_MAX_DIMS] = {0, 1, 2, 3};
    return permute_build(g, &op_convert, x, identity, dtype, y);
}

fv_status fv_op_concat(fv_graph *g, fv_tensor *a, fv_tensor *b, int dim, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "concat", "a", a);
    FV_OP_CHECK_INPUT(g, "concat", "b", b);
    fv_status st = require_float(g, "concat", "a", a);
    if (!st) st = require_float(g, "concat", "b", b);
    if (st) return st;
    int d = dim < 0 ? dim + a->ndim : dim;
    bool ok = a->dtype == b->dtype && a->ndim == b->ndim && d >= 0 && d < a->ndim;
    for (int i = 0; ok && i < a->ndim; i++) ok = i == d || a->shape[i] == b->shape[i];
    if (!ok) {
        char sa[96], sb[96];
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "concat: a %s %s and b %s %s do not concatenate along dim %d (same dtype, same shape "
                       "but for that dim)",
                       fv_dtype_name(a->dtype), fv_shape_str(a, sa, sizeof sa), fv_dtype_name(b->dtype),
                       fv_shape_str(b, sb, sizeof sb), dim);
    }
    int64_t shape[FV_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[d] += b->shape[d];
    /* the output's strides, padded like a's shape */
    fv_tensor ys;
    memset(&ys, 0, sizeof ys);
    ys.ndim = a->ndim;
    memcpy(ys.shape, shape, sizeof shape);
    int64_t yshape[4], ystr[4];
    padded(&ys, yshape, ystr);
    copy_params p = {.nparts = 2};
    int pd = d + 4 - a->ndim; /* d in the padded shape */
    for (int k = 0; k < 2; k++) {
        copy_part *c = &p.part[k];
        padded(k ? b : a, c->shape, c->sstride);
        memcpy(c->dstride, ystr, sizeof ystr);
        c->dst_off = k ? a->shape[d] * ystr[pd] : 0;
    }
    fv_tensor *src[2] = {a, b};
    return fv_graph_add_node(g, &op_concat, src, 2, &p, sizeof p, a->dtype, a->ndim, shape, y);
}
