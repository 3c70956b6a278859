/* No reference kernels, whatever the CPU: every fixture case runs under the ONEDNN_MAX_CPU_ISA
 * this program was started with (tests/lib/meson.build registers it for SSE41, AVX2,
 * AVX512_CORE and the machine's own ISA), in f32, int8 and, where the CPU has it, bf16.  For
 * each, no primitive of the network may run on an implementation whose name starts with
 * "ref" (oneDNN's reference kernels, 100-700x slower: issue 18), and the outputs must still
 * match the PyTorch reference: f32 at the parity bar, bf16 at test-precision's, int8 at
 * INT8_REL_TOL (after calibrating on the case's own input, so that no activation is clipped:
 * what is left is the rounding of int8 weights and activations).  Checkpoints the library
 * refuses as UNSUPPORTED are skipped (they are test-parity's business). */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "convnext.h"
#include "convnext-testing.h"
#include "fixtures.h"

#define BF16_REL_TOL 5e-2
/* Measured on these cases: at most 2.0e-2 with VNNI/AMX, 3.4e-2 without (7-bit weights, int8.h);
 * the bar leaves 1.5x headroom. */
#define INT8_REL_TOL 5e-2

typedef struct {
  JsonObject *c;                /* the manifest case */
  ConvNextPrecision precision;
} Case;

static void
check_tensor (const Case *k, const char *what, const float *got, const char *ref_file)
{
  NpyArray ref;

  fixtures_load_npy (ref_file, &ref);
  if (k->precision == CONVNEXT_PRECISION_F32) {
    check_close (what, got, ref.data, ref.n_elements);
  } else {
    double tol = k->precision == CONVNEXT_PRECISION_BF16 ? BF16_REL_TOL : INT8_REL_TOL;
    const char *name = k->precision == CONVNEXT_PRECISION_BF16 ? "bf16" : "int8";
    double diff = max_abs_diff (got, ref.data, ref.n_elements);
    double scale = MAX (1.0, max_abs (ref.data, ref.n_elements));
    g_test_message ("%s %s: max|diff| = %.3g, relative %.2g (bar %.2g)", name, what, diff,
        diff / scale, tol);
    if (!(diff <= tol * scale))
      g_test_fail_printf ("%s %s: max|diff| = %.3g exceeds %.3g", name, what, diff, tol * scale);
  }
  npy_clear (&ref);
}

/* The int8 calibration of the model in @dir on @input, written to a new temporary file. */
static char *
calibrate (const char *dir, const NpyArray *input)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = convnext_model_new (dir, NULL, &error);
  g_autoptr (ConvNextCalibrator) cal = NULL;
  g_autofree char *tmp = NULL;
  char *path;

  g_assert_no_error (error);
  if (model == NULL)
    return NULL;
  cal = convnext_calibrator_new (model);
  g_assert_true (convnext_calibrator_add (cal, input->data, input->shape[0], input->shape[2],
          input->shape[3], &error));
  g_assert_no_error (error);
  tmp = g_dir_make_tmp ("test-isa-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (tmp, "int8_calibration.json", NULL);
  g_assert_true (convnext_calibrator_save (cal, path, &error));
  g_assert_no_error (error);
  return path;
}

static void
remove_calibration (char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  g_remove (path);
  g_rmdir (dir);
  g_free (path);
}

