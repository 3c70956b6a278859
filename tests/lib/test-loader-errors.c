/* Bad checkpoints: every case of issue 2's "Bad input" list, each its own test.
 *
 * Each test copies the valid fixture model small-relu-p2 into a g_dir_make_tmp directory, breaks one
 * thing, and expects convnext_model_new() to return NULL with a CONVNEXT_ERROR of the right code whose
 * message names the file and the key or tensor concerned.  The messages are logged as TAP comments. */
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "convnext.h"
#include "fixtures.h"

#define BASE_MODEL "small-relu-p2"  /* hidden_sizes [6, 10, 14], depths [1, 2, 1], patch_size 2 */

#define DWCONV "convnext.encoder.stages.1.layers.0.dwconv.weight"         /* [10, 1, 7, 7] */
#define PWCONV1 "convnext.encoder.stages.1.layers.1.pwconv1.weight"       /* [40, 10] */
#define LN_BIAS "convnext.encoder.stages.2.layers.0.layernorm.bias"       /* [14] */
#define LN_WEIGHT "convnext.encoder.stages.2.layers.0.layernorm.weight"   /* [14] */
#define GAMMA "convnext.encoder.stages.0.layers.0.layer_scale_parameter"  /* [6] */
#define PATCH "convnext.embeddings.patch_embeddings.weight"               /* [6, 3, 2, 2] */

typedef struct {
  char *dir;
  char *config;   /* dir/config.json */
  char *weights;  /* dir/model.safetensors */
} Fixture;

/* @data: the fixture model to copy; NULL = BASE_MODEL. */
static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = fixtures_copy_model (data ? data : BASE_MODEL);
  f->config = g_build_filename (f->dir, "config.json", NULL);
  f->weights = g_build_filename (f->dir, "model.safetensors", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  fixtures_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->config);
  g_free (f->weights);
}

/* Loads @dir and expects failure with @code and a message that contains @file and, if any names
 * follow (NULL-terminated), at least one of them. */
static void
expect_error (const char *dir, ConvNextError code, const char *file, ...)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = convnext_model_new (dir, NULL, &error);
  va_list ap;

  if (error)
    g_test_message ("error %d: %s", error->code, error->message);
  g_assert_null (model);
  g_assert_error (error, CONVNEXT_ERROR, (gint) code);
  if (!error)
    return;
  if (!strstr (error->message, file))
    g_test_fail_printf ("the message does not name %s: %s", file, error->message);

  g_autoptr (GString) names = g_string_new (NULL);
  gboolean named = FALSE, any = FALSE;
  va_start (ap, file);
  for (const char *name; (name = va_arg (ap, const char *));) {
    any = TRUE;
    named |= strstr (error->message, name) != NULL;
    g_string_append_printf (names, "%s%s", names->len ? " or " : "", name);
  }
  va_end (ap);
  if (any && !named)
    g_test_fail_printf ("the message does not name %s: %s", names->str, error->message);
}

/* ---- config.json ---------------------------------------------------------------------------- */

static JsonObject *
read_config (Fixture *f, JsonParser **parser)
{
  g_autoptr (GError) error = NULL;
  *parser = json_parser_new ();
  json_parser_load_from_file (*parser, f->config, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*parser));
}

static void
write_json (const char *path, JsonNode *root)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (GError) error = NULL;
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_to_file (gen, path, &error);
  g_assert_no_error (error);
}

/* Replaces config key @key by the JSON text @value (NULL removes it). */
static void
set_config_key (Fixture *f, const char *key, const char *value)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *config = read_config (f, &parser);

  if (value) {
    g_autoptr (JsonParser) vp = json_parser_new ();
    g_autoptr (GError) error = NULL;
    json_parser_load_from_data (vp, value, -1, &error);
    g_assert_no_error (error);
    json_object_set_member (config, key, json_node_copy (json_parser_get_root (vp)));
  } else {
    json_object_remove_member (config, key);
  }
  write_json (f->config, json_parser_get_root (parser));
}

static void
write_file (const char *path, const void *data, gssize len)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
}

/* Sets config key @key to the JSON text @raw as written: unlike set_config_key, without a
 * json-glib round trip (which would wrap integers past 64 bits). */
static void
set_config_key_raw (Fixture *f, const char *key, const char *raw)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) parts = NULL;
  g_autofree char *joined = NULL;

  set_config_key (f, key, "\"@RAW@\"");
  g_assert_true (g_file_get_contents (f->config, &text, NULL, NULL));
  parts = g_strsplit (text, "\"@RAW@\"", -1);
  joined = g_strjoinv (raw, parts);
  write_file (f->config, joined, -1);
}

#define CONFIG_RAW_TEST(fn, key, value, ...)                                        \
  static void fn (Fixture *f, gconstpointer data)                                   \
  {                                                                                 \
    set_config_key_raw (f, key, value);                                             \
    expect_error (f->dir, CONVNEXT_ERROR_INVALID_CONFIG, "config.json", __VA_ARGS__); \
  }

