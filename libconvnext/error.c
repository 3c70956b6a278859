/* The error domain, the params defaults and the default model directory. */
#include "convnext.h"

#include "convnext-build-config.h"

G_DEFINE_QUARK (convnext-error-quark, convnext_error)

void
convnext_params_init (ConvNextParams *params)
{
  g_return_if_fail (params != NULL);

  *params = (ConvNextParams) {
    .n_threads = 0,
    .precision = CONVNEXT_PRECISION_F32,
    .output_hidden_states = FALSE,
  };
}

const char *
convnext_default_model_dir (void)
{
  const char *dir = g_getenv ("CONVNEXT_DEFAULT_MODEL");

  return dir != NULL && *dir != '\0' ? dir : CONVNEXT_DEFAULT_MODEL_DIR;
}
