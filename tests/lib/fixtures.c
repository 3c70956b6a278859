#include "fixtures.h"

#include <math.h>
#include <stdlib.h>
#include <glib/gstdio.h>

const char *
fixtures_dir (void)
{
  const char *env = g_getenv ("CONVNEXT_FIXTURES_DIR");
  return env && *env ? env : CONVNEXT_FIXTURES_DIR;
}

char *
fixtures_path (const char *relative)
{
  return g_build_filename (fixtures_dir (), relative, NULL);
}

static JsonParser *manifest_parser;

static void
free_manifest (void)
{
  g_clear_object (&manifest_parser);
}

JsonObject *
fixtures_manifest (void)
{
  if (!manifest_parser) {
    g_autofree char *path = fixtures_path ("manifest.json");
    g_autoptr (GError) error = NULL;
    manifest_parser = json_parser_new ();
    if (!json_parser_load_from_file (manifest_parser, path, &error))
      g_error ("cannot read %s: %s", path, error->message);
    atexit (free_manifest);
  }
  return json_node_get_object (json_parser_get_root (manifest_parser));
}

JsonArray *
fixtures_cases (void)
{
  return json_object_get_array_member (fixtures_manifest (), "cases");
}

JsonObject *
fixtures_model (const char *name)
{
  JsonArray *models = json_object_get_array_member (fixtures_manifest (), "models");
  for (guint i = 0; i < json_array_get_length (models); i++) {
    JsonObject *m = json_array_get_object_element (models, i);
    if (g_str_equal (json_object_get_string_member (m, "name"), name))
      return m;
  }
  return NULL;
}

char *
fixtures_model_dir (const char *name)
{
  JsonObject *m = fixtures_model (name);
  g_assert_nonnull (m);
  return fixtures_path (json_object_get_string_member (m, "dir"));
}

void
fixtures_load_npy (const char *relative, NpyArray *array)
{
  g_autofree char *path = fixtures_path (relative);
  g_autoptr (GError) error = NULL;
  npy_load (path, array, &error);
  g_assert_no_error (error);
}

double
max_abs_diff (const float *got, const float *ref, gsize n)
{
  double m = 0;
  for (gsize i = 0; i < n; i++) {
    double d = fabs ((double) got[i] - (double) ref[i]);
    if (!(d <= m))  /* also catches NaN */
      m = isnan (d) ? INFINITY : d;
    if (isinf (m))
      break;
  }
  return m;
}

double
max_abs (const float *values, gsize n)
{
  double m = 0;
  for (gsize i = 0; i < n; i++)
    m = MAX (m, fabs ((double) values[i]));
  return m;
}

gboolean
check_close (const char *what, const float *got, const float *ref, gsize n)
{
  double diff = max_abs_diff (got, ref, n);
  double scale = max_abs (ref, n);
  double bound = PARITY_REL_TOL * MAX (1.0, scale);
  gboolean ok = diff <= bound;
  g_test_message ("%s: max|diff| = %.3g, max|ref| = %.3g, bound = %.3g, diff/bound = %.3g %s", what, diff,
      scale, bound, diff / bound, ok ? "ok" : "FAIL");
  if (!ok)
    g_test_fail_printf ("%s: max|diff| = %.3g exceeds %.3g (max|ref| = %.3g)", what, diff, bound, scale);
  return ok;
}

void
fixtures_copy_file (const char *from, const char *to)
{
  g_autofree char *contents = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  g_file_get_contents (from, &contents, &len, &error);
  g_assert_no_error (error);
  g_file_set_contents (to, contents, len, &error);
  g_assert_no_error (error);
}

char *
fixtures_copy_model (const char *name)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("convnext-test-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *src = fixtures_model_dir (name);
  JsonArray *files = json_object_get_array_member (fixtures_model (name), "files");
  for (guint i = 0; i <= json_array_get_length (files); i++) {
    const char *file = i == 0 ? "config.json" : json_array_get_string_element (files, i - 1);
    g_autofree char *from = g_build_filename (src, file, NULL);
    g_autofree char *to = g_build_filename (dir, file, NULL);
    fixtures_copy_file (from, to);
  }
  return dir;
}

void
fixtures_remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_chmod (path, 0700);
    GDir *dir = g_dir_open (path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      fixtures_remove_tree (child);
    }
    if (dir)
      g_dir_close (dir);
    g_rmdir (path);
  } else {
    g_remove (path);
  }
}
