/* libFuzzer target: labels files (convnext_labels_parse). */
#include "fuzz.h"

#include <string.h>

#include "convnext.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  guint n;
  g_auto (GStrv) labels = convnext_labels_parse ("labels.txt", (const char *) data, size, &n,
      &error);

  fuzz_check (labels != NULL, error);
  if (labels != NULL) {
    /* n UTF-8 labels without a line break, then NULL */
    for (guint i = 0; i < n; i++)
      if (labels[i] == NULL || !g_utf8_validate (labels[i], -1, NULL) || strchr (labels[i], '\n'))
        abort ();
    if (labels[n] != NULL)
      abort ();
  }
  return 0;
}
