/* A main() for the fuzz targets in builds without libFuzzer (gcc, the default suite): runs
 * LLVMFuzzerTestOneInput once on every file given, or on every file in the directories given
 * (a corpus), as `fuzz-TARGET CORPUS_DIR` does with -runs=0.  The data are copied into an
 * exactly sized buffer, so that ASan sees any read past the end. */
#include "fuzz.h"

#include <string.h>

static guint
run_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree uint8_t *exact = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, &error)) {
    fprintf (stderr, "%s\n", error->message);
    exit (1);
  }
  exact = g_malloc (MAX (length, 1));
  memcpy (exact, contents, length);
  LLVMFuzzerTestOneInput (exact, length);
  return 1;
}

int
main (int argc, char **argv)
{
  guint n = 0;

  if (argc < 2) {
    fprintf (stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    if (g_file_test (argv[i], G_FILE_TEST_IS_DIR)) {
      g_autoptr (GDir) dir = g_dir_open (argv[i], 0, NULL);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
      for (guint j = 0; j < names->len; j++)
        n += run_file (names->pdata[j]);
    } else {
      n += run_file (argv[i]);
    }
  }
  /* TAP, so that meson shows the count */
  printf ("1..1\nok 1 - %u inputs replayed without a crash, a leak or a broken contract\n", n);
  return 0;
}
