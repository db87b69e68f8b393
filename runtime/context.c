/* Contexts: backend selection, device string parsing, disk cache location. */
#include "internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *fv_backend_name(fv_backend_type b)
{
    switch (b) {
    case FV_BACKEND_AUTO: return "auto";
    case FV_BACKEND_CPU: return "cpu";
    case FV_BACKEND_VULKAN: return "vulkan";
    case FV_BACKEND_OPENCL: return "opencl";
    default: return "unknown";
    }
}

static const fv_backend_vtbl *backend_vtbl(fv_backend_type b)
{
    switch (b) {
    case FV_BACKEND_CPU: return &fv_cpu_backend;
    case FV_BACKEND_VULKAN: return &fv_vulkan_backend;
    case FV_BACKEND_OPENCL: return fv_opencl_backend_get();
    default: return NULL;
    }
}

fv_status fv_context_desc_parse_device(fv_context_desc *desc, const char *spec)
{
    if (!desc || !spec) return FV_STATUS_INVALID_ARGUMENT;
    static const struct {
        const char *name;
        fv_backend_type type;
    } names[] = {{"cpu", FV_BACKEND_CPU}, {"vulkan", FV_BACKEND_VULKAN},
                 {"opencl", FV_BACKEND_OPENCL}, {"auto", FV_BACKEND_AUTO}};
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < FV_ARRAY_LEN(names); i++) {
        if (strlen(names[i].name) != len || strncmp(spec, names[i].name, len) != 0) continue;
        desc->backend = names[i].type;
        desc->device_index = 0;
        desc->device_name = NULL;
        if (colon && colon[1]) {
            char *end;
            long v = strtol(colon + 1, &end, 10);
            if (*end == '\0' && v >= 0)
                desc->device_index = (int)v;
            else
                desc->device_name = colon + 1;
        }
        return FV_STATUS_OK;
    }
    return FV_STATUS_INVALID_ARGUMENT;
}

static void resolve_cache_dir(fv_context *ctx)
{
    ctx->cache_dir[0] = '\0';
    if (ctx->desc.no_disk_cache) return;
    const char *dir = ctx->desc.cache_dir;
    char buf[sizeof ctx->cache_dir];
    if (!dir) {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0])
            snprintf(buf, sizeof buf, "%s/fovea", xdg);
        else if (home && home[0])
            snprintf(buf, sizeof buf, "%s/.cache/fovea", home);
        else
            return;
        dir = buf;
    }
    /* create it, parents included; failure just disables the cache */
    char path[sizeof ctx->cache_dir];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    mkdir(path, 0755);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", path);
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0;
}

static fv_status try_backend(fv_context *ctx, fv_backend_type type)
{
    ctx->type = type;
    ctx->vt = backend_vtbl(type);
    if (!ctx->vt)
        return fv_fail(ctx, FV_STATUS_BACKEND_UNAVAILABLE, "backend %s is not built into this library",
                       fv_backend_name(type));
    ctx->info.backend = type;
    return ctx->vt->init(ctx);
}

fv_status fv_context_create(const fv_context_desc *desc_in, fv_context **out, char *error,
                            size_t error_size)
{
    if (error && error_size) error[0] = '\0';
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    *out = NULL;
    fv_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        if (error && error_size) snprintf(error, error_size, "out of host memory");
        return FV_STATUS_OUT_OF_HOST_MEMORY;
    }
    if (desc_in) ctx->desc = *desc_in;
    if ((unsigned)ctx->desc.backend >= FV_BACKEND_COUNT_ || ctx->desc.device_index < 0) {
        free(ctx);
        if (error && error_size) snprintf(error, error_size, "invalid backend or device index");
        return FV_STATUS_INVALID_ARGUMENT;
    }
    ctx->profile = ctx->desc.profile || env_true("FOVEA_PROFILE");
    resolve_cache_dir(ctx);

    fv_status st;
    if (ctx->desc.backend == FV_BACKEND_AUTO) {
        const char *env = getenv("FOVEA_DEVICE");
        if (env && env[0] && fv_context_desc_parse_device(&ctx->desc, env) != FV_STATUS_OK) {
            st = fv_fail(ctx, FV_STATUS_INVALID_ARGUMENT,
                         "FOVEA_DEVICE=\"%s\" is not a device (cpu, vulkan[:N|:name], opencl[:N|:name])",
                         env);
            goto fail;
        }
    }
    if (ctx->desc.backend != FV_BACKEND_AUTO) {
        st = try_backend(ctx, ctx->desc.backend);
    } else {
        /* Vulkan, then OpenCL, then the CPU; each failure is remembered */
        static const fv_backend_type order[] = {FV_BACKEND_VULKAN, FV_BACKEND_OPENCL, FV_BACKEND_CPU};
        st = FV_STATUS_BACKEND_UNAVAILABLE;
        for (size_t i = 0; i < FV_ARRAY_LEN(order) && st != FV_STATUS_OK; i++) {
            st = try_backend(ctx, order[i]);
            if (st != FV_STATUS_OK)
                fv_log(ctx, FV_LOG_INFO, "backend %s unavailable: %s", fv_backend_name(order[i]),
                       ctx->last_error);
        }
    }
    if (st != FV_STATUS_OK) goto fail;
    ctx->last_error[0] = '\0';
    *out = ctx;
    return FV_STATUS_OK;
fail:
    if (error && error_size) snprintf(error, error_size, "%s", ctx->last_error);
    free(ctx);
    return st;
}

void fv_context_destroy(fv_context *ctx)
{
    if (!ctx) return;
    if (ctx->vt) ctx->vt->destroy(ctx);
    free(ctx);
}

fv_backend_type fv_context_backend(const fv_context *ctx) { return ctx ? ctx->type : FV_BACKEND_AUTO; }

fv_status fv_context_device_info(const fv_context *ctx, fv_device_info *info)
{
    if (!ctx || !info) return FV_STATUS_INVALID_ARGUMENT;
    *info = ctx->info;
    return FV_STATUS_OK;
}

fv_status fv_backend_list_devices(fv_backend_type backend, fv_device_info *infos, int capacity,
                                  int *count, char *error, size_t error_size)
{
    if (error && error_size) error[0] = '\0';
    if (!count || capacity < 0 || (capacity > 0 && !infos)) return FV_STATUS_INVALID_ARGUMENT;
    *count = 0;
    const fv_backend_vtbl *vt = backend_vtbl(backend);
    if (!vt) {
        if (error && error_size)
            snprintf(error, error_size, "backend %s is not built into this library", fv_backend_name(backend));
        return FV_STATUS_BACKEND_UNAVAILABLE;
    }
    return vt->list_devices(infos, capacity, count, error, error_size);
}
