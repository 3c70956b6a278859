/* Bad preprocessor_config.json and bad frames: each gives a clear GError (domain, code, and a
 * message naming the file and key, or the plane / size concerned) and nothing crashes. */
#include "support.h"

typedef struct {
  const char *name;
  const char *json;             /* preprocessor_config.json contents */
  const char *key;              /* what the message must name */
} ConfigCase;

static const ConfigCase config_cases[] = {
  { "malformed-json", "{\"size\": ", "preprocessor_config.json" },
  { "not-an-object", "[1, 2, 3]", "preprocessor_config.json" },
  { "size-zero", "{\"size\": 0}", "size" },
  { "size-negative", "{\"size\": -224}", "size" },
  { "size-string", "{\"size\": \"224\"}", "size" },
  { "size-float", "{\"size\": 224.5}", "size" },
  { "size-huge", "{\"size\": 100000}", "size" },
  { "size-height-width", "{\"size\": {\"height\": 224, \"width\": 224}}", "size" },
  { "shortest-edge-zero", "{\"size\": {\"shortest_edge\": 0}}", "shortest_edge" },
  { "shortest-edge-negative", "{\"size\": {\"shortest_edge\": -1}}", "shortest_edge" },
  { "crop-pct-zero", "{\"size\": 224, \"crop_pct\": 0}", "crop_pct" },
  { "crop-pct-negative", "{\"size\": 224, \"crop_pct\": -0.875}", "crop_pct" },
  { "crop-pct-string", "{\"size\": 224, \"crop_pct\": \"0.875\"}", "crop_pct" },
  { "crop-pct-too-large", "{\"size\": 224, \"crop_pct\": 1000}", "crop_pct" },
  { "crop-pct-too-small", "{\"size\": 224, \"crop_pct\": 1e-9}", "crop_pct" },
  { "resample-6", "{\"resample\": 6}", "resample" },
  { "resample-negative", "{\"resample\": -1}", "resample" },
  { "resample-name", "{\"resample\": \"bicubic\"}", "resample" },
  { "resample-float", "{\"resample\": 3.0}", "resample" },
  { "std-zero", "{\"image_std\": [0.229, 0, 0.225]}", "image_std" },
  { "std-negative", "{\"image_std\": [-0.229, 0.224, 0.225]}", "image_std" },
  { "std-nan", "{\"image_std\": [NaN, 0.224, 0.225]}", "preprocessor_config.json" },
  { "std-infinite", "{\"image_std\": [1e999, 0.224, 0.225]}", "image_std" },
  { "std-scalar-zero", "{\"image_std\": 0}", "image_std" },
  { "std-two-values", "{\"image_std\": [0.229, 0.224]}", "image_std" },
  { "std-string", "{\"image_std\": [\"0.229\", 0.224, 0.225]}", "image_std[0]" },
  { "mean-infinite", "{\"image_mean\": [0.485, -1e999, 0.406]}", "image_mean" },
  { "mean-object", "{\"image_mean\": {\"r\": 0.485}}", "image_mean" },
  { "do-resize-string", "{\"do_resize\": \"yes\"}", "do_resize" },
  { "do-rescale-int", "{\"do_rescale\": 1}", "do_rescale" },
  { "do-normalize-null", "{\"do_normalize\": null}", "do_normalize" },
  { "rescale-factor-string", "{\"rescale_factor\": \"1/255\"}", "rescale_factor" },
  { "rescale-factor-infinite", "{\"rescale_factor\": 1e999}", "rescale_factor" },
  /* finite settings whose float32 pixel values are not: every frame would give NaN logits */
  { "rescale-factor-overflows-float", "{\"rescale_factor\": 1e300}", "rescale_factor" },
  { "std-underflows-to-infinite-pixels", "{\"image_std\": [0.229, 1e-300, 0.225]}", "image_std[1]" },
  { "mean-overflows-float", "{\"image_mean\": [0.485, 0.456, 1e300]}", "image_mean[2]" },
  /* json-glib wraps 2^64 to -1 and 2^64 + 224 to -1 too: the value as written */
  { "size-2-pow-64", "{\"size\": 18446744073709551616}", "18446744073709551616" },
  { "shortest-edge-2-pow-63", "{\"size\": {\"shortest_edge\": 9223372036854775808}}",
    "size[\"shortest_edge\"]: 9223372036854775808" },
  { "nested-too-deep", "{\"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", "nested deeper" },
};

static void
test_config (gconstpointer data)
{
  const ConfigCase *cc = data;
  char *dir = test_model_dir_new (cc->json);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new (dir, &error);

  g_assert_null (pre);
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, cc->key));
  g_assert_nonnull (strstr (error->message, dir));
  test_model_dir_remove (dir);
}

