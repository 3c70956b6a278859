/* Misused calls on a valid model: NULL handles, zero or too-small inputs, logits from a bare model,
 * label count mismatches, hidden states that were not kept.  Each returns a CONVNEXT_ERROR_INVALID_INPUT
 * (or NULL / 0 where the API says so), and the model stays usable afterwards. */
#include <math.h>
#include <string.h>

#include "convnext.h"
#include "fixtures.h"

/* patch_size 2, 3 stages: the input must be at least 8x8 (8 -> 4 -> 2 -> 1). */
#define MODEL "small-relu-p2"
#define BARE "bare-model"
#define BACKBONE "backbone-v1"      /* 4 stages, patch 4: out_features stem, stage2, stage4 */
#define CASE "small-relu-p2-b2-24x36"

static ConvNextModel *
load (const char *name, gboolean hidden_states)
{
  g_autofree char *dir = fixtures_model_dir (name);
  g_autoptr (GError) error = NULL;
  ConvNextParams params;
  convnext_params_init (&params);
  params.n_threads = 1;
  params.output_hidden_states = hidden_states;
  ConvNextModel *model = convnext_model_new (dir, &params, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

/* Expects forward on a zero-filled input of the given size to fail with INVALID_INPUT. */
static void
expect_invalid_forward (ConvNextModel *model, guint batch, guint height, guint width, gboolean want_logits)
{
  g_autoptr (GError) error = NULL;
  gsize n = (gsize) MAX (batch, 1) * convnext_model_get_num_channels (model) * MAX (height, 1) * MAX (width, 1);
  g_autofree float *pixels = g_new0 (float, n);
  g_autofree float *logits = g_new0 (float, MAX (batch, 1) * MAX (convnext_model_get_num_labels (model), 1));
  g_autofree float *pooled = g_new0 (float, MAX (batch, 1) * convnext_model_get_hidden_size (model));

  gboolean ok = convnext_model_forward (model, pixels, batch, height, width, want_logits ? logits : NULL,
      pooled, &error);
  if (error)
    g_test_message ("[%u, %u, %u]: %s", batch, height, width, error->message);
  g_assert_false (ok);
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
}

static void
test_free_null (void)
{
  convnext_model_free (NULL);
  convnext_preprocessor_free (NULL);
}

static void
test_params_null (void)
{
  g_autofree char *dir = fixtures_model_dir (MODEL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = convnext_model_new (dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
}

static void
test_forward_zero_batch (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  expect_invalid_forward (model, 0, 24, 36, TRUE);
}

static void
test_forward_zero_height (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  expect_invalid_forward (model, 1, 0, 36, TRUE);
}

static void
test_forward_zero_width (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  expect_invalid_forward (model, 1, 24, 0, TRUE);
}

static void
test_forward_smaller_than_patch (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  expect_invalid_forward (model, 1, 1, 1, TRUE);
}

static void
test_forward_too_small (void)
{
  /* 7x7 -> 3x3 -> 1x1 -> nothing left for the last downsampling (PyTorch refuses it too); 8x8 is the
   * smallest square input that works. */
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  expect_invalid_forward (model, 1, 7, 7, TRUE);
  expect_invalid_forward (model, 2, 64, 7, TRUE);

  g_autoptr (GError) error = NULL;
  float pixels[3 * 8 * 8] = { 0 }, logits[5], pooled[14];
  for (guint i = 0; i < G_N_ELEMENTS (pixels); i++)
    pixels[i] = (float) (i % 7) - 3.0f;
  g_assert_true (convnext_model_forward (model, pixels, 1, 8, 8, logits, pooled, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 5; i++)
    g_assert_true (isfinite (logits[i]));
}

static void
test_forward_logits_from_bare_model (void)
{
  g_autoptr (ConvNextModel) model = load (BARE, FALSE);
  if (!model)
    return;
  g_assert_cmpuint (convnext_model_get_num_labels (model), ==, 0);
  expect_invalid_forward (model, 1, 64, 64, TRUE);
}

/* After refused calls, a valid call still gives the reference outputs. */
static void
test_usable_after_errors (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  JsonArray *cases = fixtures_cases ();
  JsonObject *c = NULL;
  for (guint i = 0; i < json_array_get_length (cases); i++)
    if (g_str_equal (json_object_get_string_member (json_array_get_object_element (cases, i), "name"), CASE))
      c = json_array_get_object_element (cases, i);
  g_assert_nonnull (c);

  expect_invalid_forward (model, 0, 24, 36, TRUE);
  expect_invalid_forward (model, 1, 7, 7, TRUE);

  NpyArray input, ref_logits, ref_pooled;
  fixtures_load_npy (json_object_get_string_member (c, "input"), &input);
  fixtures_load_npy (json_object_get_string_member (c, "logits"), &ref_logits);
  fixtures_load_npy (json_object_get_string_member (c, "pooler_output"), &ref_pooled);
  g_autofree float *logits = g_new0 (float, ref_logits.n_elements);
  g_autofree float *pooled = g_new0 (float, ref_pooled.n_elements);
  g_autoptr (GError) error = NULL;
  if (convnext_model_forward (model, input.data, input.shape[0], input.shape[2], input.shape[3], logits,
          pooled, &error)) {
    check_close ("logits", logits, ref_logits.data, ref_logits.n_elements);
    check_close ("pooler_output", pooled, ref_pooled.data, ref_pooled.n_elements);
  }
  g_assert_no_error (error);
  npy_clear (&input);
  npy_clear (&ref_logits);
  npy_clear (&ref_pooled);
}

static void
test_set_labels_count_mismatch (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  g_autoptr (GError) error = NULL;
  const char *labels[] = { "a", "b", "c", "d", "e", "f" };

  g_assert_false (convnext_model_set_labels (model, labels, 6, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  if (error)
    g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (convnext_model_set_labels (model, labels, 4, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_assert_cmpstr (convnext_model_get_label (model, 0), ==, "LABEL_0");  /* unchanged */
}

static void
test_set_labels_on_bare_model (void)
{
  g_autoptr (ConvNextModel) model = load (BARE, FALSE);
  if (!model)
    return;
  g_autoptr (GError) error = NULL;
  const char *labels[] = { "a" };
  g_assert_false (convnext_model_set_labels (model, labels, 1, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_assert_null (convnext_model_get_label (model, 0));
}

static void
test_set_labels_copies (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  g_autoptr (GError) error = NULL;
  char *labels[5];
  for (guint i = 0; i < 5; i++)
    labels[i] = g_strdup_printf ("class %u", i);

  g_assert_true (convnext_model_set_labels (model, (const char *const *) labels, 5, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 5; i++) {
    labels[i][0] = 'X';
    g_free (labels[i]);
  }
  g_assert_cmpstr (convnext_model_get_label (model, 0), ==, "class 0");
  g_assert_cmpstr (convnext_model_get_label (model, 4), ==, "class 4");
  g_assert_null (convnext_model_get_label (model, 5));

  float logits[5] = { 0.f, 3.f, 1.f, 2.f, -1.f };
  ConvNextClass top[2];
  g_assert_cmpuint (convnext_model_top_k (model, logits, 2, top), ==, 2);
  g_assert_cmpuint (top[0].id, ==, 1);
  g_assert_cmpstr (top[0].label, ==, "class 1");
}

static void
test_top_k_bounds (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  float logits[5] = { 1.f, 1.f, 0.f, 1.f, -2.f };
  ConvNextClass top[5];

  g_assert_cmpuint (convnext_model_top_k (model, logits, 0, top), ==, 0);
  g_assert_cmpuint (convnext_model_top_k (model, logits, 100, top), ==, 5);
  /* Ties: lower id first. */
  g_assert_cmpuint (top[0].id, ==, 0);
  g_assert_cmpuint (top[1].id, ==, 1);
  g_assert_cmpuint (top[2].id, ==, 3);
  double sum = 0;
  for (guint i = 0; i < 5; i++)
    sum += top[i].score;
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
}

static void
expect_hidden_state_error (ConvNextModel *model, guint index)
{
  g_autoptr (GError) error = NULL;
  guint shape[4];
  g_assert_false (convnext_model_get_hidden_state (model, index, shape, NULL, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  if (error)
    g_test_message ("index %u: %s", index, error->message);
}

static void
run_once (ConvNextModel *model)
{
  float pixels[3 * 8 * 8] = { 0 }, logits[5], pooled[14];
  g_autoptr (GError) error = NULL;
  g_assert_true (convnext_model_forward (model, pixels, 1, 8, 8, logits, pooled, &error));
  g_assert_no_error (error);
}

static void
test_hidden_state_not_kept (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  if (!model)
    return;
  run_once (model);
  expect_hidden_state_error (model, 0);
}

static void
test_hidden_state_before_forward (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, TRUE);
  if (!model)
    return;
  expect_hidden_state_error (model, 0);
}

static void
test_hidden_state_out_of_range (void)
{
  g_autoptr (ConvNextModel) model = load (MODEL, TRUE);
  if (!model)
    return;
  run_once (model);
  g_assert_cmpuint (convnext_model_get_num_hidden_states (model), ==, 4);
  expect_hidden_state_error (model, 4);
  expect_hidden_state_error (model, G_MAXUINT);
}

/* A backbone has feature maps, not logits or pooler_output; other models have no feature maps. */
static void
test_backbone_outputs (void)
{
  g_autoptr (ConvNextModel) backbone = load (BACKBONE, FALSE);
  g_autoptr (ConvNextModel) model = load (MODEL, FALSE);
  g_autoptr (GError) error = NULL;
  g_autofree float *pixels = g_new0 (float, 3 * 64 * 64);
  g_autofree float *out = g_new0 (float, 64 * 64 * 64);
  float *maps[3] = { out, NULL, NULL };
  guint shape[4];

  g_assert_cmpuint (convnext_model_get_num_feature_maps (backbone), ==, 3);
  g_assert_cmpuint (convnext_model_get_num_feature_maps (model), ==, 0);
  g_assert_cmpuint (convnext_model_get_num_labels (backbone), ==, 0);
  g_assert_false (convnext_model_get_feature_map_shape (backbone, 3, 1, 64, 64, shape));
  g_assert_false (convnext_model_get_feature_map_shape (backbone, 0, 1, 16, 16, shape));  /* too small */
  g_assert_false (convnext_model_get_feature_map_shape (model, 0, 1, 64, 64, shape));

  g_assert_false (convnext_model_forward (backbone, pixels, 1, 64, 64, NULL, out, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (convnext_model_forward (backbone, pixels, 1, 64, 64, out, NULL, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_false (convnext_model_forward_features (model, pixels, 1, 64, 64, maps, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_false (convnext_model_forward_features (backbone, pixels, 1, 7, 7, maps, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  /* still usable: the stem map only */
  g_assert_true (convnext_model_forward_features (backbone, pixels, 1, 64, 64, maps, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();

  g_test_add_func ("/call-errors/free-null", test_free_null);
  g_test_add_func ("/call-errors/params-null", test_params_null);
  g_test_add_func ("/call-errors/forward-zero-batch", test_forward_zero_batch);
  g_test_add_func ("/call-errors/forward-zero-height", test_forward_zero_height);
  g_test_add_func ("/call-errors/forward-zero-width", test_forward_zero_width);
  g_test_add_func ("/call-errors/forward-smaller-than-patch", test_forward_smaller_than_patch);
  g_test_add_func ("/call-errors/forward-too-small", test_forward_too_small);
  g_test_add_func ("/call-errors/forward-logits-from-bare-model", test_forward_logits_from_bare_model);
  g_test_add_func ("/call-errors/usable-after-errors", test_usable_after_errors);
  g_test_add_func ("/call-errors/set-labels-count-mismatch", test_set_labels_count_mismatch);
  g_test_add_func ("/call-errors/set-labels-on-bare-model", test_set_labels_on_bare_model);
  g_test_add_func ("/call-errors/set-labels-copies", test_set_labels_copies);
  g_test_add_func ("/call-errors/top-k-bounds", test_top_k_bounds);
  g_test_add_func ("/call-errors/hidden-state-not-kept", test_hidden_state_not_kept);
  g_test_add_func ("/call-errors/hidden-state-before-forward", test_hidden_state_before_forward);
  g_test_add_func ("/call-errors/hidden-state-out-of-range", test_hidden_state_out_of_range);
  g_test_add_func ("/call-errors/backbone-outputs", test_backbone_outputs);

  return g_test_run ();
}
