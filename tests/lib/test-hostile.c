/* Hostile pytorch_model.bin files (tests/fixtures/hostile/, made by tests/reference/make_hostile.py):
 * malicious pickles, pickle bombs, broken zips.  Each case puts its file as pytorch_model.bin beside the
 * fixture's config.json and loads it in a child process (g_test_trap_subprocess) whose address space is
 * capped at 1 GiB (except under AddressSanitizer, which reserves more), so that an unbounded allocation
 * fails the test instead of the machine; the child must get the CONVNEXT_ERROR code of the manifest
 * with a message naming the file and the listed strings, or ("ok") load the model and compute the same
 * logits as valid.bin.  For the malicious
 * files, whose pickle runs `touch "$CONVNEXT_MARKER"` under Python's pickle (make_hostile.py checks
 * that), the marker must not exist afterwards. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <glib/gstdio.h>

#include "convnext.h"
#include "fixtures.h"

#define ADDRESS_SPACE_LIMIT (1ull << 30)

static JsonParser *manifest;

static gint
code_of (const char *name)
{
  static const char *const codes[] = {
    [CONVNEXT_ERROR_IO] = "IO", [CONVNEXT_ERROR_INVALID_CONFIG] = "INVALID_CONFIG",
    [CONVNEXT_ERROR_INVALID_WEIGHTS] = "INVALID_WEIGHTS",
    [CONVNEXT_ERROR_INVALID_INPUT] = "INVALID_INPUT", [CONVNEXT_ERROR_UNSUPPORTED] = "UNSUPPORTED",
    [CONVNEXT_ERROR_BACKEND] = "BACKEND",
  };
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++) {
    if (g_str_equal (name, codes[i]))
      return i;
  }
  g_error ("unknown error code %s in the manifest", name);
}

/* In the child: load @dir and compare with case @c. */
static void
load_and_check (JsonObject *c, const char *dir)
{
  const char *code = json_object_get_string_member (c, "code");
  JsonArray *contains = json_object_get_array_member (c, "contains");
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = NULL;
#ifndef __SANITIZE_ADDRESS__
  struct rlimit limit = { ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT };

  g_assert_cmpint (setrlimit (RLIMIT_AS, &limit), ==, 0);
#endif
  model = convnext_model_new (dir, NULL, &error);
  if (g_str_equal (code, "ok")) {
    g_autofree char *valid_dir = g_build_filename (dir, "valid", NULL);
    g_autoptr (ConvNextModel) valid = convnext_model_new (valid_dir, NULL, &error);
    float pixels[3 * 32 * 32], got[2], want[2];

    g_assert_no_error (error);
    g_assert_nonnull (model);
    g_assert_nonnull (valid);
    /* the same weights as valid.bin, so the same logits to the bit */
    for (guint i = 0; i < G_N_ELEMENTS (pixels); i++)
      pixels[i] = (float) (i % 17) / 8.f - 1.f;
    g_assert_true (convnext_model_forward (model, pixels, 1, 32, 32, got, NULL, &error));
    g_assert_true (convnext_model_forward (valid, pixels, 1, 32, 32, want, NULL, &error));
    g_assert_cmpmem (got, sizeof got, want, sizeof want);
    return;
  }
  g_assert_null (model);
  g_assert_error (error, CONVNEXT_ERROR, code_of (code));
  g_test_message ("%s", error->message);
  if (strstr (error->message, "pytorch_model.bin") == NULL)
    g_test_fail_printf ("the message does not name the file: %s", error->message);
  for (guint i = 0; i < json_array_get_length (contains); i++) {
    const char *want = json_array_get_string_element (contains, i);
    if (strstr (error->message, want) == NULL)
      g_test_fail_printf ("the message does not say \"%s\": %s", want, error->message);
  }
}

static void
test_case (gconstpointer data)
{
  JsonObject *c = (JsonObject *) data;
  const char *file = json_object_get_string_member (c, "file");
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL, *marker = NULL, *src = NULL, *config = NULL, *relative = NULL;
  g_autofree char *to_config = NULL, *to_weights = NULL;
  gboolean armed = json_object_has_member (c, "marker");

  /* the child re-runs this function: the parent made the directory and passed it on */
  if (g_test_subprocess ()) {
    load_and_check (c, g_getenv ("CONVNEXT_TEST_DIR"));
    return;
  }
  dir = g_dir_make_tmp ("convnext-hostile-XXXXXX", &error);
  g_assert_no_error (error);
  relative = g_build_filename ("hostile", file, NULL);
  src = fixtures_path (relative);
  config = fixtures_path ("hostile/config.json");
  to_config = g_build_filename (dir, "config.json", NULL);
  to_weights = g_build_filename (dir, "pytorch_model.bin", NULL);
  fixtures_copy_file (config, to_config);
  fixtures_copy_file (src, to_weights);
  if (g_str_equal (json_object_get_string_member (c, "code"), "ok")) {
    /* the reference for the child's comparison: valid.bin beside it */
    g_autofree char *valid_dir = g_build_filename (dir, "valid", NULL);
    g_autofree char *valid_config = g_build_filename (valid_dir, "config.json", NULL);
    g_autofree char *valid_weights = g_build_filename (valid_dir, "pytorch_model.bin", NULL);
    g_autofree char *valid_src = fixtures_path ("hostile/valid.bin");
    g_assert_cmpint (g_mkdir (valid_dir, 0700), ==, 0);
    fixtures_copy_file (config, valid_config);
    fixtures_copy_file (valid_src, valid_weights);
  }
  marker = g_build_filename (dir, "marker", NULL);
  g_setenv ("CONVNEXT_MARKER", marker, TRUE);
  g_setenv ("CONVNEXT_TEST_DIR", dir, TRUE);

  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  if (armed && g_file_test (marker, G_FILE_TEST_EXISTS))
    g_test_fail_printf ("%s ran its command: %s exists", file, marker);
  g_test_trap_assert_passed ();

  fixtures_remove_tree (dir);
}

static void
free_manifest (void)
{
  g_clear_object (&manifest);
}

int
main (int argc, char **argv)
{
  g_autofree char *path = fixtures_path ("hostile/manifest.json");
  g_autoptr (GError) error = NULL;
  JsonArray *cases;

  g_test_init (&argc, &argv, NULL);
  manifest = json_parser_new ();
  if (!json_parser_load_from_file (manifest, path, &error))
    g_error ("cannot read %s: %s", path, error->message);
  atexit (free_manifest);
  cases = json_object_get_array_member (json_node_get_object (json_parser_get_root (manifest)), "cases");
  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    g_autofree char *test = g_strdup_printf ("/hostile/%s", json_object_get_string_member (c, "file"));
    g_test_add_data_func (test, c, test_case);
  }
  return g_test_run ();
}
