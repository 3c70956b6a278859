/* An application built out of tree against the *installed* libconvnext and libgstconvnextmeta-1.0,
 * with nothing but `pkg-config --cflags --libs convnext-1.0 gstconvnextmeta-1.0`
 * (test_install.py beside this file builds and runs it).
 *
 *   consumer MODEL_DIR PIXELS.f32 BATCH HEIGHT WIDTH K
 *
 * PIXELS.f32: raw float32 pixel_values [BATCH, 3, HEIGHT, WIDTH].  Prints the meta API's type
 * name, then one "IMAGE ID SCORE LABEL" line per result, best first. */
#include <convnext/convnext.h>
#include <convnext/gstconvnextmeta.h>

#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextModel) model = NULL;
  g_autofree char *pixels = NULL;
  g_autofree float *logits = NULL;
  ConvNextParams params;
  gsize size;
  guint batch, height, width, k, n_labels;

  if (argc != 7) {
    fprintf (stderr, "usage: %s MODEL_DIR PIXELS.f32 BATCH HEIGHT WIDTH K\n", argv[0]);
    return 2;
  }
  batch = atoi (argv[3]);
  height = atoi (argv[4]);
  width = atoi (argv[5]);
  k = atoi (argv[6]);

  gst_init (NULL, NULL);
  printf ("%s\n", g_type_name (GST_CONVNEXT_CLASSIFICATION_META_API_TYPE));

  convnext_params_init (&params);
  model = convnext_model_new (argv[1], &params, &error);
  if (model == NULL || !g_file_get_contents (argv[2], &pixels, &size, &error)) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  if (size != (gsize) batch * 3 * height * width * sizeof (float)) {
    fprintf (stderr, "%s: %zu bytes, not [%u, 3, %u, %u] float32\n", argv[2], size, batch, height,
        width);
    return 1;
  }
  n_labels = convnext_model_get_num_labels (model);
  logits = g_new (float, (gsize) batch * n_labels);
  if (!convnext_model_forward (model, (const float *) pixels, batch, height, width, logits, NULL,
          &error)) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  for (guint b = 0; b < batch; b++) {
    g_autofree ConvNextClass *top = g_new (ConvNextClass, k);
    guint n = convnext_model_top_k (model, logits + (gsize) b * n_labels, k, top);
    for (guint i = 0; i < n; i++)
      printf ("%u %u %.9g %s\n", b, top[i].id, top[i].score, top[i].label);
  }
  return 0;
}
