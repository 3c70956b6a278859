/* A validated, memory-mapped safetensors file (https://github.com/huggingface/safetensors):
 * 8-byte little-endian header length N, N bytes of JSON, then the tensor data. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CONVNEXT_DTYPE_F32,
  CONVNEXT_DTYPE_F16,
  CONVNEXT_DTYPE_BF16,
} ConvNextDType;

#define CONVNEXT_SAFETENSORS_MAX_DIMS 8

typedef struct {
  const char *name;
  ConvNextDType dtype;
  guint n_dims;
  guint64 shape[CONVNEXT_SAFETENSORS_MAX_DIMS];
  guint64 n_elements;
  const guint8 *data;           /* inside the mapping, possibly unaligned */
  gsize n_bytes;
} ConvNextSafetensor;

typedef struct _ConvNextSafetensors ConvNextSafetensors;

/* Maps @path and checks the header as the reference library does: length ≤ 100 MB and
 * inside the file, a JSON object, known dtypes, shapes, end - begin == product(shape) ×
 * dtype size, and data_offsets that tile the data section (no overlap, hole or tail).
 * Errors are CONVNEXT_ERROR_IO or CONVNEXT_ERROR_INVALID_WEIGHTS and name the file (and
 * the tensor). */
ConvNextSafetensors *convnext_safetensors_open (const char *path, GError **error);
ConvNextSafetensors *convnext_safetensors_ref (ConvNextSafetensors *st);
void convnext_safetensors_unref (ConvNextSafetensors *st);

const char *convnext_safetensors_get_path (const ConvNextSafetensors *st);
/* Returns: (nullable) (transfer none): the tensor called @name. */
const ConvNextSafetensor *convnext_safetensors_lookup (const ConvNextSafetensors *st,
    const char *name);
/* Drops the pages wholly inside [@data, @data + @n_bytes) from the resident set
 * (MADV_DONTNEED) if they belong to the mapping; the data stays valid and is read back
 * from the page cache when touched again. */
void convnext_safetensors_release_pages (const ConvNextSafetensors *st, const void *data,
    gsize n_bytes);

const char *convnext_dtype_name (ConvNextDType dtype);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextSafetensors, convnext_safetensors_unref)

G_END_DECLS