#define CONFIG_TEST(fn, key, value, ...)                                            \
  static void fn (Fixture *f, gconstpointer data)                                   \
  {                                                                                 \
    set_config_key (f, key, value);                                                 \
    expect_error (f->dir, CONVNEXT_ERROR_INVALID_CONFIG, "config.json", __VA_ARGS__); \
  }

CONFIG_TEST (test_config_missing_hidden_sizes, "hidden_sizes", NULL, "hidden_sizes", NULL)
CONFIG_TEST (test_config_missing_depths, "depths", NULL, "depths", NULL)
CONFIG_TEST (test_config_hidden_sizes_string, "hidden_sizes", "\"[6, 10, 14]\"", "hidden_sizes", NULL)
CONFIG_TEST (test_config_depths_element_string, "depths", "[1, \"2\", 1]", "depths", NULL)
CONFIG_TEST (test_config_depths_fraction, "depths", "[1, 2.5, 1]", "depths", NULL)
CONFIG_TEST (test_config_patch_size_string, "patch_size", "\"2\"", "patch_size", NULL)
CONFIG_TEST (test_config_patch_size_zero, "patch_size", "0", "patch_size", NULL)
CONFIG_TEST (test_config_hidden_size_negative, "hidden_sizes", "[6, -10, 14]", "hidden_sizes", NULL)
CONFIG_TEST (test_config_hidden_act_number, "hidden_act", "3", "hidden_act", NULL)
CONFIG_TEST (test_config_hidden_act_unknown, "hidden_act", "\"gelu_fancy\"", "hidden_act", NULL)
/* not in transformers' ACT2FN: transformers cannot build such a model either */
CONFIG_TEST (test_config_hidden_act_selu, "hidden_act", "\"selu\"", "hidden_act", "selu", NULL)
CONFIG_TEST (test_config_depths_length, "depths", "[1, 2]", "depths", "num_stages", NULL)
CONFIG_TEST (test_config_hidden_sizes_length, "hidden_sizes", "[6, 10, 14, 18]", "hidden_sizes", "num_stages",
    NULL)
CONFIG_TEST (test_config_layer_norm_eps_string, "layer_norm_eps", "\"1e-12\"", "layer_norm_eps", NULL)
CONFIG_TEST (test_config_id2label_array, "id2label", "[\"a\", \"b\", \"c\", \"d\", \"e\"]", "id2label", NULL)
CONFIG_TEST (test_config_out_features_unknown, "out_features", "[\"stage9\"]", "out_features", NULL)
CONFIG_TEST (test_config_out_indices_range, "out_indices", "[7]", "out_indices", NULL)
/* Keys filled out of order, then one out of range: the labels read so far must be freed
 * (LeakSanitizer found them leaking: g_strfreev stops at the hole); the message names the
 * key out of range and the one missing. */
CONFIG_TEST (test_config_id2label_gap, "id2label", "{\"1\": \"b\", \"2\": \"c\", \"7\": \"h\", \"0\": \"a\", "
    "\"3\": \"d\"}", "id2label", "\"7\"", NULL)
CONFIG_TEST (test_config_id2label_missing_key, "id2label", "{\"1\": \"b\", \"2\": \"c\", \"7\": \"h\", "
    "\"0\": \"a\", \"3\": \"d\"}", "\"7\" is not one of them and \"4\" is missing", NULL)
/* json-glib reads integers past 64 bits as -1: the message gives the value as written. */
CONFIG_RAW_TEST (test_config_depths_2_pow_64, "depths", "[1, 18446744073709551616, 1]",
    "depths[1]: 18446744073709551616", NULL)
/* ...which out_indices would otherwise take for -1, the last stage. */
CONFIG_RAW_TEST (test_config_out_indices_2_pow_64, "out_indices", "[18446744073709551615]",
    "out_indices[0]: 18446744073709551615", NULL)
/* json-glib 1.6 reads the octal escape \351 (not JSON) as byte 0xe9: a label that is not
 * UTF-8, which GStreamer refuses with a critical.  Found while fuzzing. */
CONFIG_RAW_TEST (test_config_id2label_octal_escape, "id2label",
    "{\"0\": \"caf\\351\", \"1\": \"b\", \"2\": \"c\", \"3\": \"d\", \"4\": \"e\"}",
    "id2label[\"0\"]: a string holds an escape that JSON does not have", NULL)

/* json-glib's parser recurses per level: 200,000 of them (400 kB) overflowed the stack. */
static void
test_config_nested_too_deep (Fixture *f, gconstpointer data)
{
  const gsize depth = 200000;
  g_autofree char *deep = g_malloc (2 * depth + 1);

  memset (deep, '[', depth);
  memset (deep + depth, ']', depth);
  deep[2 * depth] = '\0';
  set_config_key_raw (f, "task_specific_params", deep);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_CONFIG, "config.json", "nested deeper than 64",
      NULL);
}

static void
test_config_syntax_error (Fixture *f, gconstpointer data)
{
  write_file (f->config, "{\"depths\": [1, 2, 1], \"hidden_sizes\": [6, 10,", -1);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_CONFIG, "config.json", NULL);
}

