/* The tensors of a checkpoint, whatever file format holds them: model.safetensors,
 * pytorch_model.bin (torch.save's zip), or either sharded with a *.index.json.
 *
 * A ConvNextCheckpoint maps its files and indexes their tensors by name; a tensor's data
 * points into a mapping (the readers validate every offset against it) or, for a
 * compressed zip entry, into a copy the checkpoint owns.  Readers of each format fill it
 * through the functions at the end; the loader (weights.c) only sees ConvNextTensor. */
#pragma once

#include "convnext.h"

G_BEGIN_DECLS

typedef enum {
  CONVNEXT_DTYPE_F32,
  CONVNEXT_DTYPE_F16,
  CONVNEXT_DTYPE_BF16,
} ConvNextDType;

#define CONVNEXT_MAX_DIMS 8

typedef struct {
  const char *name;
  const char *path;             /* the file that holds it, for messages */
  ConvNextDType dtype;
  guint n_dims;
  guint64 shape[CONVNEXT_MAX_DIMS];
  guint64 strides[CONVNEXT_MAX_DIMS];   /* in elements; C order when contiguous */
  gboolean contiguous;          /* strides are C order: the elements are data[0, n_bytes) */
  guint64 n_elements;
  const guint8 *data;           /* element [0, …, 0], little-endian, possibly unaligned */
  gsize n_bytes;                /* n_elements × dtype size */
} ConvNextTensor;

typedef struct _ConvNextCheckpoint ConvNextCheckpoint;

/* The weights of Hugging Face model directory @dir, chosen as transformers'
 * from_pretrained chooses them: the first of model.safetensors,
 * model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json.
 * CONVNEXT_ERROR_IO (naming them all) when there is none. */
ConvNextCheckpoint *convnext_checkpoint_open_dir (const char *dir, GError **error);

/* One file: *.index.json (a sharded checkpoint: {"weight_map": {tensor: shard file}} with
 * the shards beside it), *.safetensors, else a torch.save file. */
ConvNextCheckpoint *convnext_checkpoint_open (const char *path, GError **error);
void convnext_checkpoint_free (ConvNextCheckpoint *ck);
/* An empty checkpoint named @path, for readers fed from memory (the fuzzers). */
ConvNextCheckpoint *convnext_checkpoint_new_empty (const char *path);

/* The file opened (the index for a sharded checkpoint). */
const char *convnext_checkpoint_get_path (const ConvNextCheckpoint *ck);
/* Returns: (nullable) (transfer none): the tensor called @name. */
const ConvNextTensor *convnext_checkpoint_lookup (const ConvNextCheckpoint *ck,
    const char *name);
/* Returns: (transfer container): every tensor name, sorted (const char *, borrowed). */
GPtrArray *convnext_checkpoint_list (const ConvNextCheckpoint *ck);
/* Drops the pages wholly inside [@data, @data + @n_bytes) from the resident set
 * (MADV_DONTNEED) if they belong to one of the mappings; the data stays valid and is read
 * back from the page cache when touched again. */
void convnext_checkpoint_release_pages (const ConvNextCheckpoint *ck, const void *data,
    gsize n_bytes);

const char *convnext_dtype_name (ConvNextDType dtype);
guint convnext_dtype_size (ConvNextDType dtype);

/* ---- for the format readers ---------------------------------------------------------- */

/* Maps @path read-only for the checkpoint's lifetime (IO error naming it otherwise). */
const guint8 *convnext_checkpoint_map (ConvNextCheckpoint *ck, const char *path, gsize *size,
    GError **error);
/* Adds a copy of @t (name and path are copied); INVALID_WEIGHTS if the name is taken. */
gboolean convnext_checkpoint_add (ConvNextCheckpoint *ck, const ConvNextTensor *t,
    GError **error);
/* Keeps @data (g_free'd with the checkpoint). */
void convnext_checkpoint_keep (ConvNextCheckpoint *ck, gpointer data);

/* Sets @error (CONVNEXT_ERROR, @code) to "<prefix>: <fmt…>"; returns FALSE.  The readers'
 * messages all take this form (error.c). */
gboolean convnext_set_error_valist (GError **error, ConvNextError code, const char *prefix,
    const char *fmt, va_list args);
/* Sets @error (CONVNEXT_ERROR, @code) to @message with any invalid UTF-8 replaced. */
void convnext_set_error_literal_utf8 (GError **error, ConvNextError code, const char *message);

/* safetensors.c */
gboolean convnext_safetensors_read (ConvNextCheckpoint *ck, const char *path, GError **error);
/* The same on @size bytes at @contents (borrowed: they must outlive @ck), named @path in
 * messages: what the safetensors fuzzer calls. */
gboolean convnext_safetensors_read_data (ConvNextCheckpoint *ck, const char *path,
    const guint8 *contents, gsize size, GError **error);
/* statedict.c */
gboolean convnext_torch_read (ConvNextCheckpoint *ck, const char *path, GError **error);
/* The same on @size bytes at @data (borrowed: they must outlive @ck): the torch fuzzer's. */
gboolean convnext_torch_read_data (ConvNextCheckpoint *ck, const char *path, const guint8 *data,
    gsize size, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextCheckpoint, convnext_checkpoint_free)

G_END_DECLS
