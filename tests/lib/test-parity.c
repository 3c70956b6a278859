/* Parity: libconvnext against the PyTorch reference outputs recorded in tests/fixtures/.
 *
 * For every case of manifest.json: logits and pooler_output (/parity/<case>/outputs), a backbone's
 * feature maps (/parity/<case>/feature-maps), every hidden
 * state (/parity/<case>/hidden-states) and softmax top-k with labels (/parity/<case>/top-k); for every
 * model, what the getters report (/parity/model/<model>).  Bar: max |Δ| <= 1e-4 · max (1, max |ref|)
 * per tensor.  The measured numbers are logged as TAP comments. */
#include <math.h>
#include <string.h>

#include "convnext.h"
#include "fixtures.h"

#define TOP_K 5

static guint
int_member (JsonObject *o, const char *key)
{
  return (guint) json_object_get_int_member (o, key);
}

/* Loads fixture model @name; NULL (test marked failed) if the engine refuses it. */
static ConvNextModel *
load_model (const char *name, guint n_threads, gboolean hidden_states)
{
  g_autofree char *dir = fixtures_model_dir (name);
  ConvNextParams params;
  g_autoptr (GError) error = NULL;

  convnext_params_init (&params);
  params.n_threads = n_threads;
  params.output_hidden_states = hidden_states;
  ConvNextModel *model = convnext_model_new (dir, &params, &error);
  if (!model)
    g_test_fail_printf ("convnext_model_new (%s): %s", dir, error ? error->message : "NULL without error");
  else if (error)
    g_test_fail_printf ("convnext_model_new (%s) set an error but succeeded", dir);
  return model;
}

/* Runs @c's input through @model; @logits / @pooled get g_new'd outputs (logits NULL for a bare
 * model or a backbone, pooled NULL for a backbone; a backbone's feature maps go to @maps, or
 * nowhere if it is NULL).  FALSE (test marked failed) if the forward call fails. */
static gboolean
forward_case_maps (ConvNextModel *model, JsonObject *c, float **logits, float **pooled, float **maps)
{
  NpyArray input;
  g_autoptr (GError) error = NULL;
  g_autofree float **none = NULL;
  gboolean ok;

  fixtures_load_npy (json_object_get_string_member (c, "input"), &input);
  g_assert_cmpuint (input.n_dims, ==, 4);
  guint n = input.shape[0], h = input.shape[2], w = input.shape[3];
  guint num_labels = convnext_model_get_num_labels (model);
  *logits = num_labels ? g_new0 (float, n * num_labels) : NULL;
  *pooled = NULL;
  if (convnext_model_get_num_feature_maps (model) > 0) {
    none = g_new0 (float *, convnext_model_get_num_feature_maps (model));
    ok = convnext_model_forward_features (model, input.data, n, h, w, maps ? maps : none, &error);
  } else {
    *pooled = g_new0 (float, n * convnext_model_get_hidden_size (model));
    ok = convnext_model_forward (model, input.data, n, h, w, *logits, *pooled, &error);
  }
  if (!ok)
    g_test_fail_printf ("convnext_model_forward ([%u,%u,%u,%u]): %s", n, (guint) input.shape[1], h, w,
        error ? error->message : "FALSE without error");
  npy_clear (&input);
  return ok;
}

static gboolean
forward_case (ConvNextModel *model, JsonObject *c, float **logits, float **pooled)
{
  return forward_case_maps (model, c, logits, pooled, NULL);
}

/* Compares the outputs of one forward call of @c with the recorded ones. */
static void
check_outputs (JsonObject *c, const float *logits, const float *pooled, const char *tag)
{
  NpyArray ref;
  g_autofree char *what = NULL;

  if (!json_object_get_null_member (c, "logits") && !logits) {
    g_test_fail_printf ("the model reports no labels, so no logits");
  } else if (!json_object_get_null_member (c, "logits")) {
    fixtures_load_npy (json_object_get_string_member (c, "logits"), &ref);
    what = g_strdup_printf ("%s%slogits", tag, *tag ? " " : "");
    check_close (what, logits, ref.data, ref.n_elements);
    npy_clear (&ref);
    g_clear_pointer (&what, g_free);
  }
  if (json_object_get_null_member (c, "pooler_output"))   /* a backbone */
    return;
  fixtures_load_npy (json_object_get_string_member (c, "pooler_output"), &ref);
  what = g_strdup_printf ("%s%spooler_output", tag, *tag ? " " : "");
  check_close (what, pooled, ref.data, ref.n_elements);
  npy_clear (&ref);
}

