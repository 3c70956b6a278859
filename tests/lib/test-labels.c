/* convnext_labels_parse: how a labels file is split into labels, and what it refuses. */
#include <string.h>

#include "convnext.h"

typedef struct {
  const char *name;
  const char *text;
  gsize length;                 /* bytes of text (it may hold NULs) */
  const char *labels[5];        /* expected, NULL-terminated; unused when error is set */
  const char *error;            /* expected in the message, or NULL */
} Case;

#define T(s) s, sizeof (s) - 1

static const Case cases[] = {
  { "lf", T ("cat\ndog\n"), { "cat", "dog" }, NULL },
  { "crlf", T ("cat\r\ndog\r\n"), { "cat", "dog" }, NULL },
  { "no-final-newline", T ("cat\ndog"), { "cat", "dog" }, NULL },
  { "trailing-blank-lines", T ("cat\ndog\n\n \n"), { "cat", "dog" }, NULL },
  { "inner-blank-line-is-a-label", T ("cat\n\ndog\n"), { "cat", "", "dog" }, NULL },
  { "trailing-spaces-dropped", T ("cat  \t\ndog\n"), { "cat", "dog" }, NULL },
  { "leading-spaces-kept", T ("  cat\n"), { "  cat" }, NULL },
  { "bom-skipped", T ("\xef\xbb\xbf" "cat\ndog\n"), { "cat", "dog" }, NULL },
  { "utf8", T ("caf\xc3\xa9\n\xe7\x8c\xab\n"), { "caf\xc3\xa9", "\xe7\x8c\xab" }, NULL },
  { "empty", T (""), { NULL }, NULL },
  { "only-newlines", T ("\n\n"), { NULL }, NULL },
  { "nul-byte", T ("cat\ndo\0g\n"), { NULL }, "line 2 holds a NUL byte" },
  { "latin1", T ("cat\ncaf\xe9\n"), { NULL }, "line 2 is not UTF-8" },
  { "truncated-utf8", T ("cat\n\xe7\x8c"), { NULL }, "line 2 is not UTF-8" },
};

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  guint n = 99;
  g_auto (GStrv) labels = convnext_labels_parse ("labels.txt", c->text, c->length, &n, &error);

  if (c->error != NULL) {
    g_assert_null (labels);
    g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_CONFIG);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "labels.txt"));
    g_assert_nonnull (strstr (error->message, c->error));
    g_assert_cmpuint (n, ==, 0);
    return;
  }
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, g_strv_length ((char **) c->labels));
  g_assert_cmpuint (g_strv_length (labels), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (labels[i], ==, c->labels[i]);
}

static void
test_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  guint n;
  g_auto (GStrv) labels = convnext_labels_load ("/nonexistent/labels.txt", &n, &error);

  g_assert_null (labels);
  g_assert_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/labels.txt"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = g_strdup_printf ("/labels/%s", cases[i].name);
    g_test_add_data_func (path, &cases[i], test_case);
  }
  g_test_add_func ("/labels/missing-file", test_missing_file);
  return g_test_run ();
}
