/* Shared by the libFuzzer targets (tests/fuzz/README.md).  Each target parses one kind of file
 * from memory and checks the parser's contract, aborting (a crash to libFuzzer) when it is
 * broken: success XOR a GError, and an error message that is non-empty UTF-8 text (messages
 * reach GST_ELEMENT_ERROR, JSON and terminals).  Memory errors and undefined behaviour are
 * ASan's and UBSan's to catch. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static inline void
fuzz_check (gboolean ok, const GError *error)
{
  if (ok != (error == NULL)) {
    fprintf (stderr, "contract broken: %s %s\n", ok ? "success with an error:" : "failure without an error",
        error != NULL ? error->message : "");
    abort ();
  }
  if (error != NULL && (error->message == NULL || error->message[0] == '\0'
          || !g_utf8_validate (error->message, -1, NULL))) {
    fprintf (stderr, "error message empty or not UTF-8: %s\n", error->message ? error->message : "(null)");
    abort ();
  }
}

#ifdef CONVNEXT_FUZZ_CHECKPOINT
#include "checkpoint.h"

/* Reads every byte of every tensor of @ck: each must be inside the input (@data, @size) when
 * given, and readable in any case (ASan). */
static inline void
fuzz_touch_tensors (ConvNextCheckpoint *ck, const uint8_t *data, size_t size)
{
  g_autoptr (GPtrArray) names = convnext_checkpoint_list (ck);
  volatile guint8 sum = 0;

  for (guint i = 0; i < names->len; i++) {
    const ConvNextTensor *t = convnext_checkpoint_lookup (ck, names->pdata[i]);
    if (t == NULL || (data != NULL && t->n_bytes > 0
            && (t->data < data || t->data + t->n_bytes > data + size)))
      abort ();
    for (gsize j = 0; j < t->n_bytes; j++)
      sum += t->data[j];
    if (!t->contiguous && t->n_elements > 0) {
      /* a strided view: its farthest element, as the loader's odometer reaches it */
      guint64 last = 0;
      for (guint d = 0; d < t->n_dims; d++)
        last += (t->shape[d] - 1) * t->strides[d];
      for (guint b = 0; b < convnext_dtype_size (t->dtype); b++)
        sum += t->data[last * convnext_dtype_size (t->dtype) + b];
    }
  }
  (void) sum;
}
#endif