static void
test_config_empty (Fixture *f, gconstpointer data)
{
  write_file (f->config, "", 0);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_CONFIG, "config.json", NULL);
}

static void
test_config_not_object (Fixture *f, gconstpointer data)
{
  write_file (f->config, "[6, 10, 14]\n", -1);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_CONFIG, "config.json", NULL);
}

/* ---- files ---------------------------------------------------------------------------------- */

static void
test_missing_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->dir, "no-such-model", NULL);
  expect_error (dir, CONVNEXT_ERROR_IO, "no-such-model", NULL);
}

static void
test_missing_config (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (g_remove (f->config), ==, 0);
  expect_error (f->dir, CONVNEXT_ERROR_IO, "config.json", NULL);
}

static void
test_missing_weights (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (g_remove (f->weights), ==, 0);
  expect_error (f->dir, CONVNEXT_ERROR_IO, "model.safetensors", NULL);
}

/* Permission bits do not stop root: replacing the file by a directory makes it unreadable for
 * everyone. */
static void
make_unreadable (const char *path, gboolean as_directory)
{
  if (as_directory) {
    g_assert_cmpint (g_remove (path), ==, 0);
    g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  } else {
    g_assert_cmpint (g_chmod (path, 0), ==, 0);
  }
}

static void
test_config_unreadable (Fixture *f, gconstpointer data)
{
  if (geteuid () == 0) {
    g_test_skip ("root reads files whatever their mode (see config-is-directory)");
    return;
  }
  make_unreadable (f->config, FALSE);
  expect_error (f->dir, CONVNEXT_ERROR_IO, "config.json", NULL);
}

static void
test_config_is_directory (Fixture *f, gconstpointer data)
{
  make_unreadable (f->config, TRUE);
  expect_error (f->dir, CONVNEXT_ERROR_IO, "config.json", NULL);
}

static void
test_weights_unreadable (Fixture *f, gconstpointer data)
{
  if (geteuid () == 0) {
    g_test_skip ("root reads files whatever their mode (see safetensors-is-directory)");
    return;
  }
  make_unreadable (f->weights, FALSE);
  expect_error (f->dir, CONVNEXT_ERROR_IO, "model.safetensors", NULL);
}

static void
test_weights_is_directory (Fixture *f, gconstpointer data)
{
  make_unreadable (f->weights, TRUE);
  expect_error (f->dir, CONVNEXT_ERROR_IO, "model.safetensors", NULL);
}

/* ---- model.safetensors ---------------------------------------------------------------------- */

/* The file split into its parts: header (parsed) and data section. */
typedef struct {
  JsonParser *parser;
  JsonObject *header;
  GBytes *data;
} SafeTensors;

static void
st_read (Fixture *f, SafeTensors *st)
{
  g_autofree char *contents = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  guint64 n;

  g_file_get_contents (f->weights, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (len, >=, 8);
  memcpy (&n, contents, 8);
  n = GUINT64_FROM_LE (n);
  g_assert_cmpuint (8 + n, <=, len);
  st->parser = json_parser_new ();
  json_parser_load_from_data (st->parser, contents + 8, n, &error);
  g_assert_no_error (error);
  st->header = json_node_get_object (json_parser_get_root (st->parser));
  st->data = g_bytes_new (contents + 8 + n, len - 8 - n);
}

static void
st_clear (SafeTensors *st)
{
  g_clear_object (&st->parser);
  g_clear_pointer (&st->data, g_bytes_unref);
}

/* Writes length field @n, then @header, then @data. */
static void
write_raw (const char *path, guint64 n, const char *header, gsize header_len, const void *data, gsize data_len)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint64 le = GUINT64_TO_LE (n);
  g_byte_array_append (out, (const guint8 *) &le, 8);
  g_byte_array_append (out, (const guint8 *) header, header_len);
  g_byte_array_append (out, data, data_len);
  write_file (path, out->data, out->len);
}

/* Writes @st back with its (edited) header and its data section as they are. */
static void
st_write (Fixture *f, SafeTensors *st)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  gsize n, data_len;
  json_generator_set_root (gen, json_parser_get_root (st->parser));
  g_autofree char *header = json_generator_to_data (gen, &n);
  const void *data = g_bytes_get_data (st->data, &data_len);
  write_raw (f->weights, n, header, n, data, data_len);
}

/* Rewrites the file with a consistent layout (contiguous offsets in header order) from tensors
 * given as {name, dtype, shape JSON, bytes}; used to build files that are well-formed but hold the
 * wrong tensors. */