static void
test_missing_dir (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new ("/nonexistent/model", &error);

  g_assert_null (pre);
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/model"));
}

/* Not errors: no file (transformers' defaults), crop_pct and resample null. */
static void
test_defaults (void)
{
  static const struct {
    const char *json;
    guint size;
  } ok[] = {
    { NULL, 384 },
    { "{}", 384 },
    { "{\"size\": 224, \"crop_pct\": null, \"resample\": null}", 224 },
    { "{\"size\": {\"shortest_edge\": 288}, \"image_mean\": 0.5, \"image_std\": 0.25}", 288 },
    { "{\"do_resize\": false}", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (ok); i++) {
    char *dir = test_model_dir_new (ok[i].json);
    g_autoptr (GError) error = NULL;
    g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new (dir, &error);
    guint w, h;

    g_assert_no_error (error);
    g_assert_cmpint (convnext_preprocessor_uses_defaults (pre), ==, ok[i].json == NULL);
    convnext_preprocessor_get_output_size (pre, 640, 480, &w, &h);
    g_assert_cmpuint (w, ==, ok[i].size ? ok[i].size : 640);
    g_assert_cmpuint (h, ==, ok[i].size ? ok[i].size : 480);
    test_model_dir_remove (dir);
  }
}

/* ---- bad frames ------------------------------------------------------------------------- */

static guint8 pixels[64 * 64 * 4];
static float pixel_values[3 * 384 * 384];

static ConvNextImage
rgb_image (void)
{
  return (ConvNextImage) { .format = CONVNEXT_PIXEL_FORMAT_RGB, .width = 8, .height = 6,
    .data = { pixels }, .stride = { 24 } };
}

static ConvNextImage
i420_image (void)
{
  return (ConvNextImage) { .format = CONVNEXT_PIXEL_FORMAT_I420, .width = 7, .height = 5,
    .data = { pixels, pixels + 64, pixels + 128 }, .stride = { 7, 4, 4 } };
}

static ConvNextImage
nv12_image (void)
{
  return (ConvNextImage) { .format = CONVNEXT_PIXEL_FORMAT_NV12, .width = 7, .height = 5,
    .data = { pixels, pixels + 64 }, .stride = { 7, 8 } };
}

typedef struct {
  const char *name;
  ConvNextImage (*make) (void);
  void (*spoil) (ConvNextImage *image, ConvNextRect *roi);
  gboolean use_roi;
  int code;
  const char *text;             /* the message must contain it */
} InputCase;

static void zero_width (ConvNextImage *i, ConvNextRect *r) { i->width = 0; }
static void zero_height (ConvNextImage *i, ConvNextRect *r) { i->height = 0; }
static void null_plane0 (ConvNextImage *i, ConvNextRect *r) { i->data[0] = NULL; }
static void null_plane1 (ConvNextImage *i, ConvNextRect *r) { i->data[1] = NULL; }
static void null_plane2 (ConvNextImage *i, ConvNextRect *r) { i->data[2] = NULL; }
static void short_stride0 (ConvNextImage *i, ConvNextRect *r) { i->stride[0]--; }
static void short_stride1 (ConvNextImage *i, ConvNextRect *r) { i->stride[1] = 7; }
static void short_stride2 (ConvNextImage *i, ConvNextRect *r) { i->stride[2] = 3; }
static void bad_format (ConvNextImage *i, ConvNextRect *r) { i->format = 99; }
static void bad_matrix (ConvNextImage *i, ConvNextRect *r) { i->matrix = 17; }
static void bad_site (ConvNextImage *i, ConvNextRect *r) { i->chroma_site = 1 << 4; }
static void roi_outside (ConvNextImage *i, ConvNextRect *r) { *r = (ConvNextRect) { 4, 2, 5, 2 }; }
static void roi_below (ConvNextImage *i, ConvNextRect *r) { *r = (ConvNextRect) { 0, 6, 1, 1 }; }
static void roi_empty (ConvNextImage *i, ConvNextRect *r) { *r = (ConvNextRect) { 1, 1, 0, 3 }; }
static void roi_overflow (ConvNextImage *i, ConvNextRect *r)
{
  *r = (ConvNextRect) { G_MAXUINT - 2, 0, 8, 1 };
}

static const InputCase input_cases[] = {
  { "zero-width", rgb_image, zero_width, FALSE, CONVNEXT_ERROR_INVALID_INPUT, "0x6" },
  { "zero-height", i420_image, zero_height, FALSE, CONVNEXT_ERROR_INVALID_INPUT, "7x0" },
  { "null-plane", rgb_image, null_plane0, FALSE, CONVNEXT_ERROR_INVALID_INPUT, "plane 0 (pixels) of the RGB image" },
  { "null-plane-y", i420_image, null_plane0, FALSE, CONVNEXT_ERROR_INVALID_INPUT, "(Y)" },
  { "null-plane-u", i420_image, null_plane1, FALSE, CONVNEXT_ERROR_INVALID_INPUT, "(U)" },
  { "null-plane-v", i420_image, null_plane2, FALSE, CONVNEXT_ERROR_INVALID_INPUT, "(V)" },
  { "null-plane-uv", nv12_image, null_plane1, FALSE, CONVNEXT_ERROR_INVALID_INPUT, "(UV)" },
  { "stride-too-small", rgb_image, short_stride0, FALSE, CONVNEXT_ERROR_INVALID_INPUT,
    "stride 23" },
  { "stride-too-small-y", i420_image, short_stride0, FALSE, CONVNEXT_ERROR_INVALID_INPUT,
    "stride 6" },
  { "stride-too-small-v", i420_image, short_stride2, FALSE, CONVNEXT_ERROR_INVALID_INPUT,
    "stride 3" },
  { "stride-too-small-uv", nv12_image, short_stride1, FALSE, CONVNEXT_ERROR_INVALID_INPUT,
    "stride 7" },
  { "unsupported-format", rgb_image, bad_format, FALSE, CONVNEXT_ERROR_UNSUPPORTED, "99" },
  { "unsupported-matrix", nv12_image, bad_matrix, FALSE, CONVNEXT_ERROR_UNSUPPORTED, "17" },
  { "unsupported-chroma-site", nv12_image, bad_site, FALSE, CONVNEXT_ERROR_UNSUPPORTED, "16" },
  { "roi-outside", rgb_image, roi_outside, TRUE, CONVNEXT_ERROR_INVALID_INPUT, "5x2" },
  { "roi-below", i420_image, roi_below, TRUE, CONVNEXT_ERROR_INVALID_INPUT, "(0, 6)" },
  { "roi-empty", nv12_image, roi_empty, TRUE, CONVNEXT_ERROR_INVALID_INPUT, "0x3" },
  { "roi-overflow", rgb_image, roi_overflow, TRUE, CONVNEXT_ERROR_INVALID_INPUT, "8x1" },
};

static void
test_input (gconstpointer data)
{
  const InputCase *ic = data;
  g_autofree char *dir = test_source_path ("tests/fixtures/preprocess/configs/c64-bicubic");
  g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new (dir, NULL);
  g_autoptr (GError) error = NULL;
  ConvNextImage image = ic->make ();
  ConvNextRect roi = { 0, 0, 1, 1 };

  ic->spoil (&image, &roi);
  g_assert_false (convnext_preprocessor_process (pre, &image, ic->use_roi ? &roi : NULL,
          pixel_values, &error));
  g_assert_error (error, CONVNEXT_ERROR, ic->code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, ic->text));

  /* the preprocessor is still usable */
  image = ic->make ();
  g_assert_true (convnext_preprocessor_process (pre, &image, NULL, pixel_values, NULL));
}

