/* OpenCL platform and device discovery through the ICD loader, buffers, and
 * programs built from the embedded sources with an on-disk binary cache. */
#include "cl_internal.h"

#include <stdlib.h>
#include <string.h>

fv_status fv_cl_status(fv_context *ctx, cl_int err, const char *what)
{
    switch (err) {
    case CL_SUCCESS: return FV_STATUS_OK;
    case CL_OUT_OF_HOST_MEMORY:
        return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: %s: out of host memory", what);
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
        return fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "opencl: %s: out of device memory or resources (%d)",
                       what, err);
    case CL_INVALID_BUFFER_SIZE:
        return fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "opencl: %s: buffer size not allowed", what);
    case CL_DEVICE_NOT_AVAILABLE:
    case CL_DEVICE_NOT_FOUND:
    case -1001: /* CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no driver */
        return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "opencl: %s: no OpenCL platform or device (%d)", what, err);
    default: return fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "opencl: %s failed (error %d)", what, err);
    }
}

static void describe(cl_platform_id pf, cl_device_id d, fv_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->backend = FV_BACKEND_OPENCL;
    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    cl_bool unified = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    info->unified_memory = unified;
    if (type & CL_DEVICE_TYPE_CPU) info->type = FV_DEVICE_TYPE_CPU;
    else if (type & CL_DEVICE_TYPE_GPU) info->type = unified ? FV_DEVICE_TYPE_INTEGRATED_GPU : FV_DEVICE_TYPE_DISCRETE_GPU;
    else info->type = FV_DEVICE_TYPE_OTHER;
    clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof info->name, info->name, NULL);
    char pname[128] = "", dver[128] = "";
    clGetPlatformInfo(pf, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
    clGetDeviceInfo(d, CL_DRIVER_VERSION, sizeof dver, dver, NULL);
    snprintf(info->driver, sizeof info->driver, "%s %s", pname, dver);
    /* "OpenCL <major.minor> <vendor text>": the vendor text can be longer
     * than api_version holds, so keep the first two words */
    char version[256] = "";
    clGetDeviceInfo(d, CL_DEVICE_VERSION, sizeof version - 1, version, NULL);
    char *space = strchr(version, ' ');
    if (space && (space = strchr(space + 1, ' '))) *space = '\0';
    snprintf(info->api_version, sizeof info->api_version, "%s", version);
    char profile[64] = "";
    clGetDeviceInfo(d, CL_DEVICE_PROFILE, sizeof profile - 1, profile, NULL);
    cl_ulong mem = 0, alloc = 0, local = 0;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    info->memory_bytes = mem;
    info->max_alloc_bytes = alloc;
    info->max_storage_range = alloc;
    info->shared_memory_bytes = (uint32_t)local;
    info->max_workgroup_invocations = (uint32_t)wg;
    size_t n = 0;
    clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n);
    char *ext = calloc(n + 1, 1);
    if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, ext, NULL) == CL_SUCCESS) {
        info->fp16_arithmetic = strstr(ext, "cl_khr_fp16") != NULL;
        info->storage_16bit = true; /* vload_half/vstore_half are core */
        info->storage_8bit = strstr(ext, "cl_khr_byte_addressable_store") != NULL;
        info->int8_dot_product = strstr(ext, "cl_khr_integer_dot_product") != NULL;
        /* 64-bit integers are core in the full profile, an extension in the embedded one */
        info->shader_int64 = strcmp(profile, "FULL_PROFILE") == 0 || strstr(ext, "cles_khr_int64") != NULL;
        bool subgroups = strstr(ext, "cl_khr_subgroups") || strstr(ext, "cl_intel_subgroups");
        info->subgroup_arithmetic = info->subgroup_shuffle = subgroups;
    }
    free(ext);
}

/* Walks platforms and their devices in order; calls fn for each. */
typedef bool (*device_fn)(cl_platform_id pf, cl_device_id d, int index, void *user);