static void
st_rebuild (Fixture *f, SafeTensors *st, const char *drop, const char *replace, const char *dtype,
    const char *shape, gsize replace_len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GByteArray) data = g_byte_array_new ();
  g_autoptr (GList) names = json_object_get_members (st->header);
  gsize src_len;
  const guint8 *src = g_bytes_get_data (st->data, &src_len);

  json_builder_begin_object (b);
  for (GList *l = names; l; l = l->next) {
    const char *name = l->data;
    if (g_str_equal (name, "__metadata__") || g_strcmp0 (name, drop) == 0)
      continue;
    JsonObject *t = json_object_get_object_member (st->header, name);
    JsonArray *off = json_object_get_array_member (t, "data_offsets");
    gsize begin = json_array_get_int_element (off, 0), end = json_array_get_int_element (off, 1);
    gsize start = data->len;
    json_builder_set_member_name (b, name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype");
    if (g_strcmp0 (name, replace) == 0) {
      g_autoptr (JsonParser) sp = json_parser_new ();
      g_assert_true (json_parser_load_from_data (sp, shape, -1, NULL));
      json_builder_add_string_value (b, dtype);
      json_builder_set_member_name (b, "shape");
      json_builder_add_value (b, json_node_copy (json_parser_get_root (sp)));
      for (gsize i = 0; i < replace_len; i++)  /* any finite pattern will do */
        g_byte_array_append (data, &src[i % (end - begin) + begin], 1);
    } else {
      json_builder_add_string_value (b, json_object_get_string_member (t, "dtype"));
      json_builder_set_member_name (b, "shape");
      json_builder_add_value (b, json_node_copy (json_object_get_member (t, "shape")));
      g_byte_array_append (data, src + begin, end - begin);
    }
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, start);
    json_builder_add_int_value (b, data->len);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_set_member_name (b, "__metadata__");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "pt");
  json_builder_end_object (b);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  gsize n;
  json_generator_set_root (gen, root);
  g_autofree char *header = json_generator_to_data (gen, &n);
  write_raw (f->weights, n, header, n, data->data, data->len);
}

static JsonObject *
st_tensor (SafeTensors *st, const char *name)
{
  g_assert_true (json_object_has_member (st->header, name));
  return json_object_get_object_member (st->header, name);
}

static void
set_offsets (JsonObject *t, gint64 begin, gint64 end)
{
  JsonArray *a = json_array_new ();
  json_array_add_int_element (a, begin);
  json_array_add_int_element (a, end);
  json_object_set_array_member (t, "data_offsets", a);
}

static void
set_shape (JsonObject *t, const gint64 *dims, guint n)
{
  JsonArray *a = json_array_new ();
  for (guint i = 0; i < n; i++)
    json_array_add_int_element (a, dims[i]);
  json_object_set_array_member (t, "shape", a);
}

static void
expect_weights_error (Fixture *f, const char *tensor, const char *other)
{
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "model.safetensors", tensor, other, NULL);
}

static void
test_st_empty (Fixture *f, gconstpointer data)
{
  write_file (f->weights, "", 0);
  expect_weights_error (f, NULL, NULL);
}

static void
test_st_shorter_than_length (Fixture *f, gconstpointer data)
{
  write_file (f->weights, "\x10\0\0\0\0", 5);
  expect_weights_error (f, NULL, NULL);
}

static void
test_st_header_beyond_file (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  gsize len;
  const char *header = "{\"__metadata__\": {\"format\": \"pt\"}}";
  const void *d = g_bytes_get_data (st.data, &len);
  /* Claims one byte more header than there is file. */
  write_raw (f->weights, strlen (header) + len + 1, header, strlen (header), d, len);
  st_clear (&st);
  expect_weights_error (f, NULL, NULL);
}

static void
test_st_header_huge (Fixture *f, gconstpointer data)
{
  const char *header = "{}";
  write_raw (f->weights, 150 * 1000 * 1000, header, 2, NULL, 0);
  expect_weights_error (f, NULL, NULL);
}

static void
test_st_header_length_overflow (Fixture *f, gconstpointer data)
{
  /* 8 + n wraps around to 7 in 64-bit arithmetic. */
  const char *header = "{}";
  write_raw (f->weights, G_MAXUINT64, header, 2, NULL, 0);
  expect_weights_error (f, NULL, NULL);
}

static void
test_st_header_not_json (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  gsize len;
  const void *d = g_bytes_get_data (st.data, &len);
  const char *header = "this is not JSON at all {";
  write_raw (f->weights, strlen (header), header, strlen (header), d, len);
  st_clear (&st);
  expect_weights_error (f, NULL, NULL);
}

/* Padded with NUL bytes instead of spaces: refused, and the message says so (json-glib
 * alone blamed UTF-8). */
static void
test_st_header_nul_padding (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  gsize n, len;

  st_read (f, &st);
  json_generator_set_root (gen, json_parser_get_root (st.parser));
  g_autofree char *json = json_generator_to_data (gen, &n);
  g_autofree char *header = g_malloc0 (n + 8);
  memcpy (header, json, n);
  const void *d = g_bytes_get_data (st.data, &len);
  write_raw (f->weights, n + 8, header, n + 8, d, len);
  st_clear (&st);
  expect_weights_error (f, "non-whitespace padding after the JSON", NULL);
}

/* Offsets past 64 bits, as written. */
static void
test_st_offsets_2_pow_64 (Fixture *f, gconstpointer data)
{
  const char *header = "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], "
      "\"data_offsets\": [0, 18446744073709551620]}}";
  write_raw (f->weights, strlen (header), header, strlen (header), "\0\0\0\0", 4);
  expect_weights_error (f, "a[\"data_offsets\"][1]: 18446744073709551620", NULL);
}

