/* convnext-dump: what libconvnext computes, written to files for check_transformers.py to compare
 * with transformers (tests/reference/check_transformers.sh).  Test tooling, not installed.
 *
 *   convnext-dump forward MODEL_DIR INPUT.npy OUT_DIR
 *       INPUT.npy: float32 pixel_values [N, C, H, W].  Writes OUT_DIR/pooler_output.npy
 *       (a backbone: feature_map_<k>.npy for each selected stage instead), logits.npy (not for
 *       a bare model or a backbone), hidden_state_<i>.npy for every hidden state (i = 0
 *       embeddings, then each stage, as transformers' hidden_states[i]) and outputs.json:
 *       {"num_labels", "out_indices", "files": [...]}.
 *   convnext-dump preprocess MODEL_DIR IMAGE.rgb WIDTH HEIGHT OUT.npy [X Y W H]
 *       IMAGE.rgb: packed 8-bit RGB, WIDTH x HEIGHT; the optional region of interest is in
 *       pixels of the image.  Writes pixel_values [1, 3, h, w] as
 *       convnext_preprocessor_process() computes them with MODEL_DIR/preprocessor_config.json.
 *   convnext-dump tensors WEIGHTS OUT_DIR
 *       Every tensor the library's checkpoint reader returns for WEIGHTS (a .safetensors
 *       file, a torch.save .bin, a sharded *.index.json, or a model directory, chosen as
 *       convnext_model_new() chooses), in logical C order (strided .bin views gathered) and
 *       converted to float32 (exact for F16/BF16): OUT_DIR/<i>.npy and OUT_DIR/tensors.json:
 *       [{"name", "dtype", "shape", "contiguous", "file"}].
 *
 * Exit status 1 with a one-line message on stderr on any error; 3 when the error is
 * CONVNEXT_ERROR_UNSUPPORTED (a valid checkpoint this build cannot run or read). */
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convnext.h"
#include "npy.h"
#include "checkpoint.h"

static gboolean
save_json (const char *path, JsonBuilder *b, GError **error)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_file (gen, path, error);
}

static gboolean
save_npy (const char *dir, const char *name, guint n_dims, const gsize *shape, const float *data,
    JsonBuilder *files, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  json_builder_add_string_value (files, name);
  return npy_save (path, n_dims, shape, data, error);
}

