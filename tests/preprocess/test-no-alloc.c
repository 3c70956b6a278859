/* No allocation after the first frame of a given size: this program replaces malloc, calloc
 * and realloc (glibc lets the executable interpose them for every library) with versions
 * that count while a flag of the calling thread is set (GStreamer's threads may allocate at
 * any time), and processes frames with the flag set. */
#include "support.h"

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *ptr, size_t size);

static __thread gboolean counting;
static gint allocations;

void *
malloc (size_t size)
{
  if (counting)
    g_atomic_int_inc (&allocations);
  return __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
  if (counting)
    g_atomic_int_inc (&allocations);
  return __libc_calloc (n, size);
}

void *
realloc (void *ptr, size_t size)
{
  if (counting)
    g_atomic_int_inc (&allocations);
  return __libc_realloc (ptr, size);
}

static void
count_process (ConvNextPreprocessor *pre, const ConvNextImage *image, const ConvNextRect *roi,
    float *pixel_values)
{
  gboolean ok;

  counting = TRUE;
  ok = convnext_preprocessor_process (pre, image, roi, pixel_values, NULL);
  counting = FALSE;
  g_assert_true (ok);
}

/* The counter itself works (so that the tests below can fail). */
static void
test_counter (void)
{
  gpointer p;

  allocations = 0;
  counting = TRUE;
  p = g_malloc (100);
  counting = FALSE;
  g_free (p);
  g_assert_cmpint (allocations, ==, 1);
}

static void
test_format (gconstpointer data)
{
  GstVideoFormat format = GPOINTER_TO_INT (data);
  g_autofree char *dir = test_source_path ("tests/fixtures/preprocess/configs/c224-bicubic");
  g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new (dir, NULL);
  g_autoptr (TestFrame) rgb = test_frame_load_png ("tests/data/chelsea.png", GST_VIDEO_FORMAT_RGB);
  g_autoptr (TestFrame) frame = test_frame_convert (rgb, format, "2:3:0:0", NULL);
  ConvNextImage image = test_frame_image (frame);
  /* per-object regions: several sizes, fewer than the plans kept */
  const ConvNextRect rois[] = { { 0, 0, 451, 300 }, { 10, 20, 100, 50 }, { 3, 5, 37, 211 },
    { 200, 100, 251, 200 } };
  g_autofree float *pixel_values = g_new (float, 3 * 224 * 224);

  for (guint i = 0; i < G_N_ELEMENTS (rois); i++)
    g_assert_true (convnext_preprocessor_process (pre, &image, &rois[i], pixel_values, NULL));
  g_assert_true (convnext_preprocessor_process (pre, &image, NULL, pixel_values, NULL));

  allocations = 0;
  for (guint round = 0; round < 5; round++) {
    count_process (pre, &image, NULL, pixel_values);
    for (guint i = 0; i < G_N_ELEMENTS (rois); i++)
      count_process (pre, &image, &rois[i], pixel_values);
  }
  g_assert_cmpint (allocations, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  if (!test_have_png_decoder ()) {
    test_skip_all ("/preprocess/no-alloc", "GStreamer's pngdec (gst-plugins-good) is not installed");
    return g_test_run ();
  }

  g_test_add_func ("/preprocess/no-alloc/counter", test_counter);
  g_test_add_data_func ("/preprocess/no-alloc/RGB", GINT_TO_POINTER (GST_VIDEO_FORMAT_RGB),
      test_format);
  g_test_add_data_func ("/preprocess/no-alloc/BGRx", GINT_TO_POINTER (GST_VIDEO_FORMAT_BGRx),
      test_format);
  g_test_add_data_func ("/preprocess/no-alloc/I420", GINT_TO_POINTER (GST_VIDEO_FORMAT_I420),
      test_format);
  g_test_add_data_func ("/preprocess/no-alloc/NV12", GINT_TO_POINTER (GST_VIDEO_FORMAT_NV12),
      test_format);
  return g_test_run ();
}