static void
test_st_header_not_object (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  gsize len;
  const void *d = g_bytes_get_data (st.data, &len);
  const char *header = "[\"" DWCONV "\", \"F32\"]   ";
  write_raw (f->weights, strlen (header), header, strlen (header), d, len);
  st_clear (&st);
  expect_weights_error (f, NULL, NULL);
}

static void
test_st_entry_not_object (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  json_object_set_string_member (st.header, DWCONV, "F32");
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, DWCONV, NULL);
}

static void
test_st_unknown_dtype (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  json_object_set_string_member (st_tensor (&st, DWCONV), "dtype", "Q7");
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, DWCONV, NULL);
}

static void
test_st_unsupported_dtype (Fixture *f, gconstpointer data)
{
  /* A well-formed I64 tensor (8 bytes per element) where floats are needed. */
  SafeTensors st;
  st_read (f, &st);
  st_rebuild (f, &st, NULL, DWCONV, "I64", "[10, 1, 7, 7]", 10 * 49 * 8);
  st_clear (&st);
  expect_weights_error (f, DWCONV, NULL);
}

/* The tensor whose data ends last. */
static const char *
last_tensor (SafeTensors *st)
{
  g_autoptr (GList) names = json_object_get_members (st->header);
  const char *last = NULL;
  gint64 last_end = -1;
  for (GList *l = names; l; l = l->next) {
    if (g_str_equal (l->data, "__metadata__"))
      continue;
    JsonArray *off = json_object_get_array_member (st_tensor (st, l->data), "data_offsets");
    if (json_array_get_int_element (off, 1) > last_end) {
      last_end = json_array_get_int_element (off, 1);
      last = l->data;
    }
  }
  return last;
}

static void
test_st_offsets_outside_data (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  g_autofree char *name = g_strdup (last_tensor (&st));
  JsonArray *off = json_object_get_array_member (st_tensor (&st, name), "data_offsets");
  gint64 begin = json_array_get_int_element (off, 0), end = json_array_get_int_element (off, 1);
  /* Same length, shifted 64 bytes past the end of the data section. */
  set_offsets (st_tensor (&st, name), begin + 64, end + 64);
  st_write (f, &st);
  st_clear (&st);
  g_test_message ("moved %s", name);
  expect_weights_error (f, name, NULL);
}

static void
test_st_offsets_reversed (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  JsonArray *off = json_object_get_array_member (st_tensor (&st, DWCONV), "data_offsets");
  gint64 begin = json_array_get_int_element (off, 0), end = json_array_get_int_element (off, 1);
  set_offsets (st_tensor (&st, DWCONV), end, begin);
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, DWCONV, NULL);
}

static void
test_st_offsets_overlap (Fixture *f, gconstpointer data)
{
  /* Two [14] tensors, the second pointed at the first one's bytes. */
  SafeTensors st;
  st_read (f, &st);
  JsonArray *off = json_object_get_array_member (st_tensor (&st, LN_BIAS), "data_offsets");
  set_offsets (st_tensor (&st, LN_WEIGHT), json_array_get_int_element (off, 0),
      json_array_get_int_element (off, 1));
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, LN_WEIGHT, LN_BIAS);
}

static void
test_st_offsets_negative (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  set_offsets (st_tensor (&st, LN_BIAS), -56, 0);
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, LN_BIAS, NULL);
}

static void
test_st_offsets_huge (Fixture *f, gconstpointer data)
{
  /* begin + length overflows 64 bits if added to the data start carelessly. */
  SafeTensors st;
  st_read (f, &st);
  set_offsets (st_tensor (&st, LN_BIAS), G_MAXINT64 - 55, G_MAXINT64);
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, LN_BIAS, NULL);
}

static void
test_st_offsets_gap (Fixture *f, gconstpointer data)
{
  /* The last tensor moved 4 bytes further, the file grown by 4 bytes: everything is inside the
   * file, but the data section has a hole, which the safetensors library rejects. */
  SafeTensors st;
  st_read (f, &st);
  g_autofree char *name = g_strdup (last_tensor (&st));
  JsonArray *off = json_object_get_array_member (st_tensor (&st, name), "data_offsets");
  gint64 begin = json_array_get_int_element (off, 0), end = json_array_get_int_element (off, 1);
  set_offsets (st_tensor (&st, name), begin + 4, end + 4);
  gsize len;
  const guint8 *d = g_bytes_get_data (st.data, &len);
  g_autofree guint8 *grown = g_malloc0 (len + 4);
  memcpy (grown, d, begin);
  memcpy (grown + begin + 4, d + begin, end - begin);
  g_bytes_unref (st.data);
  st.data = g_bytes_new (grown, len + 4);
  st_write (f, &st);
  st_clear (&st);
  g_test_message ("moved %s", name);
  expect_weights_error (f, name, NULL);
}

static void
test_st_shape_negative (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  const gint64 dims[] = { -1, -14 };
  set_shape (st_tensor (&st, LN_BIAS), dims, 2);
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, LN_BIAS, NULL);
}

