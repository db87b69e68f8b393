/* fovea-info: the backends this library was built with, their devices, and
 * the limits and features fovea's kernels choose their variants by.
 *
 * usage: fovea-info [--json]
 *
 * A backend that is absent (no loader, no driver, not built) is listed with
 * its reason; that is not an error, so the tool still exits 0. */
#include "fovea/fovea.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEVICES 16

static const char *device_type_name(fv_device_type t)
{
    switch (t) {
    case FV_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
    case FV_DEVICE_TYPE_DISCRETE_GPU: return "discrete-gpu";
    case FV_DEVICE_TYPE_VIRTUAL_GPU: return "virtual-gpu";
    case FV_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

/* Prints s as a JSON string (quotes, backslashes and control bytes escaped). */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_bytes(uint64_t b)
{
    if (b >= ((uint64_t)1 << 30))
        printf("%.1f GiB", (double)b / (double)((uint64_t)1 << 30));
    else
        printf("%.1f MiB", (double)b / (double)(1 << 20));
}

static void label(const char *what) { printf("      %-24s", what); }

static void print_device_text(int index, const fv_device_info *d)
{
    printf("  [%d] %s\n", index, d->name);
    label("type");
    printf("%s\n", device_type_name(d->type));
    label("driver");
    printf("%s\n", d->driver);
    label("api version");
    printf("%s\n", d->api_version[0] ? d->api_version : "-");
    label("memory");
    print_bytes(d->memory_bytes);
    printf("\n");
    label("max allocation");
    print_bytes(d->max_alloc_bytes);
    printf("\n");
    label("max storage range");
    print_bytes(d->max_storage_range);
    printf("\n");
    label("max texel elements");
    if (d->max_texel_elements) printf("%" PRIu64 "\n", d->max_texel_elements);
    else printf("-\n");
    /* the CPU backend has no workgroups: zero means "not applicable" */
    label("workgroup invocations");
    if (d->max_workgroup_invocations) printf("%" PRIu32 "\n", d->max_workgroup_invocations);
    else printf("-\n");
    label("shared memory");
    if (d->shared_memory_bytes) printf("%" PRIu32 " KiB\n", d->shared_memory_bytes / 1024);
    else printf("-\n");
    label("subgroup size");
    if (d->subgroup_size)
        printf("%" PRIu32 " (arithmetic %s, shuffle %s)\n", d->subgroup_size, yes_no(d->subgroup_arithmetic),
               yes_no(d->subgroup_shuffle));
    else if (d->subgroup_arithmetic || d->subgroup_shuffle) /* OpenCL: the size is per kernel */
        printf("per kernel (arithmetic %s, shuffle %s)\n", yes_no(d->subgroup_arithmetic),
               yes_no(d->subgroup_shuffle));
    else
        printf("%s\n", d->backend == FV_BACKEND_CPU ? "-" : "none");
    label("fp16 arithmetic");
    printf("%s\n", yes_no(d->fp16_arithmetic));
    label("16-bit / 8-bit storage");
    printf("%s / %s\n", yes_no(d->storage_16bit), yes_no(d->storage_8bit));
    label("64-bit integers");
    printf("%s\n", yes_no(d->shader_int64));
    label("int8 dot product");
    printf("%s\n", yes_no(d->int8_dot_product));
    label("cooperative matrix");
    printf("%s\n", yes_no(d->cooperative_matrix));
    label("unified memory");
    printf("%s\n", yes_no(d->unified_memory));
}

static void print_device_json(const fv_device_info *d)
{
    printf("{\"name\": ");
    json_string(d->name);
    printf(", \"type\": \"%s\", \"driver\": ", device_type_name(d->type));
    json_string(d->driver);
    printf(", \"api_version\": ");
    json_string(d->api_version);
    printf(", \"memory_bytes\": %" PRIu64 ", \"max_alloc_bytes\": %" PRIu64
           ", \"max_storage_range\": %" PRIu64 ", \"max_texel_elements\": %" PRIu64
           ", \"max_workgroup_invocations\": %" PRIu32
           ", \"shared_memory_bytes\": %" PRIu32 ", \"subgroup_size\": %" PRIu32,
           d->memory_bytes, d->max_alloc_bytes, d->max_storage_range, d->max_texel_elements,
           d->max_workgroup_invocations,
           d->shared_memory_bytes, d->subgroup_size);
    printf(", \"subgroup_arithmetic\": %s, \"subgroup_shuffle\": %s, \"fp16_arithmetic\": %s"
           ", \"storage_16bit\": %s, \"storage_8bit\": %s, \"shader_int64\": %s, \"int8_dot_product\": %s"
           ", \"cooperative_matrix\": %s, \"unified_memory\": %s}",
           d->subgroup_arithmetic ? "true" : "false", d->subgroup_shuffle ? "true" : "false",
           d->fp16_arithmetic ? "true" : "false", d->storage_16bit ? "true" : "false",
           d->storage_8bit ? "true" : "false", d->shader_int64 ? "true" : "false",
           d->int8_dot_product ? "true" : "false",
           d->cooperative_matrix ? "true" : "false", d->unified_memory ? "true" : "false");
}

int main(int argc, char **argv)
{
#ifdef __SANITIZE_ADDRESS__
    /* Sanitizer builds only, as in tests/harness.c: keep Mesa's CPU Vulkan
     * driver loaded to the end, so its one-time allocations stay reachable
     * instead of being reported as leaks of an unloaded module. */
    dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
#endif
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fprintf(stderr, "usage: %s [--json]\n", argv[0]);
            return strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2;
        }
    }
    static const fv_backend_type backends[] = {FV_BACKEND_VULKAN, FV_BACKEND_OPENCL, FV_BACKEND_CPU};
    if (json)
        printf("{\"version\": \"%d.%d.%d\", \"backends\": [", FOVEA_VERSION_MAJOR, FOVEA_VERSION_MINOR,
               FOVEA_VERSION_PATCH);
    else
        printf("fovea %d.%d.%d\n", FOVEA_VERSION_MAJOR, FOVEA_VERSION_MINOR, FOVEA_VERSION_PATCH);
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        fv_device_info infos[MAX_DEVICES];
        int count = 0;
        char error[512];
        fv_status st = fv_backend_list_devices(backends[b], infos, MAX_DEVICES, &count, error, sizeof error);
        if (count > MAX_DEVICES) count = MAX_DEVICES;
        const char *name = fv_backend_name(backends[b]);
        if (json) {
            printf("%s\n  {\"backend\": \"%s\", \"available\": %s", b ? "," : "", name,
                   st == FV_STATUS_OK && count > 0 ? "true" : "false");
            if (st != FV_STATUS_OK) {
                printf(", \"status\": \"%s\", \"reason\": ", fv_status_name(st));
                json_string(error[0] ? error : fv_status_name(st));
            }
            printf(", \"devices\": [");
            for (int i = 0; st == FV_STATUS_OK && i < count; i++) {
                printf("%s\n    ", i ? "," : "");
                print_device_json(&infos[i]);
            }
            printf("]}");
        } else if (st != FV_STATUS_OK) {
            printf("\n%s: unavailable: %s (%s)\n", name, error[0] ? error : "no reason given",
                   fv_status_name(st));
        } else {
            printf("\n%s: %d device%s\n", name, count, count == 1 ? "" : "s");
            for (int i = 0; i < count; i++) print_device_text(i, &infos[i]);
        }
    }
    if (json) printf("\n]}\n");
    return 0;
}