/* A backbone's feature maps, with the shapes the getter reports. */
static void
test_feature_maps (gconstpointer data)
{
  JsonObject *c = (JsonObject *) data;
  g_autoptr (ConvNextModel) model = load_model (json_object_get_string_member (c, "model"), 1, FALSE);
  JsonArray *files = json_object_get_array_member (c, "feature_maps");
  JsonArray *shapes = json_object_get_array_member (c, "feature_map_shapes");
  JsonArray *in = json_object_get_array_member (c, "input_shape");
  guint n = json_array_get_length (files);
  g_autofree float **maps = g_new0 (float *, n);
  g_autofree float *logits = NULL;
  g_autofree float *pooled = NULL;

  if (!model)
    return;
  g_assert_cmpuint (convnext_model_get_num_feature_maps (model), ==, n);
  for (guint k = 0; k < n; k++) {
    JsonArray *want = json_array_get_array_element (shapes, k);
    guint shape[4];
    g_assert_true (convnext_model_get_feature_map_shape (model, k, json_array_get_int_element (in, 0),
            json_array_get_int_element (in, 2), json_array_get_int_element (in, 3), shape));
    for (guint d = 0; d < 4; d++)
      g_assert_cmpuint (shape[d], ==, json_array_get_int_element (want, d));
    maps[k] = g_new0 (float, (gsize) shape[0] * shape[1] * shape[2] * shape[3]);
  }
  g_assert_false (convnext_model_get_feature_map_shape (model, n, 1, 64, 64, (guint[4]) { 0 }));
  if (forward_case_maps (model, c, &logits, &pooled, maps)) {
    for (guint k = 0; k < n; k++) {
      NpyArray ref;
      g_autofree char *what = g_strdup_printf ("feature_maps[%u]", k);
      fixtures_load_npy (json_array_get_string_element (files, k), &ref);
      check_close (what, maps[k], ref.data, ref.n_elements);
      npy_clear (&ref);
    }
  }
  for (guint k = 0; k < n; k++)
    g_free (maps[k]);
}

static void
test_outputs (gconstpointer data)
{
  JsonObject *c = (JsonObject *) data;
  g_autoptr (ConvNextModel) model = load_model (json_object_get_string_member (c, "model"), 1, FALSE);
  g_autofree float *logits = NULL;
  g_autofree float *pooled = NULL;

  if (model && forward_case (model, c, &logits, &pooled))
    check_outputs (c, logits, pooled, "");
}

static void
test_hidden_states (gconstpointer data)
{
  JsonObject *c = (JsonObject *) data;
  g_autoptr (ConvNextModel) model = load_model (json_object_get_string_member (c, "model"), 1, TRUE);
  g_autofree float *logits = NULL;
  g_autofree float *pooled = NULL;
  JsonArray *files = json_object_get_array_member (c, "hidden_states");
  JsonArray *shapes = json_object_get_array_member (c, "hidden_state_shapes");

  if (!model || !forward_case (model, c, &logits, &pooled))
    return;
  g_assert_cmpuint (convnext_model_get_num_hidden_states (model), ==, json_array_get_length (files));
  for (guint i = 0; i < json_array_get_length (files); i++) {
    JsonArray *want = json_array_get_array_element (shapes, i);
    guint shape[4] = { 0 };
    g_autoptr (GError) error = NULL;
    NpyArray ref;

    if (!convnext_model_get_hidden_state (model, i, shape, NULL, &error)) {
      g_test_fail_printf ("get_hidden_state (%u): %s", i, error ? error->message : "FALSE without error");
      continue;
    }
    if (shape[0] != json_array_get_int_element (want, 0) || shape[1] != json_array_get_int_element (want, 1)
        || shape[2] != json_array_get_int_element (want, 2) || shape[3] != json_array_get_int_element (want, 3)) {
      g_test_fail_printf ("hidden_states[%u]: shape [%u,%u,%u,%u], expected [%d,%d,%d,%d]", i, shape[0],
          shape[1], shape[2], shape[3], (int) json_array_get_int_element (want, 0),
          (int) json_array_get_int_element (want, 1), (int) json_array_get_int_element (want, 2),
          (int) json_array_get_int_element (want, 3));
      continue;
    }
    fixtures_load_npy (json_array_get_string_element (files, i), &ref);
    g_autofree float *got = g_new0 (float, ref.n_elements);
    g_assert_true (convnext_model_get_hidden_state (model, i, shape, got, &error));
    g_assert_no_error (error);
    g_autofree char *what = g_strdup_printf ("hidden_states[%u] [%u,%u,%u,%u]", i, shape[0], shape[1],
        shape[2], shape[3]);
    check_close (what, got, ref.data, ref.n_elements);
    npy_clear (&ref);
  }
}