static void
test_st_shape_overflow (Fixture *f, gconstpointer data)
{
  /* 2^62 x 4 elements x 4 bytes wraps to 0 in 64 bits; stored with 0 data bytes. */
  SafeTensors st;
  st_read (f, &st);
  st_rebuild (f, &st, NULL, LN_BIAS, "F32", "[4611686018427387904, 4]", 0);
  st_clear (&st);
  expect_weights_error (f, LN_BIAS, NULL);
}

static void
test_st_offsets_not_integers (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  json_object_set_string_member (st_tensor (&st, LN_BIAS), "data_offsets", "0-56");
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, LN_BIAS, NULL);
}

static void
test_st_byte_length_mismatch (Fixture *f, gconstpointer data)
{
  /* Shape [15] over 14 floats. */
  SafeTensors st;
  st_read (f, &st);
  const gint64 dims[] = { 15 };
  set_shape (st_tensor (&st, LN_BIAS), dims, 1);
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, LN_BIAS, NULL);
}

static void
test_st_missing_tensor (Fixture *f, gconstpointer data)
{
  SafeTensors st;
  st_read (f, &st);
  st_rebuild (f, &st, PWCONV1, NULL, NULL, NULL, 0);
  st_clear (&st);
  expect_weights_error (f, PWCONV1, NULL);
}

static void
test_st_missing_layer_scale (Fixture *f, gconstpointer data)
{
  /* config.json has layer_scale_init_value 1e-6, so every block needs its gamma. */
  SafeTensors st;
  st_read (f, &st);
  st_rebuild (f, &st, GAMMA, NULL, NULL, NULL, 0);
  st_clear (&st);
  expect_weights_error (f, GAMMA, NULL);
}

static void
test_st_wrong_shape_same_size (Fixture *f, gconstpointer data)
{
  /* [10, 7, 7, 1] has as many elements as [10, 1, 7, 7]: only a shape check catches it. */
  SafeTensors st;
  st_read (f, &st);
  const gint64 dims[] = { 10, 7, 7, 1 };
  set_shape (st_tensor (&st, DWCONV), dims, 4);
  st_write (f, &st);
  st_clear (&st);
  expect_weights_error (f, DWCONV, NULL);
}

static void
test_st_wrong_shape_patch (Fixture *f, gconstpointer data)
{
  /* A 3x3 patch embedding in a patch_size 2 model, stored consistently. */
  SafeTensors st;
  st_read (f, &st);
  st_rebuild (f, &st, NULL, PATCH, "F32", "[6, 3, 3, 3]", 6 * 3 * 3 * 3 * 4);
  st_clear (&st);
  expect_weights_error (f, PATCH, NULL);
}

static void
test_st_wrong_shape_classifier (Fixture *f, gconstpointer data)
{
  /* 6 classifier rows for the 5 labels of id2label. */
  SafeTensors st;
  st_read (f, &st);
  st_rebuild (f, &st, NULL, "classifier.weight", "F32", "[6, 14]", 6 * 14 * 4);
  st_clear (&st);
  expect_weights_error (f, "classifier.weight", NULL);
}

/* ---- architecture: model_type and tensors the config does not explain ------------------------- */

CONFIG_TEST (test_model_type_missing, "model_type", NULL, "model_type", NULL)

static void
test_model_type_other (Fixture *f, gconstpointer data)
{
  set_config_key (f, "model_type", "\"resnet\"");
  expect_error (f->dir, CONVNEXT_ERROR_UNSUPPORTED, "config.json", "\"resnet\"", NULL);
}

/* Renames every tensor that starts with @from to start with @to instead. */
static void
st_rename_prefix (Fixture *f, const char *from, const char *to)
{
  SafeTensors st;
  g_autoptr (GList) names = NULL;

  st_read (f, &st);
  names = json_object_get_members (st.header);
  for (GList *l = names; l; l = l->next) {
    if (!g_str_has_prefix (l->data, from))
      continue;
    g_autofree char *renamed = g_strconcat (to, (char *) l->data + strlen (from), NULL);
    json_object_set_member (st.header, renamed, json_node_copy (json_object_get_member (st.header, l->data)));
    json_object_remove_member (st.header, l->data);
  }
  st_write (f, &st);
  st_clear (&st);
}

/* The case: a V2 checkpoint whose tensors were renamed to convnext.* and whose config says
 * "convnext" used to load and silently skip GRN. */
static void
test_v2_renamed_as_v1 (Fixture *f, gconstpointer data)
{
  st_rename_prefix (f, "convnextv2.", "convnext.");
  set_config_key (f, "model_type", "\"convnext\"");
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "model.safetensors", ".grn.", NULL);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "config.json", "should say \"convnextv2\"", NULL);
}

static void
test_v2_weights_v1_config (Fixture *f, gconstpointer data)
{
  set_config_key (f, "model_type", "\"convnext\"");
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "model.safetensors", "convnextv2.", NULL);
}

static void
test_v1_weights_v2_config (Fixture *f, gconstpointer data)
{
  set_config_key (f, "model_type", "\"convnextv2\"");
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "model.safetensors", "model_type \"convnextv2\"", NULL);
}