/* A region so elongated that the resize target would not fit PIL's int sizes. */
static void
test_elongated (void)
{
  g_autofree char *dir = test_source_path ("tests/fixtures/preprocess/configs/c224-bicubic");
  g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new (dir, NULL);
  g_autoptr (GError) error = NULL;
  guint height = 9000000;   /* 256 · 9e6 > G_MAXINT */
  g_autofree guint8 *column = g_malloc0 (height);
  ConvNextImage image = { .format = CONVNEXT_PIXEL_FORMAT_GRAY8, .width = 1, .height = height,
    .data = { column }, .stride = { 1 } };

  g_assert_false (convnext_preprocessor_process (pre, &image, NULL, pixel_values, &error));
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "1x9000000"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (config_cases); i++) {
    g_autofree char *path = g_strdup_printf ("/preprocess/errors/config/%s",
        config_cases[i].name);
    g_test_add_data_func (path, &config_cases[i], test_config);
  }
  g_test_add_func ("/preprocess/errors/config/missing-dir", test_missing_dir);
  g_test_add_func ("/preprocess/errors/config/defaults-are-not-errors", test_defaults);
  for (guint i = 0; i < G_N_ELEMENTS (input_cases); i++) {
    g_autofree char *path = g_strdup_printf ("/preprocess/errors/input/%s", input_cases[i].name);
    g_test_add_data_func (path, &input_cases[i], test_input);
  }
  g_test_add_func ("/preprocess/errors/input/elongated-region", test_elongated);
  return g_test_run ();
}
