/* The error domain, the params defaults and the default model directory. */
#include "convnext.h"
#include "checkpoint.h"

#include "convnext-build-config.h"

G_DEFINE_QUARK (convnext-error-quark, convnext_error)

void
convnext_set_error_literal_utf8 (GError **error, ConvNextError code, const char *message)
{
  /* Messages quote bytes of the file (names, json-glib's tokens) and GError messages must be
   * UTF-8 (they reach GST_ELEMENT_ERROR, JSON, terminals): invalid sequences become U+FFFD. */
  g_autofree char *valid = g_utf8_make_valid (message, -1);

  g_set_error_literal (error, CONVNEXT_ERROR, code, valid);
}

gboolean
convnext_set_error_valist (GError **error, ConvNextError code, const char *prefix,
    const char *fmt, va_list args)
{
  g_autofree char *reason = g_strdup_vprintf (fmt, args);
  g_autofree char *message = g_strconcat (prefix, ": ", reason, NULL);

  convnext_set_error_literal_utf8 (error, code, message);
  return FALSE;
}

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
