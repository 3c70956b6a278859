/* libFuzzer target: preprocessor_config.json (convnext_preprocess_config_parse), then the
 * pixel value map it promises to keep finite. */
#include "fuzz.h"

#include <math.h>

#include "preprocess/preprocess-private.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  ConvNextPreprocessConfig cfg;
  gboolean ok = convnext_preprocess_config_parse (&cfg, "preprocessor_config.json",
      (const char *) data, size, &error);

  fuzz_check (ok, error);
  if (ok) {
    if (cfg.shortest_edge < 1 || cfg.shortest_edge > CONVNEXT_PREPROCESS_MAX_SIZE
        || cfg.resample > CONVNEXT_RESAMPLE_HAMMING || !(cfg.crop_pct > 0))
      abort ();
    for (guint c = 0; c < 3; c++)
      for (guint v = 0; v < 256; v++)
        if (!isfinite (convnext_preprocess_normalize (&cfg, c, v)))
          abort ();
  }
  return 0;
}
