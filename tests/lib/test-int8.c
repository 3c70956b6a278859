/* int8 precision: the calibration file (int8_calibration.json, ConvNextCalibrator) on good and
 * bad input.  The int8 outputs themselves are checked against the PyTorch reference on every
 * fixture and ISA by test-isa, and on the CIFAR-10 test photos by the eval suite. */
#include <glib/gstdio.h>
#include <string.h>

#include "convnext.h"
#include "fixtures.h"

/* Calibrates fixture model @name on its first case's input into @path. */
static void
calibrate (const char *name, const char *path)
{
  g_autofree char *dir = fixtures_model_dir (name);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = convnext_model_new (dir, NULL, &error);
  g_autoptr (ConvNextCalibrator) cal = NULL;
  JsonArray *cases = fixtures_cases ();
  NpyArray input = { 0 };

  g_assert_no_error (error);
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    if (g_str_equal (json_object_get_string_member (c, "model"), name)) {
      fixtures_load_npy (json_object_get_string_member (c, "input"), &input);
      break;
    }
  }
  cal = convnext_calibrator_new (model);
  g_assert_false (convnext_calibrator_save (cal, path, &error));  /* nothing added yet */
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  g_assert_true (convnext_calibrator_add (cal, input.data, input.shape[0], input.shape[2],
          input.shape[3], &error));
  g_assert_no_error (error);
  g_assert_true (convnext_calibrator_save (cal, path, &error));
  g_assert_no_error (error);
  npy_clear (&input);
}

static ConvNextModel *
load_int8 (const char *name, const char *calibration, GError **error)
{
  g_autofree char *dir = fixtures_model_dir (name);
  ConvNextParams params;

  convnext_params_init (&params);
  params.precision = CONVNEXT_PRECISION_INT8;
  params.int8_calibration = calibration;
  return convnext_model_new (dir, &params, error);
}

static void
test_missing (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = load_int8 ("tiny-f32", NULL, &error);

  /* the fixture directories have no int8_calibration.json */
  g_assert_null (model);
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "int8_calibration.json"));
  g_assert_nonnull (strstr (error->message, "--calibrate"));
}

static void
test_round_trip (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("test-int8-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (tmp, "cal.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = NULL;
  g_autoptr (ConvNextModel) f32 = NULL;
  g_autofree char *dir = fixtures_model_dir ("tiny-f32");
  ConvNextParams params;

  calibrate ("tiny-f32", path);
  model = load_int8 ("tiny-f32", path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);

  /* a calibrator needs the f32 network */
  convnext_params_init (&params);
  params.precision = CONVNEXT_PRECISION_INT8;
  params.int8_calibration = path;
  {
    g_autoptr (ConvNextCalibrator) cal = convnext_calibrator_new (model);
    float pixels[3 * 32 * 32] = { 0 };
    g_assert_false (convnext_calibrator_add (cal, pixels, 1, 32, 32, &error));
    g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
    g_clear_error (&error);
  }
  /* a calibration made for another architecture is refused */
  g_clear_pointer (&model, convnext_model_unref);
  model = load_int8 ("small-relu-p2", path, &error);
  g_assert_null (model);
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG);
  g_test_message ("%s", error->message);
  g_remove (path);
  g_rmdir (tmp);
}

/* Hostile or broken calibration files: each must fail cleanly with INVALID_CONFIG. */
static const struct {
  const char *what, *from, *to;
} broken[] = {
  { "not JSON", "{", "[" },
  { "another format", "\"convnext-int8-calibration\"", "\"something-else\"" },
  { "another version", "\"version\" : 1", "\"version\" : 2" },
  { "images not a count", "\"images\" : 1", "\"images\" : -3" },
  { "a layer's name", "encoder.stages.0.layers.0\"", "encoder.stages.0.layers.9\"" },
  { "a string for a number", "\"input_absmax\" : ", "\"input_absmax\" : \"1\", \"x\" : " },
  { "an infinite number", "\"hidden_max\" : ", "\"hidden_max\" : 1e999, \"x\" : " },
  { "a zero range", "\"input_absmax\" : ", "\"input_absmax\" : 0, \"x\" : " },
  { "an empty hidden range", "\"hidden_min\" : ", "\"hidden_min\" : 1e9, \"x\" : " },
  { "a layer too few", "\"layers\" : [", "\"layers\" : [ ], \"old\" : [" },
};

static void
test_broken (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("test-int8-XXXXXX", NULL);
  g_autofree char *good = g_build_filename (tmp, "good.json", NULL);
  g_autofree char *bad = g_build_filename (tmp, "bad.json", NULL);
  g_autofree char *text = NULL;

  calibrate ("tiny-f32", good);
  g_assert_true (g_file_get_contents (good, &text, NULL, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (broken); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (ConvNextModel) model = NULL;
    char *at = strstr (text, broken[i].from);
    g_autofree char *changed = NULL;

    g_assert_nonnull (at);
    changed = g_strdup_printf ("%.*s%s%s", (int) (at - text), text, broken[i].to,
        at + strlen (broken[i].from));
    g_assert_true (g_file_set_contents (bad, changed, -1, NULL));
    model = load_int8 ("tiny-f32", bad, &error);
    g_test_message ("%s: %s", broken[i].what, error ? error->message : "(loaded)");
    g_assert_null (model);
    g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG);
  }
  g_remove (good);
  g_remove (bad);
  g_rmdir (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/int8/calibration-missing", test_missing);
  g_test_add_func ("/int8/calibration-round-trip", test_round_trip);
  g_test_add_func ("/int8/calibration-broken", test_broken);
  return g_test_run ();
}
