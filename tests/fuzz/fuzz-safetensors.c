/* libFuzzer target: the safetensors reader (convnext_safetensors_read_data: header checks,
 * layout), then a read of every byte of every tensor it accepts. */
#define CONVNEXT_FUZZ_CHECKPOINT
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextCheckpoint) ck = convnext_checkpoint_new_empty ("fuzz.safetensors");
  gboolean ok = convnext_safetensors_read_data (ck, "fuzz.safetensors", data, size, &error);

  fuzz_check (ok, error);
  if (ok)
    fuzz_touch_tensors (ck, data, size);
  return 0;
}
