/* Built when the OpenCL backend is disabled: the backend reports itself absent. */
#include "../internal.h"

const fv_backend_vtbl *fv_opencl_backend_get(void) { return NULL; }