static gboolean
forward (const char *model_dir, const char *input_path, const char *out_dir, GError **error)
{
  g_autoptr (ConvNextModel) model = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree float *logits = NULL;
  g_autofree float *pooler = NULL;
  g_autofree char *json_path = g_build_filename (out_dir, "outputs.json", NULL);
  g_autoptr (GPtrArray) maps = NULL;
  ConvNextParams params;
  NpyArray input = { 0 };
  const guint *out_indices;
  guint n_out, num_labels, hidden, n, n_maps;
  gboolean ok = FALSE;

  convnext_params_init (&params);
  params.output_hidden_states = TRUE;
  params.n_threads = 1;         /* reproducible: oneDNN's results depend on the thread count */
  model = convnext_model_new (model_dir, &params, error);
  if (model == NULL || !npy_load (input_path, &input, error))
    return FALSE;
  if (input.n_dims != 4 || input.shape[1] != convnext_model_get_num_channels (model)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: expected [N, %u, H, W]",
        input_path, convnext_model_get_num_channels (model));
    goto out;
  }
  n = input.shape[0];
  num_labels = convnext_model_get_num_labels (model);
  hidden = convnext_model_get_hidden_size (model);
  n_maps = convnext_model_get_num_feature_maps (model);
  logits = g_new0 (float, (gsize) n * MAX (num_labels, 1));
  pooler = g_new0 (float, (gsize) n * hidden);
  maps = g_ptr_array_new_with_free_func (g_free);
  for (guint k = 0; k < n_maps; k++) {
    guint s[4];
    if (!convnext_model_get_feature_map_shape (model, k, n, input.shape[2], input.shape[3], s)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: too small for the network",
          input_path);
      goto out;
    }
    g_ptr_array_add (maps, g_new (float, (gsize) s[0] * s[1] * s[2] * s[3]));
  }
  if (n_maps > 0 ? !convnext_model_forward_features (model, input.data, n, input.shape[2],
          input.shape[3], (float *const *) maps->pdata, error)
      : !convnext_model_forward (model, input.data, n, input.shape[2], input.shape[3],
          num_labels > 0 ? logits : NULL, pooler, error))
    goto out;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "num_labels");
  json_builder_add_int_value (b, num_labels);
  json_builder_set_member_name (b, "out_indices");
  json_builder_begin_array (b);
  out_indices = convnext_model_get_out_indices (model, &n_out);
  for (guint i = 0; i < n_out; i++)
    json_builder_add_int_value (b, out_indices[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  for (guint k = 0; k < n_maps; k++) {
    g_autofree char *name = g_strdup_printf ("feature_map_%u.npy", k);
    guint s[4];
    gsize shape[4];

    convnext_model_get_feature_map_shape (model, k, n, input.shape[2], input.shape[3], s);
    for (guint d = 0; d < 4; d++)
      shape[d] = s[d];
    if (!save_npy (out_dir, name, 4, shape, maps->pdata[k], b, error))
      goto out;
  }
  if (n_maps == 0) {     /* a backbone has no pooler_output */
    gsize shape[2] = { n, hidden };
    if (!save_npy (out_dir, "pooler_output.npy", 2, shape, pooler, b, error))
      goto out;
  }
  if (num_labels > 0) {
    gsize shape[2] = { n, num_labels };
    if (!save_npy (out_dir, "logits.npy", 2, shape, logits, b, error))
      goto out;
  }
  for (guint i = 0; i < convnext_model_get_num_hidden_states (model); i++) {
    g_autofree char *name = g_strdup_printf ("hidden_state_%u.npy", i);
    g_autofree float *state = NULL;
    guint s[4];
    gsize shape[4];

    if (!convnext_model_get_hidden_state (model, i, s, NULL, error))
      goto out;
    state = g_new (float, (gsize) s[0] * s[1] * s[2] * s[3]);
    if (!convnext_model_get_hidden_state (model, i, s, state, error))
      goto out;
    for (guint d = 0; d < 4; d++)
      shape[d] = s[d];
    if (!save_npy (out_dir, name, 4, shape, state, b, error))
      goto out;
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  ok = save_json (json_path, b, error);
out:
  npy_clear (&input);
  return ok;
}

static gboolean
parse_uint (const char *text, guint *value, GError **error)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT, &v, error))
    return FALSE;
  *value = v;
  return TRUE;
}

static gboolean
preprocess (char **argv, int argc, GError **error)
{
  g_autoptr (ConvNextPreprocessor) pre = NULL;
  g_autofree guint8 *rgb = NULL;
  g_autofree float *pixel_values = NULL;
  ConvNextImage image = { 0 };
  ConvNextRect roi = { 0 };
  gboolean have_roi = argc == 10;
  gsize length;
  guint w, h;

  if (argc != 6 && argc != 10) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "usage: preprocess MODEL_DIR IMAGE.rgb WIDTH HEIGHT OUT.npy [X Y W H]");
    return FALSE;
  }
  if (!parse_uint (argv[3], &image.width, error) || !parse_uint (argv[4], &image.height, error))
    return FALSE;
  if (have_roi && (!parse_uint (argv[6], &roi.x, error) || !parse_uint (argv[7], &roi.y, error)
          || !parse_uint (argv[8], &roi.width, error) || !parse_uint (argv[9], &roi.height, error)))
    return FALSE;
  if (!g_file_get_contents (argv[2], (char **) &rgb, &length, error))
    return FALSE;
  if (length != (gsize) image.width * image.height * 3) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %" G_GSIZE_FORMAT
        " bytes, expected %u x %u x 3", argv[2], length, image.width, image.height);
    return FALSE;
  }
  pre = convnext_preprocessor_new (argv[1], error);
  if (pre == NULL)
    return FALSE;
  image.format = CONVNEXT_PIXEL_FORMAT_RGB;
  image.data[0] = rgb;
  image.stride[0] = (gsize) image.width * 3;
  convnext_preprocessor_get_output_size (pre, have_roi ? roi.width : image.width,
      have_roi ? roi.height : image.height, &w, &h);
  pixel_values = g_new (float, (gsize) 3 * w * h);
  if (!convnext_preprocessor_process (pre, &image, have_roi ? &roi : NULL, pixel_values, error))
    return FALSE;
  {
    gsize shape[4] = { 1, 3, h, w };
    return npy_save (argv[5], 4, shape, pixel_values, error);
  }
}

static float
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  float f;

  if (exp == 0x1f)
    bits = sign | 0x7f800000 | (mant << 13);
  else if (exp != 0)
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  else {                        /* zero or subnormal: mant · 2^-24 */
    f = ldexpf ((float) mant, -24);
    return sign ? -f : f;
  }
  memcpy (&f, &bits, 4);
  return f;
}

