/* Shared by the loader and image tests (test_load.c, load_formats.c,
 * load_weights.c, load_images.c). Fixtures come from
 * tests/fixtures/make_load_fixtures.py. */
#ifndef FOVEA_TEST_LOAD_CASES_H
#define FOVEA_TEST_LOAD_CASES_H

#include "fovea/model.h"
#include "harness.h"

#define LT_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LT_MIN(a, b) ((a) < (b) ? (a) : (b))

/* Expects status `want` and, when `needle` is given, that the message
 * contains it (case-sensitive). */
void lt_expect_error(th_runner *r, const th_backend *b, const char *what, fv_status got, fv_status want,
                     const char *message, const char *needle);

/* Path of a fixture: "<fixtures>/<name>" in a static buffer per call slot. */
const char *lt_fixture(const char *name);
/* The folder of real photos, or NULL when absent. */
const char *lt_photos_dir(void);
/* A fresh temporary folder for the run, removed by lt_cleanup. */
const char *lt_tmpdir(void);
/* "<tmpdir>/<name>" */
const char *lt_tmp(const char *name);
void lt_cleanup(void);

/* Whole-file helpers; read returns a malloc'd buffer (NULL if unreadable). */
uint8_t *lt_read_file(const char *path, size_t *size);
bool lt_write_file(const char *path, const void *data, size_t size);

/* expected.txt: one tensor's values as the script wrote them. */
typedef struct lt_expected {
    char file[64], name[128];
    size_t n;
    double *v;
} lt_expected;
/* NULL when absent (which is a test failure at the caller). */
const lt_expected *lt_expected_find(const char *file, const char *name);

/* Independent decoders, for checking stored bytes. */
double lt_f16(uint16_t h);
double lt_bf16(uint16_t h);

void test_load_formats(th_runner *r);
void test_load_weights(th_runner *r, const th_backend *b);
void test_load_images(th_runner *r);
void test_load_images_backend(th_runner *r, const th_backend *b);

#endif
