/* What the model-file readers share: error text, memory-mapped files, the
 * stored element types and a sorted name index. */
#include "load_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

fv_status fv_error_set(char *error, size_t size, fv_status st, const char *fmt, ...)
{
    if (error && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(error, size, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- files ---------------------------------------------------------------- */

static fv_status open_regular(const char *path, int *fd, size_t *size, char *error, size_t error_size)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return fv_error_set(error, error_size, FV_STATUS_IO_ERROR, "%s: %s", path, strerror(errno));
    struct stat sb;
    const char *why = NULL;
    if (fstat(*fd, &sb) != 0)
        why = strerror(errno);
    else if (S_ISDIR(sb.st_mode))
        why = "is a directory";
    else if (!S_ISREG(sb.st_mode))
        why = "not a regular file";
    if (why) {
        close(*fd);
        *fd = -1;
        return fv_error_set(error, error_size, FV_STATUS_IO_ERROR, "%s: %s", path, why);
    }
    if (sb.st_size == 0) {
        close(*fd);
        *fd = -1;
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "%s: the file is empty", path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX / 2) {
        close(*fd);
        *fd = -1;
        return fv_error_set(error, error_size, FV_STATUS_IO_ERROR, "%s: too large to map", path);
    }
    *size = (size_t)sb.st_size;
    return FV_STATUS_OK;
}

/* Reads exactly n bytes (read may return less, and EINTR). */
static bool read_all(int fd, void *dst, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = read(fd, (char *)dst + done, n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        done += (size_t)r;
    }
    return true;
}

fv_status fv_file_map(const char *path, fv_mapped_file *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof *out);
    int fd;
    size_t size;
    fv_status st = open_regular(path, &fd, &size, error, error_size);
    if (st) return st;
    /* Weights are read once, front to back, while they are converted and
     * uploaded; the mapping lets the page cache serve them without a copy
     * and lets tensors the model never asks for stay on disk. */
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
        close(fd);
        out->data = p;
        out->size = size;
        out->mapped = true;
        return FV_STATUS_OK;
    }
    /* Some file systems cannot map; read the file instead. */
    void *buf = malloc(size);
    if (!buf) {
        close(fd);
        return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "%s: cannot map it (%s) nor "
                            "allocate %zu bytes to read it", path, strerror(errno), size);
    }
    bool ok = read_all(fd, buf, size);
    int e = errno;
    close(fd);
    if (!ok) {
        free(buf);
        return fv_error_set(error, error_size, FV_STATUS_IO_ERROR, "%s: read failed: %s", path,
                            e ? strerror(e) : "short read");
    }
    out->data = buf;
    out->size = size;
    return FV_STATUS_OK;
}

void fv_file_unmap(fv_mapped_file *m)
{
    if (!m || !m->data) return;
    if (m->mapped)
        munmap((void *)m->data, m->size);
    else
        free((void *)m->data);
    memset(m, 0, sizeof *m);
}

fv_status fv_file_read_text(const char *path, char **out, size_t *size, char *error, size_t error_size)
{
    *out = NULL;
    int fd;
    size_t n;
    fv_status st = open_regular(path, &fd, &n, error, error_size);
    if (st) return st;
    if (n > ((size_t)64 << 20)) { /* a config file, never a weight file */
        close(fd);
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "%s: %zu bytes is too large for a "
                            "configuration file", path, n);
    }
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    }
    bool ok = read_all(fd, buf, n);
    int e = errno;
    close(fd);
    if (!ok) {
        free(buf);
        return fv_error_set(error, error_size, FV_STATUS_IO_ERROR, "%s: read failed: %s", path,
                            e ? strerror(e) : "short read");
    }
    buf[n] = 0;
    *out = buf;
    if (size) *size = n;
    return FV_STATUS_OK;
}

/* ---- stored element types --------------------------------------------------- */

static const struct {
    const char *name;
    int block;
    size_t bytes;
    fv_dtype same; /* the fv_dtype with identical bytes, or FV_DTYPE_COUNT_ */
} file_dtypes[FV_FILE_DTYPE_COUNT_] = {
    [FV_FILE_DTYPE_F32] = {"f32", 1, 4, FV_DTYPE_F32},
    [FV_FILE_DTYPE_F16] = {"f16", 1, 2, FV_DTYPE_F16},
    [FV_FILE_DTYPE_BF16] = {"bf16", 1, 2, FV_DTYPE_BF16},
    [FV_FILE_DTYPE_Q8_0] = {"q8_0", 32, 34, FV_DTYPE_Q8_0},
    [FV_FILE_DTYPE_Q4_0] = {"q4_0", 32, 18, FV_DTYPE_Q4_0},
    [FV_FILE_DTYPE_F64] = {"f64", 1, 8, FV_DTYPE_COUNT_},
    [FV_FILE_DTYPE_I8] = {"i8", 1, 1, FV_DTYPE_COUNT_},
    [FV_FILE_DTYPE_I16] = {"i16", 1, 2, FV_DTYPE_COUNT_},
    [FV_FILE_DTYPE_I32] = {"i32", 1, 4, FV_DTYPE_I32},
    [FV_FILE_DTYPE_I64] = {"i64", 1, 8, FV_DTYPE_COUNT_},
    [FV_FILE_DTYPE_U8] = {"u8", 1, 1, FV_DTYPE_COUNT_},
    [FV_FILE_DTYPE_BOOL] = {"bool", 1, 1, FV_DTYPE_COUNT_},
};

const char *fv_file_dtype_name(fv_file_dtype t)
{
    return (unsigned)t < FV_FILE_DTYPE_COUNT_ ? file_dtypes[t].name : "unknown";
}
int fv_file_dtype_block(fv_file_dtype t) { return file_dtypes[t].block; }
size_t fv_file_dtype_block_bytes(fv_file_dtype t) { return file_dtypes[t].bytes; }
fv_dtype fv_file_dtype_as_dtype(fv_file_dtype t) { return file_dtypes[t].same; }

bool fv_shape_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    const int64_t limit = (int64_t)1 << 62;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || shape[i] > limit) return false;
        if (shape[i] && n > limit / shape[i]) return false;
        n *= shape[i];
    }
    *numel = n;
    return true;
}

bool fv_file_dtype_nbytes(fv_file_dtype t, int64_t numel, size_t *bytes)
{
    int64_t block = file_dtypes[t].block;
    if (numel < 0 || numel % block) return false;
    uint64_t blocks = (uint64_t)(numel / block);
    if (blocks > (uint64_t)(SIZE_MAX / 2) / file_dtypes[t].bytes) return false;
    *bytes = (size_t)(blocks * file_dtypes[t].bytes);
    return true;
}

const char *fv_dims_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

/* ---- name index --------------------------------------------------------------- */

static int cmp_info(const void *a, const void *b)
{
    return strcmp((*(const fv_weight_info *const *)a)->name, (*(const fv_weight_info *const *)b)->name);
}

void fv_weight_index_sort(const fv_weight_info **v, size_t n)
{
    if (n > 1) qsort(v, n, sizeof *v, cmp_info);
}

const fv_weight_info *fv_weight_index_find(const fv_weight_info *const *v, size_t n, const char *name)
{
    if (!name) return NULL;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid]->name, name);
        if (c == 0) return v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *fv_weight_index_duplicate(const fv_weight_info *const *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1]->name, v[i]->name) == 0) return v[i]->name;
    return NULL;
}
