/* libFuzzer target: the .npy reader of convnext-classify --input-tensor (npy_parse). */
#include "fuzz.h"

#include "npy.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  NpyArray array;
  gboolean ok = npy_parse ("input.npy", (const char *) data, size, &array, &error);

  fuzz_check (ok, error);
  if (ok) {
    gsize n = 1;
    volatile float sum = 0;
    for (guint i = 0; i < array.n_dims; i++)
      n *= array.shape[i];
    if (n != array.n_elements || n * sizeof (float) > size)
      abort ();
    for (gsize i = 0; i < n; i++)
      sum += array.data[i];
    (void) sum;
  }
  npy_clear (&array);
  return 0;
}
