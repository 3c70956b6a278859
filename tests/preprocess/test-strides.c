/* A frame whose rows are padded (any stride ≥ the row size, planes apart, garbage in the
 * padding) gives exactly the same pixel_values as the tightly packed frame, for every pixel
 * format, with and without a region of interest, and the same whichever order frames of
 * different sizes come in (the plan cache). */
#include "support.h"

static const GstVideoFormat all_formats[] = {
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
  GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_GRAY8,
};

static const char *configs[] = {
  "tests/fixtures/preprocess/configs/c224-bicubic",
  "tests/fixtures/preprocess/configs/c64-lanczos",
  "tests/fixtures/preprocess/configs/c64-nearest",
  "tests/fixtures/preprocess/configs/noresize",
};

static void
assert_same (ConvNextPreprocessor *pre, const TestFrame *packed, const TestFrame *padded,
    const ConvNextRect *roi)
{
  ConvNextImage a = test_frame_image (packed), b = test_frame_image (padded);
  guint wa, ha, wb, hb;
  g_autofree float *pa = test_preprocess (pre, &a, roi, &wa, &ha);
  g_autofree float *pb = test_preprocess (pre, &b, roi, &wb, &hb);

  g_assert_cmpuint (wa, ==, wb);
  g_assert_cmpuint (ha, ==, hb);
  g_assert_cmpmem (pa, 3 * sizeof (float) * wa * ha, pb, 3 * sizeof (float) * wb * hb);
}

static void
test_format (gconstpointer data)
{
  GstVideoFormat format = GPOINTER_TO_INT (data);
  static const char *inputs[] = { "tests/data/chelsea.png",
    "tests/fixtures/preprocess/inputs/tiny-5x3.png" };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++) {
    g_autoptr (TestFrame) rgb = test_frame_load_png (inputs[i], GST_VIDEO_FORMAT_RGB);
    g_autoptr (TestFrame) frame = test_frame_convert (rgb, format, "2:3:0:0", "mpeg2");
    g_autoptr (TestFrame) packed = test_frame_pad (frame, 0);
    guint w = GST_VIDEO_INFO_WIDTH (&frame->info), h = GST_VIDEO_INFO_HEIGHT (&frame->info);
    ConvNextRect roi = { w / 4 | 1, h / 3 | 1, w / 2, h / 2 | 1 };

    for (guint c = 0; c < G_N_ELEMENTS (configs); c++) {
      g_autofree char *dir = test_source_path (configs[c]);
      g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new (dir, NULL);
      static const guint pads[] = { 1, 3, 64 };

      g_assert_nonnull (pre);
      assert_same (pre, packed, frame, NULL);   /* GstVideoInfo's 4-aligned strides */
      for (guint p = 0; p < G_N_ELEMENTS (pads); p++) {
        g_autoptr (TestFrame) padded = test_frame_pad (frame, pads[p]);
        assert_same (pre, packed, padded, NULL);
        assert_same (pre, packed, padded, &roi);
      }
    }
  }
}

/* Plans are cached per region size (least recently used evicted): interleaving more sizes
 * than the cache holds must not change any result. */
static void
test_plan_cache (void)
{
  g_autofree char *dir = test_source_path ("tests/fixtures/preprocess/configs/c64-bicubic");
  g_autoptr (ConvNextPreprocessor) pre = convnext_preprocessor_new (dir, NULL);
  g_autoptr (TestFrame) rgb = test_frame_load_png ("tests/data/chelsea.png", GST_VIDEO_FORMAT_RGB);
  ConvNextImage image = test_frame_image (rgb);
  float *first[12];

  for (guint round = 0; round < 3; round++) {
    for (guint i = 0; i < G_N_ELEMENTS (first); i++) {
      ConvNextRect roi = { i, 2 * i, 100 + 17 * i, 90 + 11 * i };
      guint w, h;
      float *pv = test_preprocess (pre, &image, &roi, &w, &h);
      if (round == 0) {
        first[i] = pv;
      } else {
        g_assert_cmpmem (first[i], 3 * sizeof (float) * w * h, pv, 3 * sizeof (float) * w * h);
        g_free (pv);
      }
    }
  }
  for (guint i = 0; i < G_N_ELEMENTS (first); i++)
    g_free (first[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  if (!test_have_png_decoder ()) {
    test_skip_all ("/preprocess/strides", "GStreamer's pngdec (gst-plugins-good) is not installed");
    return g_test_run ();
  }

  for (guint i = 0; i < G_N_ELEMENTS (all_formats); i++) {
    g_autofree char *path = g_strdup_printf ("/preprocess/strides/%s",
        test_format_name (all_formats[i]));
    g_test_add_data_func (path, GINT_TO_POINTER (all_formats[i]), test_format);
  }
  g_test_add_func ("/preprocess/strides/plan-cache", test_plan_cache);
  return g_test_run ();
}