/* Element @i (in elements from the tensor's start) as float32: exact for F16 and BF16. */
static float
element_to_float (const ConvNextTensor *t, guint64 i)
{
  guint16 h;
  guint32 bits;
  float f;

  switch (t->dtype) {
    case CONVNEXT_DTYPE_F32:
      memcpy (&f, t->data + 4 * i, 4);
      return f;
    case CONVNEXT_DTYPE_F16:
      memcpy (&h, t->data + 2 * i, 2);
      return half_to_float (GUINT16_FROM_LE (h));
    case CONVNEXT_DTYPE_BF16:
      memcpy (&h, t->data + 2 * i, 2);
      bits = (guint32) GUINT16_FROM_LE (h) << 16;
      memcpy (&f, &bits, 4);
      return f;
  }
  g_assert_not_reached ();
}

/* The tensor in logical C order: each index's element found through the strides, so that a
 * strided .bin view reads as torch.load's tensor does. */
static float *
tensor_to_float (const ConvNextTensor *t)
{
  float *out = g_new (float, MAX (t->n_elements, 1));
  guint64 index[CONVNEXT_MAX_DIMS] = { 0 };

  for (guint64 i = 0; i < t->n_elements; i++) {
    guint64 offset = 0;
    for (guint d = 0; d < t->n_dims; d++)
      offset += index[d] * t->strides[d];
    out[i] = element_to_float (t, t->contiguous ? i : offset);
    for (guint d = t->n_dims; d-- > 0;) {     /* next index, last dimension fastest */
      if (++index[d] < t->shape[d])
        break;
      index[d] = 0;
    }
  }
  return out;
}

static gboolean
tensors (char **argv, int argc, GError **error)
{
  g_autoptr (ConvNextCheckpoint) ck = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GPtrArray) names = NULL;
  g_autofree char *json_path = NULL;

  if (argc != 3) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "usage: tensors WEIGHTS OUT_DIR");
    return FALSE;
  }
  ck = g_file_test (argv[1], G_FILE_TEST_IS_DIR) ? convnext_checkpoint_open_dir (argv[1], error)
      : convnext_checkpoint_open (argv[1], error);
  if (ck == NULL)
    return FALSE;
  names = convnext_checkpoint_list (ck);
  json_builder_begin_array (b);
  for (guint i = 0; i < names->len; i++) {
    const ConvNextTensor *t = convnext_checkpoint_lookup (ck, names->pdata[i]);
    g_autofree char *file = g_strdup_printf ("%u.npy", i);
    g_autofree char *path = g_build_filename (argv[2], file, NULL);
    g_autofree float *data = tensor_to_float (t);
    gsize shape[CONVNEXT_MAX_DIMS];

    for (guint d = 0; d < t->n_dims; d++)
      shape[d] = t->shape[d];
    if (!npy_save (path, t->n_dims, shape, data, error))
      return FALSE;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, t->name);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, convnext_dtype_name (t->dtype));
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (guint d = 0; d < t->n_dims; d++)
      json_builder_add_int_value (b, t->shape[d]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "contiguous");
    json_builder_add_boolean_value (b, t->contiguous);
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, file);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_path = g_build_filename (argv[2], "tensors.json", NULL);
  return save_json (json_path, b, error);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  gboolean ok;

  if (argc >= 2 && g_str_equal (argv[1], "forward") && argc == 5)
    ok = forward (argv[2], argv[3], argv[4], &error);
  else if (argc >= 2 && g_str_equal (argv[1], "preprocess"))
    ok = preprocess (argv + 1, argc - 1, &error);
  else if (argc >= 2 && g_str_equal (argv[1], "tensors"))
    ok = tensors (argv + 1, argc - 1, &error);
  else {
    g_printerr ("usage: convnext-dump forward MODEL_DIR INPUT.npy OUT_DIR\n"
        "       convnext-dump preprocess MODEL_DIR IMAGE.rgb WIDTH HEIGHT OUT.npy [X Y W H]\n"
        "       convnext-dump tensors WEIGHTS OUT_DIR\n");
    return 2;
  }
  if (!ok) {
    g_strdelimit (error->message, "\r\n", ' ');
    g_printerr ("convnext-dump: %s\n", error->message);
    return g_error_matches (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED) ? 3 : 1;
  }
  return 0;
}
