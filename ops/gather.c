/* gather_rows: y[i, ...] = table[index[i], ...] (token embeddings, token
 * selection after pruning). The table may be f32, f16, or GGUF q8_0 / q4_0
 * blocks (quantised embeddings, decoded by shaders/quant.comp and
 * shaders/cl/quant.cl); y is f32. An index outside the table gives a row of
 * zeros: the kernel checks each index, so no read ever leaves the table. */
#include "matmul_q.h"
#include "row_ops.h"

static fv_status gather_cpu(const fv_node *n, const int32_t *params)
{
    (void)params;
    const fv_tensor *tt = n->src[0];
    const int32_t *index = fv_tensor_host(n->src[1]);
    float *y = fv_tensor_host(n->dst);
    int64_t table_rows = tt->shape[0], cols = fv_tensor_numel(tt) / table_rows, rows = n->src[1]->shape[0];
    for (int64_t r = 0; r < rows; r++) {
        int64_t row = index[r];
        float *yr = y + r * cols;
        if (row < 0 || row >= table_rows) {
            memset(yr, 0, (size_t)cols * sizeof *yr);
        } else if (fv_dtype_is_quantized(tt->dtype)) {
            const size_t row_bytes = (size_t)(cols / 32) * fv_dtype_block_bytes(tt->dtype);
            fv_quant_to_f32(tt->dtype, (const uint8_t *)fv_tensor_host(tt) + row * row_bytes, cols, yr);
        } else if (tt->dtype == FV_DTYPE_F16) {
            const uint16_t *tr = (const uint16_t *)fv_tensor_host(tt) + row * cols;
            for (int64_t c = 0; c < cols; c++) yr[c] = fv_f16_to_f32(tr[c]);
        } else {
            memcpy(yr, (const float *)fv_tensor_host(tt) + row * cols, (size_t)cols * sizeof *yr);
        }
    }
    return FV_STATUS_OK;
}

/* Output rows are split into dispatches that each fit one storage binding;
 * the table (a texel view) and the index are bound whole. */
/* OpenCL: one dispatch over all output rows (shaders/cl/gather.cl) */
static fv_status gather_encode_cl(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const fv_tensor *table = n->src[0], *index = n->src[1];
    int64_t table_rows = table->shape[0], cols = fv_tensor_numel(table) / table_rows, rows = index->shape[0];
    const bool q = fv_dtype_is_quantized(table->dtype);
    fv_dispatch *d = fv_dispatch_push(out, q ? "gather_q_cl" : "gather_cl");
    if (!d) return FV_STATUS_UNSUPPORTED;
    fv_dispatch_bind(d, index, FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, table, FV_BIND_STORAGE, false);
    fv_dispatch_bind(d, n->dst, FV_BIND_STORAGE, true);
    fv_pc_gather pc = {.rows = (uint32_t)rows, .cols = (uint32_t)cols, .table_rows = (uint32_t)table_rows};
    fv_dispatch_set_push(d, &pc, sizeof pc);
    if (q) { /* a work-item per block of 32 values; spec 2: the layout (0 q8_0, 1 q4_0); specs 1
              * and 3 are the program's matvec's (MV, RN), given values it compiles with */
        fv_dispatch_size_1d(d, (uint64_t)rows * (uint64_t)(cols / 32), 64);
        d->spec[1] = 1;
        d->spec[2] = table->dtype == FV_DTYPE_Q4_0;
        d->spec[3] = 1;
        d->nspec = 4;
    } else {
        fv_cl_size_elementwise(d, dev, (uint64_t)rows * (uint64_t)cols);
        d->spec[2] = table->dtype == FV_DTYPE_F16;
        d->nspec = 3;
    }
    return FV_STATUS_OK;
}