static void
test_layer_scale_switched_off (Fixture *f, gconstpointer data)
{
  set_config_key (f, "layer_scale_init_value", "0.0");
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "model.safetensors", "layer_scale_parameter", NULL);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "config.json", "layer_scale_init_value", NULL);
}

static void
test_more_layers_than_depths (Fixture *f, gconstpointer data)
{
  set_config_key (f, "depths", "[1, 1, 1]");
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "model.safetensors", "stages.1.layers.1.", NULL);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "config.json", "depths", NULL);
}

/* ---- which files are read ------------------------------------------------------------------- */

/* transformers prefers model.safetensors: a broken pytorch_model.bin beside it is not read. */
static void
test_safetensors_preferred (Fixture *f, gconstpointer data)
{
  g_autofree char *bin = g_build_filename (f->dir, "pytorch_model.bin", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = NULL;

  write_file (bin, "not a zip", -1);
  model = convnext_model_new (f->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  /* and alone, the same .bin is read (and refused) */
  g_assert_cmpint (g_remove (f->weights), ==, 0);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, "pytorch_model.bin", "not a zip", NULL);
}

static void
test_no_weights_but_tf (Fixture *f, gconstpointer data)
{
  g_autofree char *tf = g_build_filename (f->dir, "tf_model.h5", NULL);

  g_assert_cmpint (g_remove (f->weights), ==, 0);
  write_file (tf, "HDF5", -1);
  expect_error (f->dir, CONVNEXT_ERROR_IO, f->dir, "pytorch_model.bin", "tf_model.h5", NULL);
}

/* ---- sharded checkpoints (fixture mini-sharded-st: 3 safetensors shards) ---------------------- */

#define SHARD_INDEX "model.safetensors.index.json"
#define SHARD_1 "model-00001-of-00003.safetensors"
#define SHARD_2 "model-00002-of-00003.safetensors"

/* Sets weight_map entries whose value is @shard to @value (all of them, or only the first). */
static void
set_shard (Fixture *f, const char *shard, const char *value, gboolean all)
{
  g_autofree char *path = g_build_filename (f->dir, SHARD_INDEX, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GList) names = NULL;
  JsonObject *map;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  map = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "weight_map");
  names = json_object_get_members (map);
  for (GList *l = names; l; l = l->next) {
    if (g_str_equal (json_object_get_string_member (map, l->data), shard)) {
      json_object_set_string_member (map, l->data, value);
      if (!all)
        break;
    }
  }
  write_json (path, json_parser_get_root (parser));
}

static void
test_shard_outside_dir (Fixture *f, gconstpointer data)
{
  g_autofree char *value = g_strconcat ("../", SHARD_1, NULL);
  set_shard (f, SHARD_1, value, TRUE);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, SHARD_INDEX, "not a file name in the same directory", NULL);
}

static void
test_shard_missing (Fixture *f, gconstpointer data)
{
  g_autofree char *shard = g_build_filename (f->dir, SHARD_2, NULL);
  g_assert_cmpint (g_remove (shard), ==, 0);
  expect_error (f->dir, CONVNEXT_ERROR_IO, SHARD_2, SHARD_INDEX, NULL);
}

static void
test_shard_wrong_file (Fixture *f, gconstpointer data)
{
  set_shard (f, SHARD_1, SHARD_2, FALSE);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, SHARD_INDEX, "is not in " SHARD_2, NULL);
}

static void
test_shard_duplicate_tensor (Fixture *f, gconstpointer data)
{
  g_autofree char *one = g_build_filename (f->dir, SHARD_1, NULL);
  g_autofree char *two = g_build_filename (f->dir, SHARD_2, NULL);
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (one, &contents, &len, NULL));
  write_file (two, contents, len);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, SHARD_1, "appears twice", NULL);
}