static cl_int for_each_device(device_fn fn, void *user, int *count)
{
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    *count = 0;
    if (err != CL_SUCCESS) return err;
    if (np == 0) return -1001;
    cl_platform_id pfs[16];
    if (np > 16) np = 16;
    err = clGetPlatformIDs(np, pfs, NULL);
    if (err != CL_SUCCESS) return err;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(pfs[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd) continue;
        cl_device_id devs[16];
        if (nd > 16) nd = 16;
        if (clGetDeviceIDs(pfs[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) != CL_SUCCESS) continue;
        for (cl_uint i = 0; i < nd; i++) {
            int idx = (*count)++;
            if (!fn(pfs[p], devs[i], idx, user)) return CL_SUCCESS;
        }
    }
    return *count ? CL_SUCCESS : CL_DEVICE_NOT_FOUND;
}

typedef struct pick {
    const fv_context_desc *desc;
    cl_platform_id pf;
    cl_device_id dev;
    bool found;
} pick;

static bool pick_fn(cl_platform_id pf, cl_device_id d, int index, void *user)
{
    pick *p = user;
    bool match;
    if (p->desc->device_name) {
        char name[256] = "";
        clGetDeviceInfo(d, CL_DEVICE_NAME, sizeof name, name, NULL);
        match = strstr(name, p->desc->device_name) != NULL;
    } else {
        match = index == p->desc->device_index;
    }
    if (match) {
        p->pf = pf;
        p->dev = d;
        p->found = true;
    }
    return !match;
}

static void cl_destroy(fv_context *ctx)
{
    fv_cl *cl = fv_cl_of(ctx);
    if (!cl) return;
    if (cl->queue) clFinish(cl->queue);
    for (fv_cl_program *p = cl->programs, *next; p; p = next) {
        next = p->next;
        if (p->program) clReleaseProgram(p->program);
        free(p);
    }
    if (cl->queue) clReleaseCommandQueue(cl->queue);
    if (cl->context) clReleaseContext(cl->context);
    free(cl);
    ctx->be = NULL;
}

static fv_status cl_init(fv_context *ctx)
{
    fv_cl *cl = calloc(1, sizeof *cl);
    if (!cl) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: out of host memory");
    ctx->be = cl;
    pick p = {.desc = &ctx->desc};
    int count = 0;
    cl_int err = for_each_device(pick_fn, &p, &count);
    fv_status st;
    if (err != CL_SUCCESS && !p.found) {
        st = fv_cl_status(ctx, err, "finding devices");
        goto fail;
    }
    if (!p.found) {
        if (ctx->desc.device_name)
            st = fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "opencl: no device named like \"%s\"", ctx->desc.device_name);
        else
            st = fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "opencl: device %d requested, %d present",
                         ctx->desc.device_index, count);
        goto fail;
    }
    cl->platform = p.pf;
    cl->device = p.dev;
    describe(p.pf, p.dev, &ctx->info);
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)p.pf, 0};
    cl->context = clCreateContext(props, 1, &p.dev, NULL, NULL, &err);
    if (err == CL_SUCCESS)
        cl->queue = clCreateCommandQueue(cl->context, p.dev, ctx->profile ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS) {
        st = fv_cl_status(ctx, err, "creating the context and queue");
        goto fail;
    }
    snprintf(cl->device_key, sizeof cl->device_key, "%s|%s", ctx->info.name, ctx->info.driver);
    fv_log(ctx, FV_LOG_INFO, "opencl: %s (%s)", ctx->info.name, ctx->info.driver);
    return FV_STATUS_OK;
fail:
    cl_destroy(ctx);
    return st;
}

static fv_status cl_list_devices(fv_device_info *infos, int capacity, int *count, char *err, size_t es);

typedef struct list_ctx {
    fv_device_info *infos;
    int capacity;
} list_ctx;

static bool list_fn(cl_platform_id pf, cl_device_id d, int index, void *user)
{
    list_ctx *l = user;
    if (index < l->capacity) describe(pf, d, &l->infos[index]);
    return true;
}

static fv_status cl_list_devices(fv_device_info *infos, int capacity, int *count, char *err, size_t es)
{
    list_ctx l = {infos, capacity};
    cl_int e = for_each_device(list_fn, &l, count);
    if (e == CL_SUCCESS) return FV_STATUS_OK;
    fv_context tmp;
    memset(&tmp, 0, sizeof tmp);
    fv_status st = fv_cl_status(&tmp, e, "finding devices");
    if (err && es) snprintf(err, es, "%s", tmp.last_error);
    return st;
}