static fv_status gather_encode(const fv_node *n, const fv_device_info *dev, fv_dispatch_list *out)
{
    const fv_tensor *table = n->src[0], *index = n->src[1];
    int64_t table_rows = table->shape[0], cols = fv_tensor_numel(table) / table_rows, rows = index->shape[0];
    if (dev->backend == FV_BACKEND_OPENCL) return gather_encode_cl(n, dev, out);
    static const char *const kernels[3] = {"gather_f32", "gather_f32x4", "gather_f32x8"};
    const bool q = fv_dtype_is_quantized(table->dtype);
    int width = q ? 32 : fv_unit_width(dev, cols, fv_is_cpu_device(dev));
    fv_bind_kind kind = q ? FV_BIND_TEXEL_U32X4 : fv_unit_texel_kind(table->dtype, width);
    /* a quantised table is read as raw 16-byte texels; its view ends on a
     * whole texel (allocations are whole multiples of 256 bytes) */
    const size_t table_bytes = q ? (table->nbytes + 15) / 16 * 16 : 0;
    size_t row_bytes = (size_t)cols * 4;
    int64_t per = fv_rows_per_dispatch(rows, row_bytes, dev->max_storage_range);
    if (per == 0) return FV_STATUS_UNSUPPORTED;
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t cnt = FV_MIN(per, rows - r0);
        const char *kernel = !q ? kernels[fv_unit_variant(width)]
                                : table->dtype == FV_DTYPE_Q8_0 ? "gather_q8_0" : "gather_q4_0";
        fv_dispatch *d = fv_dispatch_push(out, kernel);
        if (!d) return FV_STATUS_UNSUPPORTED;
        fv_dispatch_bind(d, index, FV_BIND_STORAGE, false);
        fv_dispatch_bind_range(d, table, 0, table_bytes, kind, false);
        fv_dispatch_bind_range(d, n->dst, (size_t)r0 * row_bytes, (size_t)cnt * row_bytes, FV_BIND_STORAGE,
                               true);
        fv_pc_gather pc = {.rows = (uint32_t)cnt,
                           .cols = (uint32_t)cols,
                           .table_rows = (uint32_t)table_rows,
                           .row0 = (uint32_t)r0};
        fv_dispatch_set_push(d, &pc, sizeof pc);
        fv_dispatch_size_1d(d, (uint64_t)cnt * (uint64_t)(cols / width), 256);
    }
    return FV_STATUS_OK;
}

static const char *gather_unsupported(const fv_node *n, const fv_device_info *dev)
{
    const fv_tensor *table = n->src[0], *index = n->src[1];
    if (dev->backend == FV_BACKEND_OPENCL)
        return fv_cl_unsupported_size((uint64_t)FV_MAX(fv_tensor_numel(table), fv_tensor_numel(n->dst)));
    int64_t cols = fv_tensor_numel(table) / table->shape[0];
    /* a quantised table is one raw u32x4 view, its byte offsets 32-bit */
    const bool fits = fv_dtype_is_quantized(table->dtype)
                          ? (table->nbytes + 15) / 16 <= dev->max_texel_elements && table->nbytes < ((uint64_t)1 << 32)
                          : fv_fits_texel_view(dev, table,
                                               fv_unit_texel_kind(table->dtype, fv_unit_width(dev, cols, fv_is_cpu_device(dev))));
    if (!fits) return "the table has more texels than one texel view may cover";
    if (index->nbytes > dev->max_storage_range ||
        fv_rows_per_dispatch(index->shape[0], (uint64_t)cols * 4, dev->max_storage_range) == 0)
        return "tensor needs more dispatches than a node may have";
    return NULL;
}

static const fv_op_def op_gather_rows = {"gather_rows", gather_cpu, gather_encode, gather_unsupported};

fv_status fv_op_gather_rows(fv_graph *g, fv_tensor *table, fv_tensor *index, fv_tensor **y)
{
    if (!g || !y) return FV_STATUS_INVALID_ARGUMENT;
    FV_OP_CHECK_INPUT(g, "gather_rows", "table", table);
    FV_OP_CHECK_INPUT(g, "gather_rows", "index", index);
    char st_[96], si[96];
    if (table->dtype != FV_DTYPE_F32 && table->dtype != FV_DTYPE_F16 && !fv_dtype_is_quantized(table->dtype))
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "gather_rows: table is %s %s; it must be f32, f16, q8_0 or q4_0",
                       fv_dtype_name(table->dtype), fv_shape_str(table, st_, sizeof st_));
    if (index->dtype != FV_DTYPE_I32 || index->ndim != 1)
        return fv_fail(fv_graph_context(g), FV_STATUS_INVALID_ARGUMENT,
                       "gather_rows: index is %s %s; it must be i32 [n]", fv_dtype_name(index->dtype),
                       fv_shape_str(index, si, sizeof si));
    int64_t shape[FV_MAX_DIMS];
    memcpy(shape, table->shape, sizeof shape);
    shape[0] = index->shape[0];
    fv_tensor *src[2] = {table, index};
    return fv_graph_add_node(g, &op_gather_rows, src, 2, NULL, 0, FV_DTYPE_F32, table->ndim, shape, y);
}
