/* A safe-subset unpickler for the data.pkl of a PyTorch state dict.
 *
 * It executes nothing: it builds a tree of plain values, in which a REDUCE is recorded as a
 * call (the callable and its arguments) for the caller to interpret, and a persistent id as
 * a marked value.  Only the opcodes a state dict needs are understood (see pickle.c), and
 * GLOBAL/STACK_GLOBAL may only name the allowlisted callables below: any other global is an
 * error that names it, raised when the opcode is read, before anything further is built.
 * Memory and nesting are bounded (see pickle.c).  Errors are CONVNEXT_ERROR_INVALID_WEIGHTS
 * (or UNSUPPORTED for a storage type of an unsupported dtype) naming @what and the offset. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CONVNEXT_PICKLE_NONE,
  CONVNEXT_PICKLE_BOOL,
  CONVNEXT_PICKLE_INT,
  CONVNEXT_PICKLE_STRING,       /* str: valid UTF-8, no NUL byte */
  CONVNEXT_PICKLE_TUPLE,
  CONVNEXT_PICKLE_DICT,         /* {} or collections.OrderedDict (): keys and values in order */
  CONVNEXT_PICKLE_GLOBAL,       /* an allowlisted callable */
  CONVNEXT_PICKLE_CALL,         /* REDUCE of a global on an argument tuple, not carried out */
  CONVNEXT_PICKLE_PERSID,       /* BINPERSID: a persistent id (torch: a storage reference) */
} ConvNextPickleKind;

/* The allowlist (what torch.save writes for a state dict of F32/F16/BF16 tensors). */
typedef enum {
  CONVNEXT_PICKLE_ORDERED_DICT,         /* collections.OrderedDict */
  CONVNEXT_PICKLE_REBUILD_TENSOR_V2,    /* torch._utils._rebuild_tensor_v2 */
  CONVNEXT_PICKLE_REBUILD_PARAMETER,    /* torch._utils._rebuild_parameter */
  CONVNEXT_PICKLE_FLOAT_STORAGE,        /* torch.FloatStorage */
  CONVNEXT_PICKLE_HALF_STORAGE,         /* torch.HalfStorage */
  CONVNEXT_PICKLE_BFLOAT16_STORAGE,     /* torch.BFloat16Storage */
} ConvNextPickleGlobal;

typedef struct _ConvNextPickleValue ConvNextPickleValue;

struct _ConvNextPickleValue {
  ConvNextPickleKind kind;
  guint depth;                  /* 1 for a scalar, 1 + the deepest item for a container */
  gint64 i;                     /* BOOL, INT */
  const char *s;                /* STRING */
  ConvNextPickleGlobal global;  /* GLOBAL */
  /* TUPLE: the items; DICT: key, value, key, value…; CALL: the GLOBAL, then the argument
   * TUPLE; PERSID: the id */
  ConvNextPickleValue **items;
  guint n_items;
  guint room;
  gboolean shared;              /* fetched from the memo: a dict can no longer be filled */
};

typedef struct _ConvNextPickle ConvNextPickle;

/* Unpickles @data[0, @size) (protocols 2 to 5 as torch.save writes them); @what names the
 * stream in messages (e.g. "pytorch_model.bin, entry archive/data.pkl"). */
ConvNextPickle *convnext_pickle_load (const guint8 *data, gsize size, const char *what,
    GError **error);
void convnext_pickle_free (ConvNextPickle *pickle);
/* The value STOP returned; lives as long as @pickle. */
const ConvNextPickleValue *convnext_pickle_get_root (const ConvNextPickle *pickle);

/* "torch._utils._rebuild_tensor_v2" etc. */
const char *convnext_pickle_global_name (ConvNextPickleGlobal global);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextPickle, convnext_pickle_free)

G_END_DECLS