/* ---- buffers ---- */

static fv_status cl_buffer_alloc(fv_context *ctx, size_t bytes, fv_buffer **out)
{
    fv_cl *cl = fv_cl_of(ctx);
    if (bytes > ctx->info.max_alloc_bytes)
        return fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "opencl: %zu bytes requested; %s allows %llu in one buffer",
                       bytes, ctx->info.name, (unsigned long long)ctx->info.max_alloc_bytes);
    fv_buffer *b = calloc(1, sizeof *b);
    if (!b) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: out of host memory");
    cl_int err;
    cl_mem m = clCreateBuffer(cl->context, CL_MEM_READ_WRITE, bytes ? bytes : 1, NULL, &err);
    if (err != CL_SUCCESS) {
        free(b);
        return err == CL_INVALID_BUFFER_SIZE || err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES
                   ? fv_fail(ctx, FV_STATUS_OUT_OF_DEVICE_MEMORY, "opencl: cannot allocate %zu bytes (%d)", bytes, err)
                   : fv_cl_status(ctx, err, "clCreateBuffer");
    }
    b->impl = m;
    b->size = bytes;
    *out = b;
    return FV_STATUS_OK;
}

static void cl_buffer_free(fv_context *ctx, fv_buffer *b)
{
    (void)ctx;
    if (!b) return;
    clReleaseMemObject((cl_mem)b->impl);
    free(b);
}

static fv_status cl_buffer_write(fv_context *ctx, fv_buffer *b, size_t off, const void *src, size_t n)
{
    cl_int err = clEnqueueWriteBuffer(fv_cl_of(ctx)->queue, (cl_mem)b->impl, CL_TRUE, off, n, src, 0, NULL, NULL);
    return fv_cl_status(ctx, err, "clEnqueueWriteBuffer");
}

static fv_status cl_buffer_read(fv_context *ctx, fv_buffer *b, size_t off, void *dst, size_t n)
{
    cl_int err = clEnqueueReadBuffer(fv_cl_of(ctx)->queue, (cl_mem)b->impl, CL_TRUE, off, n, dst, 0, NULL, NULL);
    return fv_cl_status(ctx, err, "clEnqueueReadBuffer");
}

/* ---- programs ---- */

/* FNV-1a over the program's text, its options and the device+driver */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static cl_program load_cached(fv_context *ctx, const char *path)
{
    fv_cl *cl = fv_cl_of(ctx);
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char *bin = NULL;
    size_t size = 0;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long len = ftell(fp);
        if (len > 0 && fseek(fp, 0, SEEK_SET) == 0 && (bin = malloc((size_t)len)))
            size = fread(bin, 1, (size_t)len, fp) == (size_t)len ? (size_t)len : 0;
    }
    fclose(fp);
    cl_program prog = NULL;
    if (size) {
        cl_int status, err;
        const unsigned char *bins[1] = {bin};
        prog = clCreateProgramWithBinary(cl->context, 1, &cl->device, &size, bins, &status, &err);
        if (err != CL_SUCCESS || status != CL_SUCCESS) prog = NULL;
    }
    free(bin);
    return prog;
}

static void save_cached(cl_program prog, const char *path)
{
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS || !size) return;
    unsigned char *bin = malloc(size);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) {
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *fp = fopen(tmp, "wb");
        if (fp) {
            bool ok = fwrite(bin, 1, size, fp) == size;
            ok = fclose(fp) == 0 && ok;
            if (ok) rename(tmp, path);
            else remove(tmp);
        }
    }
    free(bin);
}

