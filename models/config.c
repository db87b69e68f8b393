/* Hugging Face configuration files (config.json, preprocessor_config.json)
 * through libcjson, with typed getters over dotted key paths. A missing key
 * is normal (configs omit defaults) and gives the caller's default; a key
 * of the wrong type is a damaged or foreign config and is reported. */
#include "load_internal.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct fv_config {
    cJSON *root;
};

fv_status fv_config_parse(const char *text, size_t length, fv_config **out, char *error, size_t error_size)
{
    if (!out || !text)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "fv_config_parse: NULL argument");
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, length, &end, false);
    if (!root)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "not valid JSON (near byte %ld)",
                            end ? (long)(end - text) : -1L);
    while (end && end < text + length && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (end && end < text + length && *end) {
        cJSON_Delete(root);
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT,
                            "unexpected text after the JSON value (at byte %ld)", (long)(end - text));
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "the JSON value is not an object");
    }
    fv_config *c = calloc(1, sizeof *c);
    if (!c) {
        cJSON_Delete(root);
        return fv_error_set(error, error_size, FV_STATUS_OUT_OF_HOST_MEMORY, "out of host memory");
    }
    c->root = root;
    *out = c;
    return FV_STATUS_OK;
}

fv_status fv_config_load(const char *path, fv_config **out, char *error, size_t error_size)
{
    if (!out || !path)
        return fv_error_set(error, error_size, FV_STATUS_INVALID_ARGUMENT, "fv_config_load: NULL argument");
    *out = NULL;
    char *text;
    size_t n;
    fv_status s = fv_file_read_text(path, &text, &n, error, error_size);
    if (s) return s;
    char why[256] = "";
    s = fv_config_parse(text, n, out, why, sizeof why);
    free(text);
    if (s) fv_error_set(error, error_size, s, "%s: %s", path, why);
    return s;
}

void fv_config_destroy(fv_config *c)
{
    if (!c) return;
    cJSON_Delete(c->root);
    free(c);
}

/* Walks "a.b.c" through nested objects. NULL when any part is absent. */
static const cJSON *lookup(const fv_config *c, const char *key)
{
    if (!c || !key) return NULL;
    const cJSON *j = c->root;
    const char *part = key;
    while (j) {
        const char *dot = strchr(part, '.');
        size_t len = dot ? (size_t)(dot - part) : strlen(part);
        const cJSON *found = NULL;
        if (cJSON_IsObject(j))
            for (const cJSON *e = j->child; e; e = e->next)
                if (e->string && strlen(e->string) == len && memcmp(e->string, part, len) == 0) {
                    found = e;
                    break;
                }
        j = found;
        if (!dot) break;
        part = dot + 1;
    }
    return j;
}

static const cJSON *lookup_present(const fv_config *c, const char *key)
{
    const cJSON *j = lookup(c, key);
    return j && !cJSON_IsNull(j) ? j : NULL;
}

bool fv_config_has(const fv_config *c, const char *key) { return lookup_present(c, key) != NULL; }

fv_status fv_config_int(const fv_config *c, const char *key, int64_t def, int64_t *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    *out = def;
    const cJSON *j = lookup_present(c, key);
    if (!j) return FV_STATUS_OK;
    /* JSON has one number type; an integer is a number with no fraction
     * inside the range a double holds exactly. */
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || fabs(j->valuedouble) >= 9007199254740992.0)
        return FV_STATUS_INVALID_ARGUMENT;
    *out = (int64_t)j->valuedouble;
    return FV_STATUS_OK;
}

fv_status fv_config_float(const fv_config *c, const char *key, double def, double *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    *out = def;
    const cJSON *j = lookup_present(c, key);
    if (!j) return FV_STATUS_OK;
    if (!cJSON_IsNumber(j)) return FV_STATUS_INVALID_ARGUMENT;
    *out = j->valuedouble;
    return FV_STATUS_OK;
}

fv_status fv_config_bool(const fv_config *c, const char *key, bool def, bool *out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    *out = def;
    const cJSON *j = lookup_present(c, key);
    if (!j) return FV_STATUS_OK;
    if (!cJSON_IsBool(j)) return FV_STATUS_INVALID_ARGUMENT;
    *out = cJSON_IsTrue(j);
    return FV_STATUS_OK;
}

fv_status fv_config_string(const fv_config *c, const char *key, const char *def, const char **out)
{
    if (!out) return FV_STATUS_INVALID_ARGUMENT;
    *out = def;
    const cJSON *j = lookup_present(c, key);
    if (!j) return FV_STATUS_OK;
    if (!cJSON_IsString(j)) return FV_STATUS_INVALID_ARGUMENT;
    *out = j->valuestring;
    return FV_STATUS_OK;
}

fv_status fv_config_floats(const fv_config *c, const char *key, double *out, int capacity, int *count)
{
    if (!count || (capacity > 0 && !out)) return FV_STATUS_INVALID_ARGUMENT;
    *count = 0;
    const cJSON *j = lookup_present(c, key);
    if (!j) return FV_STATUS_OK;
    if (!cJSON_IsArray(j)) return FV_STATUS_INVALID_ARGUMENT;
    int n = 0;
    for (const cJSON *e = j->child; e; e = e->next, n++) {
        if (!cJSON_IsNumber(e)) return FV_STATUS_INVALID_ARGUMENT;
        if (n < capacity) out[n] = e->valuedouble;
    }
    *count = n;
    return FV_STATUS_OK;
}

const char *fv_config_value_text(const fv_config *c, const char *key, char *buf, size_t size)
{
    if (!size) return buf;
    buf[0] = 0;
    const cJSON *j = lookup(c, key);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    if (text) {
        snprintf(buf, size, "%s", text);
        cJSON_free(text);
    }
    return buf;
}
