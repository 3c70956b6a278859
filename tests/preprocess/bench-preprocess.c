/* Micro-benchmark (not a test): one 1920x1080 I420 frame → pixel_values, median of many runs.
 *
 *   bench-preprocess [MODEL_DIR] [--format I420|NV12|RGB|BGRx] [--runs N]
 *
 * MODEL_DIR's preprocessor_config.json is used when it has one; otherwise the configuration
 * of facebook/convnext-tiny-224 (shortest_edge 224, crop_pct 0.875, bicubic, ImageNet
 * mean/std).  Prints a line of text and a JSON line with median_ms, the wall-clock median
 * (tests/benchmark/bench.py reads it), and cpu_median_ms, the median of the thread's CPU
 * time, which a busy machine disturbs less. */
#include <convnext.h>

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define WIDTH 1920
#define HEIGHT 1080

static const char *convnext_224 = "{\"size\": {\"shortest_edge\": 224}, \"crop_pct\": 0.875, "
    "\"resample\": 3, \"do_rescale\": true, \"rescale_factor\": 0.00392156862745098, "
    "\"do_normalize\": true, \"image_mean\": [0.485, 0.456, 0.406], "
    "\"image_std\": [0.229, 0.224, 0.225]}";

static double
cpu_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* A frame with some structure (gradients and a moving-ish pattern), so that nothing is
 * trivially constant. */
static void
fill (guint8 *p, gsize n, guint seed)
{
  for (gsize i = 0; i < n; i++)
    p[i] = (guint8) ((i * 7 + (i / WIDTH) * 3 + seed * 13) ^ (i >> 5));
}

int
main (int argc, char **argv)
{
  const char *model_dir = NULL, *format_name = "I420";
  guint runs = 300;
  g_autofree char *tmp_dir = NULL, *tmp_config = NULL, *config_path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextPreprocessor) pre = NULL;
  g_autofree guint8 *buffer = NULL;
  g_autofree float *pixel_values = NULL;
  g_autofree double *ms = NULL, *cpu = NULL;
  ConvNextImage image = { .width = WIDTH, .height = HEIGHT, .matrix = CONVNEXT_COLOR_MATRIX_BT709,
    .chroma_site = CONVNEXT_CHROMA_SITE_MPEG2 };
  guint out_w, out_h;

  for (int i = 1; i < argc; i++) {
    if (g_str_equal (argv[i], "--format") && i + 1 < argc)
      format_name = argv[++i];
    else if (g_str_equal (argv[i], "--runs") && i + 1 < argc && atoi (argv[i + 1]) > 0)
      runs = atoi (argv[++i]);
    else if (argv[i][0] != '-')
      model_dir = argv[i];
    else {
      fprintf (stderr, "usage: %s [MODEL_DIR] [--format I420|NV12|RGB|BGRx] [--runs N]\n",
          argv[0]);
      return 2;
    }
  }

  if (model_dir != NULL) {
    config_path = g_build_filename (model_dir, "preprocessor_config.json", NULL);
    if (!g_file_test (config_path, G_FILE_TEST_EXISTS))
      model_dir = NULL;
  }
  if (model_dir == NULL) {
    tmp_dir = g_dir_make_tmp ("bench-preprocess-XXXXXX", &error);
    if (tmp_dir != NULL) {
      tmp_config = g_build_filename (tmp_dir, "preprocessor_config.json", NULL);
      g_file_set_contents (tmp_config, convnext_224, -1, &error);
    }
    if (error != NULL) {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
    model_dir = tmp_dir;
  }
  pre = convnext_preprocessor_new (model_dir, &error);
  if (tmp_dir != NULL) {
    g_unlink (tmp_config);
    g_rmdir (tmp_dir);
  }
  if (pre == NULL) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }

  buffer = g_malloc (WIDTH * HEIGHT * 4);
  fill (buffer, WIDTH * HEIGHT * 4, 1);
  if (g_str_equal (format_name, "I420")) {
    image.format = CONVNEXT_PIXEL_FORMAT_I420;
    image.data[0] = buffer;
    image.data[1] = buffer + WIDTH * HEIGHT;
    image.data[2] = image.data[1] + WIDTH * HEIGHT / 4;
    image.stride[0] = WIDTH;
    image.stride[1] = image.stride[2] = WIDTH / 2;
  } else if (g_str_equal (format_name, "NV12")) {
    image.format = CONVNEXT_PIXEL_FORMAT_NV12;
    image.data[0] = buffer;
    image.data[1] = buffer + WIDTH * HEIGHT;
    image.stride[0] = image.stride[1] = WIDTH;
  } else if (g_str_equal (format_name, "RGB")) {
    image.format = CONVNEXT_PIXEL_FORMAT_RGB;
    image.data[0] = buffer;
    image.stride[0] = WIDTH * 3;
  } else if (g_str_equal (format_name, "BGRx")) {
    image.format = CONVNEXT_PIXEL_FORMAT_BGRX;
    image.data[0] = buffer;
    image.stride[0] = WIDTH * 4;
  } else {
    fprintf (stderr, "unknown format %s\n", format_name);
    return 2;
  }

  convnext_preprocessor_get_output_size (pre, WIDTH, HEIGHT, &out_w, &out_h);
  pixel_values = g_new (float, 3 * (gsize) out_w * out_h);
  ms = g_new (double, runs);
  cpu = g_new (double, runs);
  for (guint i = 0; i < runs + 5; i++) {
    gint64 start = g_get_monotonic_time ();
    double cpu_start = cpu_ms ();
    if (!convnext_preprocessor_process (pre, &image, NULL, pixel_values, &error)) {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
    if (i >= 5) {   /* the first frames build the plan and warm the caches */
      ms[i - 5] = (g_get_monotonic_time () - start) / 1000.0;
      cpu[i - 5] = cpu_ms () - cpu_start;
    }
  }
  qsort (ms, runs, sizeof (double), compare_doubles);
  qsort (cpu, runs, sizeof (double), compare_doubles);

  printf ("preprocess %s %dx%d -> %ux%u: median %.3f ms, min %.3f ms, CPU time median %.3f ms "
      "(%u runs)\n", format_name, WIDTH, HEIGHT, out_w, out_h, ms[runs / 2], ms[0],
      cpu[runs / 2], runs);
  printf ("{\"name\": \"preprocess\", \"format\": \"%s\", \"input\": \"%dx%d\", "
      "\"output\": \"%ux%u\", \"runs\": %u, \"median_ms\": %.4f, \"min_ms\": %.4f, "
      "\"cpu_median_ms\": %.4f}\n", format_name, WIDTH, HEIGHT, out_w, out_h, runs,
      ms[runs / 2], ms[0], cpu[runs / 2]);
  return 0;
}