static void
test_case (gconstpointer data)
{
  const Case *k = data;
  g_autofree char *dir = fixtures_model_dir (json_object_get_string_member (k->c, "model"));
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = NULL;
  g_autoptr (ConvNextContext) ctx = NULL;
  g_auto (GStrv) primitives = NULL;
  g_autofree float *logits = NULL;
  g_autofree float *pooled = NULL;
  gboolean has_logits = !json_object_get_null_member (k->c, "logits");
  gboolean backbone = json_object_get_null_member (k->c, "pooler_output");
  JsonArray *map_files = json_object_has_member (k->c, "feature_maps")
      ? json_object_get_array_member (k->c, "feature_maps") : NULL;
  g_autoptr (GPtrArray) maps = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *calibration = NULL;
  ConvNextParams params;
  NpyArray input;
  guint n_ref = 0;

  fixtures_load_npy (json_object_get_string_member (k->c, "input"), &input);
  convnext_params_init (&params);
  params.n_threads = 1;
  params.precision = k->precision;
  if (k->precision == CONVNEXT_PRECISION_INT8) {
    g_autoptr (ConvNextModel) f32 = convnext_model_new (dir, NULL, &error);
    if (g_error_matches (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED)) {
      g_test_skip (error->message);
      npy_clear (&input);
      return;
    }
    g_clear_error (&error);
    calibration = calibrate (dir, &input);
    params.int8_calibration = calibration;
  }
  model = convnext_model_new (dir, &params, &error);
  if (calibration != NULL)
    remove_calibration (g_steal_pointer (&calibration));
  if (g_error_matches (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED)) {
    g_test_skip (error->message);
    npy_clear (&input);
    return;
  }
  g_assert_no_error (error);
  if (model == NULL) {
    npy_clear (&input);
    return;
  }

  guint n = input.shape[0], h = input.shape[2], w = input.shape[3];
  logits = has_logits ? g_new0 (float, n * convnext_model_get_num_labels (model)) : NULL;
  pooled = backbone ? NULL : g_new0 (float, n * convnext_model_get_hidden_size (model));
  ctx = convnext_context_new (model, &params);
  if (backbone) {              /* its outputs are the feature maps */
    for (guint i = 0; i < convnext_model_get_num_feature_maps (model); i++) {
      guint shape[4];
      g_assert_true (convnext_model_get_feature_map_shape (model, i, n, h, w, shape));
      g_ptr_array_add (maps, g_new0 (float, (gsize) shape[0] * shape[1] * shape[2] * shape[3]));
    }
    convnext_context_forward_features (ctx, input.data, n, h, w, (float *const *) maps->pdata,
        &error);
  } else {
    convnext_context_forward (ctx, input.data, n, h, w, logits, pooled, &error);
  }
  npy_clear (&input);
  g_assert_no_error (error);
  if (error != NULL)
    return;

  primitives = convnext_context_dup_primitives (ctx);
  g_assert_nonnull (primitives);
  for (guint i = 0; primitives != NULL && primitives[i] != NULL; i++) {
    const char *impl = strchr (primitives[i], '\t') + 1;
    if (g_str_has_prefix (impl, "ref")) {
      g_test_message ("reference kernel: %s", primitives[i]);
      n_ref++;
    }
  }
  g_test_message ("%u primitives, %u on reference kernels", g_strv_length (primitives), n_ref);
  if (n_ref > 0)
    g_test_fail_printf ("%u of %u primitives run on oneDNN's reference kernels", n_ref,
        g_strv_length (primitives));

  if (has_logits)
    check_tensor (k, "logits", logits, json_object_get_string_member (k->c, "logits"));
  if (!backbone)
    check_tensor (k, "pooler_output", pooled, json_object_get_string_member (k->c, "pooler_output"));
  for (guint i = 0; backbone && map_files != NULL && i < maps->len; i++) {
    g_autofree char *what = g_strdup_printf ("feature_maps[%u]", i);
    check_tensor (k, what, maps->pdata[i], json_array_get_string_element (map_files, i));
  }
}

int
main (int argc, char **argv)
{
  g_autofree char *isa = convnext_testing_cpu_isa ();
  JsonArray *cases;
  GPtrArray *keep = g_ptr_array_new_with_free_func (g_free);
  int status;

  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();
  /* The library warns about a reference kernel: let the test count them all instead of
   * aborting at the first (g_test_init makes warnings fatal). */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_message ("ONEDNN_MAX_CPU_ISA=%s: oneDNN runs on %s", g_getenv ("ONEDNN_MAX_CPU_ISA") ?: "(unset)",
      isa);

  cases = fixtures_cases ();
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    for (ConvNextPrecision p = CONVNEXT_PRECISION_F32; p <= CONVNEXT_PRECISION_INT8; p++) {
      const char *names[] = { "f32", "bf16", "int8" };
      Case *k = g_new (Case, 1);
      g_autofree char *path = g_strdup_printf ("/isa/%s/%s", json_object_get_string_member (c, "name"),
          names[p]);
      *k = (Case) { c, p };
      g_ptr_array_add (keep, k);
      g_test_add_data_func (path, k, test_case);
    }
  }
  status = g_test_run ();
  g_ptr_array_unref (keep);
  return status;
}
