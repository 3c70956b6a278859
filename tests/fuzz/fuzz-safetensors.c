/* libFuzzer target: the safetensors header parser (convnext_safetensors_new_from_data), and a
 * lookup and read of every tensor it accepts. */
#include "fuzz.h"

#include "safetensors.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextSafetensors) st =
      convnext_safetensors_new_from_data ("fuzz.safetensors", data, size, &error);
  static const char *names[] = { "a", "classifier.weight", "convnext.embeddings.patch_embeddings.weight" };

  fuzz_check (st != NULL, error);
  for (guint i = 0; st != NULL && i < G_N_ELEMENTS (names); i++) {
    const ConvNextSafetensor *t = convnext_safetensors_lookup (st, names[i]);
    volatile guint8 sum = 0;
    /* every byte the header promised must be inside the input */
    for (gsize j = 0; t != NULL && j < t->n_bytes; j++)
      sum += t->data[j];
    (void) sum;
  }
  return 0;
}
