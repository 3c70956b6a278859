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
