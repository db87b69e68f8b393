/* Model files and images: the safetensors and GGUF readers (good files,
 * every way of damaging one), config.json, weight sets on every backend
 * (conversion to each dtype, shape checks, sharded directories), and the
 * image pipeline against Pillow.
 *
 *   ./test-load [filter]     filter: "formats", "weights", "images" or a
 *                            backend name */
#include "load_cases.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FV_LOAD_FIXTURES
#error "the build passes the fixture folder as FV_LOAD_FIXTURES"
#endif

/* ---- reporting ---------------------------------------------------------------- */

void lt_expect_error(th_runner *r, const th_backend *b, const char *what, fv_status got, fv_status want,
                     const char *message, const char *needle)
{
    bool ok = got == want && (!needle || (message && strstr(message, needle)));
    if (ok && getenv("FOVEA_TEST_VERBOSE")) printf("     %s\n", message ? message : "");
    th_expect(r, b, what, ok, "got %s \"%s\", want %s with \"%s\"", fv_status_name(got), message ? message : "",
              fv_status_name(want), needle ? needle : "");
}

/* ---- files ---------------------------------------------------------------------- */

const char *lt_fixture(const char *name)
{
    static char buf[4][1024];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", FV_LOAD_FIXTURES, name);
    return p;
}

const char *lt_photos_dir(void)
{
    const char *dir = getenv("FOVEA_TEST_IMAGES");
#ifdef FV_TEST_IMAGES
    if (!dir) dir = FV_TEST_IMAGES;
#endif
    struct stat sb;
    return dir && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) ? dir : NULL;
}

static char tmpdir[512];

const char *lt_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/fovea-load-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            fprintf(stderr, "cannot make a temporary folder\n");
            exit(2);
        }
    }
    return tmpdir;
}

const char *lt_tmp(const char *name)
{
    static char buf[4][1024];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", lt_tmpdir(), name);
    return p;
}

/* Removes the temporary folder and what the tests put in it (files, and
 * folders one level down). */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && depth < 2)
            remove_tree(p, depth + 1);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

void lt_cleanup(void)
{
    if (tmpdir[0]) remove_tree(tmpdir, 0);
    tmpdir[0] = 0;
}

uint8_t *lt_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)(n > 0 ? n : 1));
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p && size) *size = (size_t)n;
    return p;
}

bool lt_write_file(const char *path, const void *data, size_t size)
{
    /* A new file each time: truncating an existing one makes ext4 flush it
     * to disk on close (auto_da_alloc), which made the truncation sweeps
     * wait on the disk for tens of seconds. */
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* ---- expected values ---------------------------------------------------------------- */

static lt_expected *expected;
static size_t nexpected;

static void expected_load(void)
{
    size_t size;
    char *text = (char *)lt_read_file(lt_fixture("expected.txt"), &size);
    if (!text) return;
    text = realloc(text, size + 1);
    text[size] = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        lt_expected e = {0};
        int used = 0;
        unsigned long n = 0;
        if (sscanf(line, "%63s %127s %lu%n", e.file, e.name, &n, &used) != 3) continue;
        e.n = n;
        e.v = malloc((n ? n : 1) * sizeof *e.v);
        char *p = line + used;
        for (size_t i = 0; i < n; i++) e.v[i] = strtod(p, &p);
        expected = realloc(expected, (nexpected + 1) * sizeof *expected);
        expected[nexpected++] = e;
    }
    free(text);
}

const lt_expected *lt_expected_find(const char *file, const char *name)
{
    for (size_t i = 0; i < nexpected; i++)
        if (!strcmp(expected[i].file, file) && !strcmp(expected[i].name, name)) return &expected[i];
    return NULL;
}

double lt_f16(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}

double lt_bf16(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

int main(int argc, char **argv)
{
    th_runner r;
    bool ok = th_open(&r, argc, argv);
    expected_load();
    if (!nexpected) {
        printf("FAIL cannot read %s\n", lt_fixture("expected.txt"));
        r.failed++;
    }
    if (th_selected(&r, "formats")) test_load_formats(&r);
    if (th_selected(&r, "images")) test_load_images(&r);
    for (int i = 0; i < r.nbackends; i++) {
        const th_backend *b = &r.backends[i];
        bool any = !r.filter || strstr(b->name, r.filter);
        if (any || th_selected(&r, "weights")) test_load_weights(&r, b);
        if (any || th_selected(&r, "images")) test_load_images_backend(&r, b);
    }
    for (size_t i = 0; i < nexpected; i++) free(expected[i].v);
    free(expected);
    lt_cleanup();
    int code = th_close(&r);
    return ok ? code : 1;
}
