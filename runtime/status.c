/* Status names, error messages and logging. Errors are kept per context. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *fv_status_name(fv_status status)
{
    static const char *const names[FV_STATUS_COUNT_] = {
        [FV_STATUS_OK] = "FV_STATUS_OK",
        [FV_STATUS_INVALID_ARGUMENT] = "FV_STATUS_INVALID_ARGUMENT",
        [FV_STATUS_OUT_OF_HOST_MEMORY] = "FV_STATUS_OUT_OF_HOST_MEMORY",
        [FV_STATUS_OUT_OF_DEVICE_MEMORY] = "FV_STATUS_OUT_OF_DEVICE_MEMORY",
        [FV_STATUS_BACKEND_UNAVAILABLE] = "FV_STATUS_BACKEND_UNAVAILABLE",
        [FV_STATUS_UNSUPPORTED] = "FV_STATUS_UNSUPPORTED",
        [FV_STATUS_DEVICE_LOST] = "FV_STATUS_DEVICE_LOST",
        [FV_STATUS_IO_ERROR] = "FV_STATUS_IO_ERROR",
        [FV_STATUS_BACKEND_ERROR] = "FV_STATUS_BACKEND_ERROR",
        [FV_STATUS_INVALID_STATE] = "FV_STATUS_INVALID_STATE",
    };
    if ((unsigned)status >= FV_STATUS_COUNT_) return "FV_STATUS_UNKNOWN";
    return names[status];
}

static void log_default(fv_log_level level, const char *message, void *user_data)
{
    (void)user_data;
    static const char *const tags[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "fovea %s: %s\n", tags[level], message);
}

static void log_v(const fv_context *ctx, fv_log_level level, const char *fmt, va_list ap)
{
    fv_log_level min = ctx ? ctx->desc.log_level : FV_LOG_WARN;
    if (ctx && !ctx->desc.log && min < FV_LOG_WARN) min = FV_LOG_WARN;
    if (level < min) return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (ctx && ctx->desc.log)
        ctx->desc.log(level, msg, ctx->desc.log_user_data);
    else
        log_default(level, msg, NULL);
}

void fv_log(const fv_context *ctx, fv_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(ctx, level, fmt, ap);
    va_end(ap);
}

fv_status fv_fail(fv_context *ctx, fv_status status, const char *fmt, ...)
{
    if (!ctx) return status;
    va_list ap;
    va_start(ap, fmt);
    char msg[sizeof ctx->last_error - 40];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ctx->last_error, sizeof ctx->last_error, "%s: %s", fv_status_name(status), msg);
    /* Failures are reported to the caller through the status; they are
     * logged at debug level only, so a handled error stays quiet. */
    fv_log(ctx, FV_LOG_DEBUG, "%s", ctx->last_error);
    return status;
}

const char *fv_context_last_error(const fv_context *ctx)
{
    return ctx ? ctx->last_error : "no context";
}

const char *fv_shape_str(const fv_tensor *t, char *buf, size_t size)
{
    if (!t) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "%s[", fv_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

double fv_time_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
