/* Line charts as PNG files for the fovea tools (fovea eval's retention
 * plot): axes with ticks, one coloured line with markers per series, a
 * legend, and text drawn with a built-in 5x7 upper-case font. No font
 * files and no plotting library: the picture is rasterised here and
 * written through png_write.h. */
#ifndef FOVEA_TOOLS_PLOT_H
#define FOVEA_TOOLS_PLOT_H

#include <stdbool.h>

typedef struct fv_plot_series {
    const char *name;
    int count;
    const double *x, *y; /* count points, drawn in order */
} fv_plot_series;

typedef struct fv_plot_desc {
    const char *title, *x_label, *y_label;
    bool log_x;           /* logarithmic x axis (x > 0)                    */
    double x_min, x_max;  /* both 0: from the data                          */
    double y_min, y_max;  /* both 0: from the data, rounded out             */
    int width, height;    /* 0: 800 x 520                                   */
} fv_plot_desc;

/* Draws the series and writes an RGB PNG; non-zero on success. */
int fv_tool_plot_png(const char *path, const fv_plot_desc *desc, const fv_plot_series *series, int count);

#endif
