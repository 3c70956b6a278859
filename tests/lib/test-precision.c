/* Property: CONVNEXT_PRECISION_BF16 stays close to the float reference.
 *
 * bf16 keeps 8 significant bits, so the bar is loose: max |Δ| <= BF16_REL_TOL · max (1, max |ref|) on
 * logits and pooler_output of the tiny-shaped F32 fixture (and of the V2 one).  Simulating bf16 inputs to every convolution
 * and matmul (f32 accumulation) in the PyTorch reference gives 0.7 % on these cases; the bar leaves 7x
 * headroom for bf16 activations between primitives.  The top-1 class must agree wherever the reference's
 * top-2 margin exceeds twice the bar.  Skipped where the CPU has no bf16 (CONVNEXT_ERROR_UNSUPPORTED). */
#include <math.h>

#include "convnext.h"
#include "fixtures.h"

#define BF16_REL_TOL 5e-2

static guint
argmax (const float *v, guint n)
{
  guint best = 0;
  for (guint i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

static void
check_loose (const char *what, const float *got, const float *ref, gsize n)
{
  double diff = max_abs_diff (got, ref, n), scale = max_abs (ref, n);
  double bound = BF16_REL_TOL * MAX (1.0, scale);
  g_test_message ("bf16 %s: max|diff| = %.3g, max|ref| = %.3g, relative %.2g (bar %.2g)", what, diff, scale,
      diff / MAX (1.0, scale), BF16_REL_TOL);
  if (!(diff <= bound))
    g_test_fail_printf ("bf16 %s: max|diff| = %.3g exceeds %.3g", what, diff, bound);
}

static void
test_bf16 (gconstpointer data)
{
  const char *case_name = data;
  JsonObject *c = NULL;
  JsonArray *cases = fixtures_cases ();
  for (guint i = 0; i < json_array_get_length (cases); i++)
    if (g_str_equal (json_object_get_string_member (json_array_get_object_element (cases, i), "name"), case_name))
      c = json_array_get_object_element (cases, i);
  g_assert_nonnull (c);

  g_autofree char *dir = fixtures_model_dir (json_object_get_string_member (c, "model"));
  g_autoptr (GError) error = NULL;
  ConvNextParams params;
  convnext_params_init (&params);
  params.n_threads = 1;
  params.precision = CONVNEXT_PRECISION_BF16;
  g_autoptr (ConvNextModel) model = convnext_model_new (dir, &params, &error);
  if (g_error_matches (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED)) {
    g_test_skip (error->message);
    return;
  }
  g_assert_no_error (error);
  if (!model)
    return;

  NpyArray input, ref_logits, ref_pooled;
  fixtures_load_npy (json_object_get_string_member (c, "input"), &input);
  fixtures_load_npy (json_object_get_string_member (c, "logits"), &ref_logits);
  fixtures_load_npy (json_object_get_string_member (c, "pooler_output"), &ref_pooled);
  g_autofree float *logits = g_new0 (float, ref_logits.n_elements);
  g_autofree float *pooled = g_new0 (float, ref_pooled.n_elements);
  gboolean ok = convnext_model_forward (model, input.data, input.shape[0], input.shape[2], input.shape[3],
      logits, pooled, &error);
  if (g_error_matches (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED)) {
    g_test_skip (error->message);
    ok = FALSE;
  } else {
    g_assert_no_error (error);
  }
  if (ok) {
    check_loose ("logits", logits, ref_logits.data, ref_logits.n_elements);
    check_loose ("pooler_output", pooled, ref_pooled.data, ref_pooled.n_elements);

    guint n = ref_logits.shape[1];
    double bound = BF16_REL_TOL * MAX (1.0, max_abs (ref_logits.data, ref_logits.n_elements));
    for (guint b = 0; b < ref_logits.shape[0]; b++) {
      const float *r = ref_logits.data + (gsize) b * n;
      guint top = argmax (r, n);
      double margin = INFINITY;
      for (guint i = 0; i < n; i++)
        if (i != top)
          margin = MIN (margin, (double) r[top] - r[i]);
      if (margin > 2 * bound)
        g_assert_cmpuint (argmax (logits + (gsize) b * n, n), ==, top);
    }
  }
  npy_clear (&input);
  npy_clear (&ref_logits);
  npy_clear (&ref_pooled);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();

  g_test_add_data_func ("/precision/bf16/tiny-f32-b1-64x64", "tiny-f32-b1-64x64", test_bf16);
  g_test_add_data_func ("/precision/bf16/tiny-f32-b3-48x40", "tiny-f32-b3-48x40", test_bf16);
  /* ConvNeXt V2: GRN's statistics come from bf16 activations */
  g_test_add_data_func ("/precision/bf16/v2-f32-b2-64x48", "v2-f32-b2-64x48", test_bf16);

  return g_test_run ();
}