/* Softmax probability of class @id for one row of @logits, in double. */
static double
softmax_at (const float *logits, guint n, guint id)
{
  double m = logits[0], sum = 0;
  for (guint i = 1; i < n; i++)
    m = MAX (m, logits[i]);
  for (guint i = 0; i < n; i++)
    sum += exp ((double) logits[i] - m);
  return exp ((double) logits[id] - m) / sum;
}

/* top_k on the recorded logits must give the recorded classes exactly; on the engine's logits the
 * same classes, except that neighbours whose reference logits are within the parity bound may swap. */
static void
test_top_k (gconstpointer data)
{
  JsonObject *c = (JsonObject *) data;
  g_autoptr (ConvNextModel) model = load_model (json_object_get_string_member (c, "model"), 1, FALSE);
  g_autofree float *logits = NULL;
  g_autofree float *pooled = NULL;
  JsonArray *top = json_object_get_array_member (c, "top_k");
  guint num_labels = convnext_model_get_num_labels (model);
  NpyArray ref;

  if (!model || !forward_case (model, c, &logits, &pooled))
    return;
  fixtures_load_npy (json_object_get_string_member (c, "logits"), &ref);
  if (ref.shape[1] != num_labels) {
    g_test_fail_printf ("num_labels %u, the reference has %u", num_labels, (guint) ref.shape[1]);
    npy_clear (&ref);
    return;
  }
  double tol = PARITY_REL_TOL * MAX (1.0, max_abs (ref.data, ref.n_elements));
  for (guint b = 0; b < json_array_get_length (top); b++) {
    JsonArray *want = json_array_get_array_element (top, b);
    const float *ref_row = ref.data + (gsize) b * num_labels;
    ConvNextClass got[TOP_K];
    guint k = MIN (TOP_K, num_labels);

    g_assert_cmpuint (json_array_get_length (want), ==, k);
    g_assert_cmpuint (convnext_model_top_k (model, ref_row, TOP_K, got), ==, k);
    for (guint r = 0; r < k; r++) {
      JsonObject *w = json_array_get_object_element (want, r);
      g_assert_cmpuint (got[r].id, ==, int_member (w, "id"));
      g_assert_cmpstr (got[r].label, ==, json_object_get_string_member (w, "label"));
      g_assert_cmpfloat_with_epsilon (got[r].score, json_object_get_double_member (w, "score"), 1e-6);
    }

    g_assert_cmpuint (convnext_model_top_k (model, logits + (gsize) b * num_labels, TOP_K, got), ==, k);
    for (guint r = 0; r < k; r++) {
      JsonObject *w = json_array_get_object_element (want, r);
      guint want_id = int_member (w, "id");
      if (got[r].id != want_id) {
        double gap = fabs ((double) ref_row[want_id] - ref_row[got[r].id]);
        g_test_message ("batch %u rank %u: id %u instead of %u (reference logits %.3g apart)", b, r,
            got[r].id, want_id, gap);
        g_assert_cmpfloat (gap, <=, tol);
      }
      g_assert_cmpstr (got[r].label, ==, convnext_model_get_label (model, got[r].id));
      g_assert_cmpfloat_with_epsilon (got[r].score, softmax_at (ref_row, num_labels, got[r].id), 1e-4);
      if (r > 0)
        g_assert_cmpfloat (got[r].score, <=, got[r - 1].score);
    }
  }
  npy_clear (&ref);
}