static fv_status build_program(fv_context *ctx, int src, const fv_dispatch *d, cl_program *out)
{
    fv_cl *cl = fv_cl_of(ctx);
    char options[512];
    size_t n = (size_t)snprintf(options, sizeof options, "-cl-std=CL1.2 -cl-mad-enable");
    for (int i = 0; i < d->nspec && n < sizeof options; i++)
        n += (size_t)snprintf(options + n, sizeof options - n, " -DFV_SPEC_%d=%uu", i, d->spec[i]);
    const fv_cl_program_source *ps = &fv_cl_programs[src];
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, ps->source, ps->length);
    h = fnv1a(h, options, strlen(options));
    h = fnv1a(h, cl->device_key, strlen(cl->device_key));
    char path[600] = "";
    if (ctx->cache_dir[0]) snprintf(path, sizeof path, "%s/cl-%016llx.bin", ctx->cache_dir, (unsigned long long)h);
    cl_program prog = path[0] ? load_cached(ctx, path) : NULL;
    bool from_cache = prog != NULL;
    cl_int err;
    if (!prog) {
        const char *srcs[1] = {ps->source};
        size_t lens[1] = {ps->length};
        prog = clCreateProgramWithSource(cl->context, 1, srcs, lens, &err);
        if (err != CL_SUCCESS) return fv_cl_status(ctx, err, "clCreateProgramWithSource");
    }
    err = clBuildProgram(prog, 1, &cl->device, options, NULL, NULL);
    if (err != CL_SUCCESS && from_cache) { /* a stale binary: rebuild from source */
        clReleaseProgram(prog);
        const char *srcs[1] = {ps->source};
        size_t lens[1] = {ps->length};
        prog = clCreateProgramWithSource(cl->context, 1, srcs, lens, &err);
        if (err != CL_SUCCESS) return fv_cl_status(ctx, err, "clCreateProgramWithSource");
        from_cache = false;
        err = clBuildProgram(prog, 1, &cl->device, options, NULL, NULL);
    }
    if (err != CL_SUCCESS) {
        char log[1536] = "";
        clGetProgramBuildInfo(prog, cl->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
        clReleaseProgram(prog);
        return fv_fail(ctx, FV_STATUS_BACKEND_ERROR, "opencl: building %s (%s) failed (%d): %s", ps->name, options,
                       err, log);
    }
    if (!from_cache && path[0]) save_cached(prog, path);
    *out = prog;
    return FV_STATUS_OK;
}

fv_status fv_cl_kernel_create(fv_context *ctx, const fv_dispatch *d, cl_kernel *out)
{
    fv_cl *cl = fv_cl_of(ctx);
    int src = fv_cl_program_of(d->kernel);
    if (src < 0) return fv_fail(ctx, FV_STATUS_UNSUPPORTED, "opencl: no kernel named %s in this build", d->kernel);
    fv_cl_program *p = cl->programs;
    for (; p; p = p->next)
        if (p->source == src && p->nspec == d->nspec && !memcmp(p->spec, d->spec, sizeof(uint32_t) * (size_t)d->nspec))
            break;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) return fv_fail(ctx, FV_STATUS_OUT_OF_HOST_MEMORY, "opencl: out of host memory");
        p->source = src;
        p->nspec = d->nspec;
        memcpy(p->spec, d->spec, sizeof(uint32_t) * (size_t)d->nspec);
        fv_status st = build_program(ctx, src, d, &p->program);
        if (st) {
            free(p);
            return st;
        }
        p->next = cl->programs;
        cl->programs = p;
    }
    cl_int err;
    *out = clCreateKernel(p->program, d->kernel, &err);
    return fv_cl_status(ctx, err, d->kernel);
}

/* the rest of the vtable: cl_commands.c */
const char *fv_cl_supports_op(fv_context *ctx, const fv_node *n);
fv_status fv_cl_record(fv_context *ctx, fv_node *nodes, int count, fv_recording **out);
fv_status fv_cl_replay(fv_context *ctx, fv_recording *rec, const int32_t *params);
void fv_cl_release(fv_context *ctx, fv_recording *rec);
int fv_cl_timings(fv_context *ctx, fv_recording *rec, double *ms, int capacity);

static const fv_backend_vtbl opencl_backend = {
    .type = FV_BACKEND_OPENCL,
    .init = cl_init,
    .destroy = cl_destroy,
    .buffer_alloc = cl_buffer_alloc,
    .buffer_free = cl_buffer_free,
    .buffer_write = cl_buffer_write,
    .buffer_read = cl_buffer_read,
    .supports_op = fv_cl_supports_op,
    .record = fv_cl_record,
    .replay = fv_cl_replay,
    .release = fv_cl_release,
    .timings = fv_cl_timings,
    .list_devices = cl_list_devices,
};

const fv_backend_vtbl *fv_opencl_backend_get(void) { return &opencl_backend; }