static void
test_index_not_json (Fixture *f, gconstpointer data)
{
  g_autofree char *path = g_build_filename (f->dir, SHARD_INDEX, NULL);
  write_file (path, "{\"weight_map\": [", -1);
  expect_error (f->dir, CONVNEXT_ERROR_INVALID_WEIGHTS, SHARD_INDEX, "JSON", NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_set_nonfatal_assertions ();

#define ADD(path, fn) g_test_add ("/loader-errors/" path, Fixture, NULL, setup, fn, teardown)
  ADD ("missing-dir", test_missing_dir);
  ADD ("missing-config", test_missing_config);
  ADD ("missing-safetensors", test_missing_weights);
  ADD ("config-unreadable", test_config_unreadable);
  ADD ("config-is-directory", test_config_is_directory);
  ADD ("safetensors-unreadable", test_weights_unreadable);
  ADD ("safetensors-is-directory", test_weights_is_directory);

  ADD ("config-syntax-error", test_config_syntax_error);
  ADD ("config-empty", test_config_empty);
  ADD ("config-not-object", test_config_not_object);
  ADD ("config-missing-hidden_sizes", test_config_missing_hidden_sizes);
  ADD ("config-missing-depths", test_config_missing_depths);
  ADD ("config-hidden_sizes-string", test_config_hidden_sizes_string);
  ADD ("config-depths-element-string", test_config_depths_element_string);
  ADD ("config-depths-fraction", test_config_depths_fraction);
  ADD ("config-patch_size-string", test_config_patch_size_string);
  ADD ("config-patch_size-zero", test_config_patch_size_zero);
  ADD ("config-hidden_sizes-negative", test_config_hidden_size_negative);
  ADD ("config-hidden_act-number", test_config_hidden_act_number);
  ADD ("config-hidden_act-unknown", test_config_hidden_act_unknown);
  ADD ("config-hidden_act-selu", test_config_hidden_act_selu);
  ADD ("config-depths-length", test_config_depths_length);
  ADD ("config-hidden_sizes-length", test_config_hidden_sizes_length);
  ADD ("config-layer_norm_eps-string", test_config_layer_norm_eps_string);
  ADD ("config-id2label-array", test_config_id2label_array);
  ADD ("config-out_features-unknown", test_config_out_features_unknown);
  ADD ("config-out_indices-out-of-range", test_config_out_indices_range);
  ADD ("config-id2label-gap", test_config_id2label_gap);
  ADD ("config-id2label-missing-key", test_config_id2label_missing_key);
  ADD ("config-depths-2^64", test_config_depths_2_pow_64);
  ADD ("config-out_indices-2^64-1", test_config_out_indices_2_pow_64);
  ADD ("config-nested-too-deep", test_config_nested_too_deep);
  ADD ("config-id2label-octal-escape", test_config_id2label_octal_escape);

  ADD ("safetensors-empty", test_st_empty);
  ADD ("safetensors-shorter-than-length-field", test_st_shorter_than_length);
  ADD ("safetensors-header-beyond-file", test_st_header_beyond_file);
  ADD ("safetensors-header-huge", test_st_header_huge);
  ADD ("safetensors-header-length-overflow", test_st_header_length_overflow);
  ADD ("safetensors-header-not-json", test_st_header_not_json);
  ADD ("safetensors-header-not-object", test_st_header_not_object);
  ADD ("safetensors-header-nul-padding", test_st_header_nul_padding);
  ADD ("safetensors-offsets-2^64", test_st_offsets_2_pow_64);
  ADD ("safetensors-entry-not-object", test_st_entry_not_object);
  ADD ("safetensors-unknown-dtype", test_st_unknown_dtype);
  ADD ("safetensors-unsupported-dtype", test_st_unsupported_dtype);
  ADD ("safetensors-offsets-outside-data", test_st_offsets_outside_data);
  ADD ("safetensors-offsets-reversed", test_st_offsets_reversed);
  ADD ("safetensors-offsets-overlap", test_st_offsets_overlap);
  ADD ("safetensors-offsets-negative", test_st_offsets_negative);
  ADD ("safetensors-offsets-huge", test_st_offsets_huge);
  ADD ("safetensors-offsets-gap", test_st_offsets_gap);
  ADD ("safetensors-offsets-not-integers", test_st_offsets_not_integers);
  ADD ("safetensors-shape-negative", test_st_shape_negative);
  ADD ("safetensors-shape-overflow", test_st_shape_overflow);
  ADD ("safetensors-byte-length-mismatch", test_st_byte_length_mismatch);
  ADD ("safetensors-missing-tensor", test_st_missing_tensor);
  ADD ("safetensors-missing-layer-scale", test_st_missing_layer_scale);
  ADD ("safetensors-wrong-shape-same-size", test_st_wrong_shape_same_size);
  ADD ("safetensors-wrong-shape-patch", test_st_wrong_shape_patch);
  ADD ("safetensors-wrong-shape-classifier", test_st_wrong_shape_classifier);

  ADD ("model_type-missing", test_model_type_missing);
  ADD ("model_type-other", test_model_type_other);
  ADD ("layer-scale-switched-off", test_layer_scale_switched_off);
  ADD ("more-layers-than-depths", test_more_layers_than_depths);
  ADD ("v1-weights-v2-config", test_v1_weights_v2_config);
  ADD ("safetensors-preferred-to-bin", test_safetensors_preferred);
  ADD ("no-weights-but-tf_model.h5", test_no_weights_but_tf);
#undef ADD
#define ADD_ON(model, path, fn) g_test_add ("/loader-errors/" path, Fixture, model, setup, fn, teardown)
  ADD_ON ("v2-f32", "v2-renamed-as-v1", test_v2_renamed_as_v1);
  ADD_ON ("v2-f32", "v2-weights-v1-config", test_v2_weights_v1_config);
  ADD_ON ("mini-sharded-st", "shard-outside-dir", test_shard_outside_dir);
  ADD_ON ("mini-sharded-st", "shard-missing", test_shard_missing);
  ADD_ON ("mini-sharded-st", "shard-wrong-file", test_shard_wrong_file);
  ADD_ON ("mini-sharded-st", "shard-duplicate-tensor", test_shard_duplicate_tensor);
  ADD_ON ("mini-sharded-st", "index-not-json", test_index_not_json);
#undef ADD_ON

  return g_test_run ();
}