/* What the getters report against the manifest (which mirrors config.json and the file). */
static void
test_model (gconstpointer data)
{
  JsonObject *m = (JsonObject *) data;
  const char *name = json_object_get_string_member (m, "name");
  g_autoptr (ConvNextModel) model = load_model (name, 1, FALSE);
  if (!model)
    return;
  JsonArray *labels = json_object_get_array_member (m, "labels");
  JsonArray *want_idx = json_object_get_array_member (m, "out_indices");
  guint n_idx = 0;

  g_assert_cmpstr (convnext_model_get_name (model), ==, name);
  g_assert_cmpuint (convnext_model_get_num_channels (model), ==, int_member (m, "num_channels"));
  g_assert_cmpuint (convnext_model_get_image_size (model), ==, int_member (m, "image_size"));
  g_assert_cmpuint (convnext_model_get_hidden_size (model), ==, int_member (m, "hidden_size"));
  g_assert_cmpuint (convnext_model_get_num_labels (model), ==, int_member (m, "num_labels"));
  g_assert_cmpuint (convnext_model_get_num_hidden_states (model), ==, int_member (m, "num_hidden_states"));
  for (guint i = 0; i < json_array_get_length (labels); i++)
    g_assert_cmpstr (convnext_model_get_label (model, i), ==, json_array_get_string_element (labels, i));
  g_assert_null (convnext_model_get_label (model, json_array_get_length (labels)));

  const guint *idx = convnext_model_get_out_indices (model, &n_idx);
  g_assert_cmpuint (n_idx, ==, json_array_get_length (want_idx));
  for (guint i = 0; i < n_idx; i++)
    g_assert_cmpuint (idx[i], ==, json_array_get_int_element (want_idx, i));

  JsonArray *want_unused = json_object_get_array_member (m, "unused_tensors");
  const char *const *unused = convnext_model_get_unused_tensors (model);
  g_assert_nonnull (unused);
  g_assert_cmpuint (g_strv_length ((char **) unused), ==, json_array_get_length (want_unused));
  for (guint i = 0; unused[i] != NULL; i++)
    g_assert_cmpstr (unused[i], ==, json_array_get_string_element (want_unused, i));
}

static JsonObject *
find_case (const char *name)
{
  JsonArray *cases = fixtures_cases ();
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    if (g_str_equal (json_object_get_string_member (c, "name"), name))
      return c;
  }
  g_error ("no case %s in the manifest", name);
}

/* One model, inputs of different shapes in turn and back: the per-shape network cache must not mix
 * them up. */
static void
test_shape_changes (void)
{
  const char *names[] = { "tiny-f32-b1-64x64", "tiny-f32-b3-48x40", "tiny-f32-b1-64x64", "tiny-f32-b3-48x40" };
  g_autoptr (ConvNextModel) model = load_model ("tiny-f32", 1, FALSE);

  for (guint i = 0; model && i < G_N_ELEMENTS (names); i++) {
    JsonObject *c = find_case (names[i]);
    g_autofree float *logits = NULL;
    g_autofree float *pooled = NULL;
    g_autofree char *tag = g_strdup_printf ("call %u (%s)", i + 1, names[i]);
    if (forward_case (model, c, &logits, &pooled))
      check_outputs (c, logits, pooled, tag);
  }
}

static void
test_two_threads (void)
{
  JsonObject *c = find_case ("tiny-f32-b3-48x40");
  g_autoptr (ConvNextModel) model = load_model ("tiny-f32", 2, FALSE);
  g_autofree float *logits = NULL;
  g_autofree float *pooled = NULL;

  if (model && forward_case (model, c, &logits, &pooled))
    check_outputs (c, logits, pooled, "2 threads");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Report every failing case with its numbers instead of stopping at the first. */
  g_test_set_nonfatal_assertions ();

  JsonArray *models = json_object_get_array_member (fixtures_manifest (), "models");
  for (guint i = 0; i < json_array_get_length (models); i++) {
    JsonObject *m = json_array_get_object_element (models, i);
    const char *name = json_object_get_string_member (m, "name");
    g_autofree char *path = g_strdup_printf ("/parity/model/%s", name);
    g_test_add_data_func (path, m, test_model);
  }

  JsonArray *cases = fixtures_cases ();
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    const char *name = json_object_get_string_member (c, "name");
    g_autofree char *outputs = g_strdup_printf ("/parity/%s/outputs", name);
    g_autofree char *hidden = g_strdup_printf ("/parity/%s/hidden-states", name);
    g_autofree char *top = g_strdup_printf ("/parity/%s/top-k", name);
    g_test_add_data_func (outputs, c, test_outputs);
    if (json_object_has_member (c, "feature_maps")) {
      g_autofree char *maps = g_strdup_printf ("/parity/%s/feature-maps", name);
      g_test_add_data_func (maps, c, test_feature_maps);
    }
    if (json_array_get_length (json_object_get_array_member (c, "hidden_states")) > 0)
      g_test_add_data_func (hidden, c, test_hidden_states);
    if (!json_object_get_null_member (c, "logits"))
      g_test_add_data_func (top, c, test_top_k);
  }
  g_test_add_func ("/parity/shape-changes", test_shape_changes);
  g_test_add_func ("/parity/two-threads", test_two_threads);

  return g_test_run ();
}
