/* libFuzzer target: config.json (convnext_config_parse). */
#include "fuzz.h"

#include "convnext-private.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextConfig) cfg = convnext_config_parse ("config.json", (const char *) data,
      size, &error);

  fuzz_check (cfg != NULL, error);
  if (cfg != NULL) {
    /* what the loaders read next: the sizes of every stage, each label */
    volatile guint sum = 0;
    for (guint s = 0; s < cfg->num_stages; s++)
      sum += cfg->hidden_sizes[s] + cfg->depths[s];
    (void) sum;
    for (guint i = 0; i < cfg->n_labels; i++)
      if (cfg->labels[i] == NULL || !g_utf8_validate (cfg->labels[i], -1, NULL))
        abort ();
    if (cfg->labels[cfg->n_labels] != NULL)
      abort ();
    for (guint i = 0; i < cfg->n_out_indices; i++)
      if (cfg->out_indices[i] > cfg->num_stages)
        abort ();
  }
  return 0;
}
