/* Line charts rasterised in memory and written as PNG (see plot.h). */
#include "plot.h"

#include "png_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 5x7 font: seven rows per glyph, bit 4 the leftmost pixel. Lower-case
 * letters are drawn as capitals; anything missing is drawn as a box. */
typedef struct glyph {
    char c;
    unsigned char rows[7];
} glyph;

static const glyph font[] = {
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}}, {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}}, {'D', {0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}}, {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}}, {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}}, {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}}, {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}}, {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}}, {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}}, {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}}, {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}}, {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}}, {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}}, {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}}, {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}}, {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}}, {' ', {0, 0, 0, 0, 0, 0, 0}},
};

static const unsigned char *glyph_rows(char c)
{
    static const unsigned char box[7] = {0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F};
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
        if (font[i].c == c) return font[i].rows;
    return box;
}

typedef struct canvas {
    int w, h;
    unsigned char *rgb;
} canvas;

static void put(canvas *cv, int x, int y, const unsigned char c[3])
{
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h) return;
    memcpy(cv->rgb + ((size_t)y * cv->w + x) * 3, c, 3);
}

static void fill(canvas *cv, int x0, int y0, int x1, int y1, const unsigned char c[3])
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(cv, x, y, c);
}

/* Bresenham with a square brush of `thick` pixels. */
static void line(canvas *cv, int x0, int y0, int x1, int y1, int thick, const unsigned char c[3])
{
    const int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        fill(cv, x0 - thick / 2, y0 - thick / 2, x0 + (thick - 1) / 2, y0 + (thick - 1) / 2, c);
        if (x0 == x1 && y0 == y1) break;
        const int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

/* Text at (x, y) = top-left corner, each font pixel drawn as scale x scale.
 * vertical: rotated 90 degrees counter-clockwise, reading bottom to top,
 * (x, y) then being the bottom-left corner. Returns the advance in pixels. */
static int text(canvas *cv, int x, int y, const char *s, int scale, bool vertical, const unsigned char c[3])
{
    int pen = 0;
    for (; *s; s++, pen += 6 * scale) {
        const unsigned char *rows = glyph_rows(*s);
        for (int r = 0; r < 7; r++)
            for (int b = 0; b < 5; b++) {
                if (!(rows[r] & (0x10 >> b))) continue;
                const int gx = pen + b * scale, gy = r * scale;
                if (vertical)
                    fill(cv, x + gy, y - gx - scale + 1, x + gy + scale - 1, y - gx, c);
                else
                    fill(cv, x + gx, y + gy, x + gx + scale - 1, y + gy + scale - 1, c);
            }
    }
    return pen;
}

static int text_width(const char *s, int scale) { return (int)strlen(s) * 6 * scale; }

/* Distinct line colours (a qualitative palette chosen for contrast on white). */
static const unsigned char palette[][3] = {
    {31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {255, 127, 14}, {148, 103, 189}, {140, 86, 75},
    {227, 119, 194}, {90, 90, 90}, {188, 189, 34}, {23, 190, 207}, {0, 0, 128}, {128, 0, 0},
};

/* Round numbers for axis ticks: 1, 2 or 5 times a power of ten. */
static double nice_step(double span, int want)
{
    const double raw = span / (want > 0 ? want : 1), p = pow(10.0, floor(log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static void format_tick(char *buf, size_t n, double v)
{
    if (fabs(v) >= 100 || fabs(v - round(v)) < 1e-9)
        snprintf(buf, n, "%.0f", v);
    else if (fabs(v * 100 - round(v * 100)) < 1e-6)
        snprintf(buf, n, "%.2g", v);
    else
        snprintf(buf, n, "%.3g", v);
}

int fv_tool_plot_png(const char *path, const fv_plot_desc *desc, const fv_plot_series *series, int count)
{
    const unsigned char black[3] = {0, 0, 0}, grey[3] = {225, 225, 225};
    canvas cv = {desc->width > 0 ? desc->width : 800, desc->height > 0 ? desc->height : 520, NULL};
    cv.rgb = malloc((size_t)cv.w * cv.h * 3);
    if (!cv.rgb) return 0;
    memset(cv.rgb, 255, (size_t)cv.w * cv.h * 3);

    /* data range */
    double x0 = desc->x_min, x1 = desc->x_max, y0 = desc->y_min, y1 = desc->y_max;
    const bool auto_x = x0 == 0 && x1 == 0, auto_y = y0 == 0 && y1 == 0;
    if (auto_x) { x0 = INFINITY; x1 = -INFINITY; }
    if (auto_y) { y0 = INFINITY; y1 = -INFINITY; }
    for (int s = 0; s < count; s++)
        for (int i = 0; i < series[s].count; i++) {
            const double x = series[s].x[i], y = series[s].y[i];
            if (!isfinite(x) || !isfinite(y) || (desc->log_x && x <= 0)) continue;
            if (auto_x) { x0 = fmin(x0, x); x1 = fmax(x1, x); }
            if (auto_y) { y0 = fmin(y0, y); y1 = fmax(y1, y); }
        }
    if (!(x0 < x1)) { x0 = isfinite(x0) ? x0 * 0.5 : 0.5; x1 = isfinite(x1) ? x1 * 2 : 1; }
    if (!(y0 < y1)) { y0 = isfinite(y0) ? y0 - 1 : 0; y1 = isfinite(y1) ? y1 + 1 : 1; }
    const double ystep = nice_step(y1 - y0, 6);
    if (auto_y) { y0 = floor(y0 / ystep) * ystep; y1 = ceil(y1 / ystep) * ystep; }
    const double lx0 = desc->log_x ? log(x0) : x0, lx1 = desc->log_x ? log(x1) : x1;

    /* plot area */
    const int left = 90, right = cv.w - 200, top = 50, bottom = cv.h - 70;
#define PX(x) (left + (int)lround(((desc->log_x ? log(x) : (x)) - lx0) / (lx1 - lx0) * (right - left)))
#define PY(y) (bottom - (int)lround(((y) - y0) / (y1 - y0) * (bottom - top)))
    char buf[64];
    for (double y = y0; y <= y1 + ystep * 1e-6; y += ystep) {
        line(&cv, left, PY(y), right, PY(y), 1, grey);
        format_tick(buf, sizeof buf, y);
        text(&cv, left - 8 - text_width(buf, 2), PY(y) - 7, buf, 2, false, black);
    }
    /* x ticks: the data's own x values (the budgets), deduplicated */
    double ticks[64];
    int nticks = 0;
    for (int s = 0; s < count; s++)
        for (int i = 0; i < series[s].count && nticks < 64; i++) {
            const double x = series[s].x[i];
            if (!isfinite(x) || x < x0 || x > x1) continue;
            bool seen = false;
            for (int t = 0; t < nticks; t++) seen |= fabs(ticks[t] - x) <= 1e-9 * fabs(x);
            if (!seen) ticks[nticks++] = x;
        }
    for (int t = 0; t < nticks; t++) {
        const int px = PX(ticks[t]);
        line(&cv, px, top, px, bottom, 1, grey);
        format_tick(buf, sizeof buf, ticks[t]);
        text(&cv, px - text_width(buf, 2) / 2, bottom + 12, buf, 2, false, black);
    }
    line(&cv, left, bottom, right, bottom, 2, black);
    line(&cv, left, top, left, bottom, 2, black);

    for (int s = 0; s < count; s++) {
        const unsigned char *c = palette[s % (int)(sizeof palette / sizeof palette[0])];
        int px = 0, py = 0;
        bool have = false;
        for (int i = 0; i < series[s].count; i++) {
            const double x = series[s].x[i], y = series[s].y[i];
            if (!isfinite(x) || !isfinite(y) || (desc->log_x && x <= 0)) { have = false; continue; }
            const int qx = PX(x), qy = PY(y);
            if (have) line(&cv, px, py, qx, qy, 3, c);
            fill(&cv, qx - 3, qy - 3, qx + 3, qy + 3, c);
            px = qx; py = qy; have = true;
        }
        /* legend entry */
        const int ly = top + 10 + s * 22;
        line(&cv, right + 20, ly + 7, right + 50, ly + 7, 3, c);
        text(&cv, right + 58, ly, series[s].name ? series[s].name : "", 2, false, black);
    }
#undef PX
#undef PY
    if (desc->title) text(&cv, (cv.w - text_width(desc->title, 2)) / 2, 14, desc->title, 2, false, black);
    if (desc->x_label)
        text(&cv, left + (right - left - text_width(desc->x_label, 2)) / 2, cv.h - 32, desc->x_label, 2, false,
             black);
    if (desc->y_label)
        text(&cv, 16, top + (bottom - top + text_width(desc->y_label, 2)) / 2, desc->y_label, 2, true, black);
    const int ok = fv_tool_write_png(path, cv.w, cv.h, cv.rgb);
    free(cv.rgb);
    return ok;
}
