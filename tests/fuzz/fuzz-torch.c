/* libFuzzer target: pytorch_model.bin as torch.save writes it (convnext_torch_read_data: the
 * zip container with minizip, the data.pkl unpickler, the state dict's tensors and storages),
 * then a read of every byte of every tensor it accepts.  The zip's CRC-32 checks stop most
 * mutations of the pickle inside: fuzz-pickle feeds the unpickler directly. */
#define CONVNEXT_FUZZ_CHECKPOINT
#include "fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextCheckpoint) ck = convnext_checkpoint_new_empty ("pytorch_model.bin");
  gboolean ok = convnext_torch_read_data (ck, "pytorch_model.bin", data, size, &error);

  fuzz_check (ok, error);
  if (ok)
    fuzz_touch_tensors (ck, NULL, 0);
  return 0;
}
