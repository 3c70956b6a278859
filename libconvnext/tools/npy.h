/* The .npy format (numpy.lib.format, versions 1.0-3.0) for little-endian float32 arrays in
 * C order: what `numpy.save` writes for np.float32 data. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NPY_MAX_DIMS 8

typedef struct {
  guint n_dims;
  gsize shape[NPY_MAX_DIMS];
  gsize n_elements;
  float *data;
} NpyArray;

/* Reads a '<f4' C-order array; errors (G_FILE_ERROR or G_IO_ERROR_INVALID_DATA) name @path. */
gboolean npy_load (const char *path, NpyArray *array, GError **error);
/* The same on @length bytes of @contents read from @path (only named in messages). */
gboolean npy_parse (const char *path, const char *contents, gsize length, NpyArray *array,
    GError **error);
/* Writes @data with @shape as a version 1.0 '<f4' .npy file. */
gboolean npy_save (const char *path, guint n_dims, const gsize *shape, const float *data,
    GError **error);
void npy_clear (NpyArray *array);

G_END_DECLS
