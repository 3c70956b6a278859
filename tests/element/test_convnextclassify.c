/* gst-check tests of convnextclassify on synthetic frames.
 *
 * Models: models/tiny (resize 36 + crop 32), models/tiny-noresize (same weights, no resize),
 * models/tiny-bare (no classifier), all written by make_tiny_model.py with the PyTorch
 * reference result for the test pattern (expected_pattern.h).
 *
 * "The library" below is libconvnext called directly by the test on the same pixels: the
 * element must add nothing and lose nothing.  expected_pattern.h checks the whole chain
 * against PyTorch.
 */
#include <glib/gstdio.h>
#include <gmodule.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <math.h>
#include <string.h>

#include <convnext.h>

#include "expected_pattern.h"
#include "gstconvnextmeta.h"

#define N_LABELS 10
/* Same pixels through the same library: only oneDNN's summation order may differ. */
#define SAME_TOLERANCE 1e-5
/* The C engine against PyTorch, both float32. */
#define REFERENCE_TOLERANCE 1e-4

static const GstVideoFormat all_formats[] = {
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
  GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_GRAY8,
};

/* ------------------------------------------------------------------------------------------
 * Frames
 * ------------------------------------------------------------------------------------------ */

/* The test pattern, RGB; same formula as pattern_rgb() in make_tiny_model.py. */
static void
pattern_rgb (guint8 *data, guint w, guint h, gsize stride)
{
  for (guint y = 0; y < h; y++) {
    for (guint x = 0; x < w; x++) {
      guint8 *p = data + y * stride + 3 * x;
      gint b = (255 - 3 * (gint) x + 2 * (gint) y) % 256;

      p[0] = (x * 4 + y) % 256;
      p[1] = (y * 5 + (x * x) / 7) % 256;
      p[2] = b < 0 ? b + 256 : b;
    }
  }
}

/* The pattern as a frame laid out as @info, converted from RGB by GstVideoConverter (what
 * videoconvert does). */
static GstBuffer *
make_frame_full (GstVideoInfo *info)
{
  const guint w = GST_VIDEO_INFO_WIDTH (info), h = GST_VIDEO_INFO_HEIGHT (info);
  const GstVideoFormat format = GST_VIDEO_INFO_FORMAT (info);
  GstVideoInfo rgb_info;
  GstVideoFrame rgb_frame, frame;
  GstVideoConverter *convert;
  GstBuffer *rgb, *buf;

  gst_video_info_set_format (&rgb_info, GST_VIDEO_FORMAT_RGB, w, h);
  rgb = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&rgb_info), NULL);
  fail_unless (gst_video_frame_map (&rgb_frame, &rgb_info, rgb, GST_MAP_WRITE));
  pattern_rgb (GST_VIDEO_FRAME_PLANE_DATA (&rgb_frame, 0), w, h,
      GST_VIDEO_FRAME_PLANE_STRIDE (&rgb_frame, 0));
  if (format == GST_VIDEO_FORMAT_RGB) {
    gst_video_frame_unmap (&rgb_frame);
    return rgb;
  }

  buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_WRITE));
  convert = gst_video_converter_new (&rgb_info, info, NULL);
  gst_video_converter_frame (convert, &rgb_frame, &frame);
  gst_video_converter_free (convert);
  gst_video_frame_unmap (&frame);
  gst_video_frame_unmap (&rgb_frame);
  gst_buffer_unref (rgb);
  return buf;
}

/* The pattern as a w×h frame in @format with GStreamer's default strides and colorimetry. */
static GstBuffer *
make_frame (GstVideoFormat format, guint w, guint h, GstVideoInfo *info)
{
  gst_video_info_set_format (info, format, w, h);
  return make_frame_full (info);
}

/* ------------------------------------------------------------------------------------------
 * The library, called directly
 * ------------------------------------------------------------------------------------------ */

typedef struct {
  ConvNextModel *model;
  ConvNextPreprocessor *pre;
} Library;

static Library *
library_new (const gchar *model_dir)
{
  g_autoptr (GError) error = NULL;
  Library *lib = g_new0 (Library, 1);
  ConvNextParams params;

  convnext_params_init (&params);
  params.n_threads = 1;
  lib->model = convnext_model_new (model_dir, &params, &error);
  fail_unless (lib->model != NULL, "%s", error ? error->message : "");
  lib->pre = convnext_preprocessor_new (model_dir, &error);
  fail_unless (lib->pre != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (convnext_model_get_num_labels (lib->model), N_LABELS);
  return lib;
}

static void
library_free (Library *lib)
{
  convnext_model_free (lib->model);
  convnext_preprocessor_free (lib->pre);
  g_free (lib);
}

/* The test's own statement of which library layout each GstVideoFormat is. */
static ConvNextPixelFormat
pixel_format (GstVideoFormat format)
{
  switch (format) {
    case GST_VIDEO_FORMAT_RGB: return CONVNEXT_PIXEL_FORMAT_RGB;
    case GST_VIDEO_FORMAT_BGR: return CONVNEXT_PIXEL_FORMAT_BGR;
    case GST_VIDEO_FORMAT_RGBx: return CONVNEXT_PIXEL_FORMAT_RGBX;
    case GST_VIDEO_FORMAT_BGRx: return CONVNEXT_PIXEL_FORMAT_BGRX;
    case GST_VIDEO_FORMAT_xRGB: return CONVNEXT_PIXEL_FORMAT_XRGB;
    case GST_VIDEO_FORMAT_xBGR: return CONVNEXT_PIXEL_FORMAT_XBGR;
    case GST_VIDEO_FORMAT_RGBA: return CONVNEXT_PIXEL_FORMAT_RGBA;
    case GST_VIDEO_FORMAT_BGRA: return CONVNEXT_PIXEL_FORMAT_BGRA;
    case GST_VIDEO_FORMAT_ARGB: return CONVNEXT_PIXEL_FORMAT_ARGB;
    case GST_VIDEO_FORMAT_ABGR: return CONVNEXT_PIXEL_FORMAT_ABGR;
    case GST_VIDEO_FORMAT_I420: return CONVNEXT_PIXEL_FORMAT_I420;
    case GST_VIDEO_FORMAT_NV12: return CONVNEXT_PIXEL_FORMAT_NV12;
    case GST_VIDEO_FORMAT_GRAY8: return CONVNEXT_PIXEL_FORMAT_GRAY8;
    default: fail ("format %s not supported", gst_video_format_to_string (format));
  }
  return CONVNEXT_PIXEL_FORMAT_RGB;
}

/* Classifies @buf (laid out as @info) with the library; returns the top-@k. */
static guint
library_classify (Library *lib, GstBuffer *buf, const GstVideoInfo *info, guint k,
    ConvNextClass *top)
{
  g_autoptr (GError) error = NULL;
  ConvNextImage image = { 0 };
  GstVideoFrame frame;
  float logits[N_LABELS];
  float *pixel_values;
  guint w, h;

  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_READ));
  image.format = pixel_format (GST_VIDEO_INFO_FORMAT (info));
  image.width = GST_VIDEO_INFO_WIDTH (info);
  image.height = GST_VIDEO_INFO_HEIGHT (info);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    image.data[p] = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    image.stride[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }
  switch (info->colorimetry.matrix) {
    case GST_VIDEO_COLOR_MATRIX_BT709: image.matrix = CONVNEXT_COLOR_MATRIX_BT709; break;
    case GST_VIDEO_COLOR_MATRIX_BT2020: image.matrix = CONVNEXT_COLOR_MATRIX_BT2020; break;
    default: image.matrix = CONVNEXT_COLOR_MATRIX_BT601; break;
  }
  image.full_range = info->colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
  image.chroma_site = (info->chroma_site & GST_VIDEO_CHROMA_SITE_H_COSITED ?
      CONVNEXT_CHROMA_SITE_H_COSITED : 0) | (info->chroma_site & GST_VIDEO_CHROMA_SITE_V_COSITED ?
      CONVNEXT_CHROMA_SITE_V_COSITED : 0);

  convnext_preprocessor_get_output_size (lib->pre, image.width, image.height, &w, &h);
  pixel_values = g_new (float, 3 * w * h);
  fail_unless (convnext_preprocessor_process (lib->pre, &image, NULL, pixel_values, &error),
      "%s", error ? error->message : "");
  fail_unless (convnext_model_forward (lib->model, pixel_values, 1, h, w, logits, NULL, &error),
      "%s", error ? error->message : "");
  g_free (pixel_values);
  gst_video_frame_unmap (&frame);
  return convnext_model_top_k (lib->model, logits, k, top);
}

/* ------------------------------------------------------------------------------------------
 * The element
 * ------------------------------------------------------------------------------------------ */

/* A harness around a convnextclassify on models/tiny with 1 thread and the given properties
 * (set before the harness starts it). */
static GstHarness *
harness_new (const gchar *first_property, ...)
{
  GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
  GstHarness *h;
  va_list args;

  fail_unless (element != NULL, "convnextclassify not found: is GST_PLUGIN_PATH set?");
  g_object_set (element, "model", TINY_MODEL_DIR, "threads", 1, NULL);
  va_start (args, first_property);
  if (first_property)
    g_object_set_valist (G_OBJECT (element), first_property, args);
  va_end (args);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  return h;
}

static GstVideoRegionOfInterestMeta *
get_roi (GstBuffer *buf)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    if (roi->roi_type == g_quark_from_string (GST_CONVNEXT_ROI_TYPE))
      return roi;
  }
  return NULL;
}

/* @buf carries @n classes equal to @expected, and a full-frame ROI meta saying the same. */
static GstConvNextClassificationMeta *
check_result (GstBuffer *buf, const ConvNextClass *expected, guint n, double tolerance,
    const gchar *model_name, guint width, guint height)
{
  GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
  GstVideoRegionOfInterestMeta *roi = get_roi (buf);
  GstStructure *param;

  fail_unless (meta != NULL, "no GstConvNextClassificationMeta");
  fail_unless_equals_int (meta->n_classes, n);
  for (guint i = 0; i < n; i++) {
    fail_unless_equals_int (meta->classes[i].class_id, expected[i].id);
    fail_unless (fabs (meta->classes[i].score - expected[i].score) <= tolerance,
        "class %u: score %.7f, expected %.7f", i, meta->classes[i].score, expected[i].score);
    if (expected[i].label)
      fail_unless_equals_string (meta->classes[i].label, expected[i].label);
  }
  fail_unless_equals_string (meta->model_name, model_name);

  fail_unless (roi != NULL, "no convnext ROI meta");
  fail_unless_equals_int (roi->x, 0);
  fail_unless_equals_int (roi->y, 0);
  fail_unless_equals_int (roi->w, width);
  fail_unless_equals_int (roi->h, height);
  param = gst_video_region_of_interest_meta_get_param (roi, GST_CONVNEXT_ROI_PARAM);
  if (n == 0) {
    fail_unless (param == NULL);
  } else {
    gint label_id;
    gdouble confidence;

    fail_unless (param != NULL, "no classification param");
    fail_unless_equals_string (gst_structure_get_string (param, "label"), meta->classes[0].label);
    fail_unless (gst_structure_get_int (param, "label_id", &label_id));
    fail_unless_equals_int (label_id, meta->classes[0].class_id);
    fail_unless (gst_structure_get_double (param, "confidence", &confidence));
    fail_unless_equals_float (confidence, meta->classes[0].score);
    fail_unless_equals_string (gst_structure_get_string (param, "model_name"), model_name);
    fail_unless_equals_int (gst_value_array_get_size (gst_structure_get_value (param, "labels")),
        n);
    fail_unless_equals_string (g_value_get_string (gst_value_array_get_value (
                gst_structure_get_value (param, "labels"), n - 1)), meta->classes[n - 1].label);
  }
  return meta;
}

static gboolean
is_packed_rgb (GstVideoFormat format)
{
  const GstVideoFormatInfo *finfo = gst_video_format_get_info (format);
  return GST_VIDEO_FORMAT_INFO_IS_RGB (finfo);
}

/* ------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------ */

GST_START_TEST (test_each_format)
{
  Library *lib = library_new (TINY_MODEL_DIR);
  ConvNextClass rgb[N_LABELS];

  for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++) {
    GstHarness *h = harness_new ("top-k", N_LABELS, NULL);
    ConvNextClass expected[N_LABELS];
    GstVideoInfo info;
    GstBuffer *in = make_frame (all_formats[f], 320, 240, &info);
    GstBuffer *out;
    guint n;

    GST_INFO ("format %s", GST_VIDEO_INFO_NAME (&info));
    gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
    n = library_classify (lib, in, &info, N_LABELS, expected);
    fail_unless_equals_int (n, N_LABELS);
    out = gst_harness_push_and_pull (h, in);
    check_result (out, expected, n, SAME_TOLERANCE, "tiny", 320, 240);

    /* Channel order, independent of the test's format table: every RGB layout of the same
     * picture is the same picture. */
    if (all_formats[f] == GST_VIDEO_FORMAT_RGB)
      memcpy (rgb, expected, sizeof rgb);
    else if (is_packed_rgb (all_formats[f]))
      check_result (out, rgb, N_LABELS, SAME_TOLERANCE, "tiny", 320, 240);

    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
  library_free (lib);
}
GST_END_TEST;

GST_START_TEST (test_unsupported_format_refused)
{
  GstHarness *h = harness_new (NULL);
  GstPad *sinkpad = gst_element_get_static_pad (h->element, "sink");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=YUY2,width=320,height=240,"
      "framerate=30/1");

  fail_if (gst_pad_query_accept_caps (sinkpad, caps));
  gst_caps_unref (caps);
  gst_object_unref (sinkpad);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* YUV colorimetry reaches the library: matrix, range and chroma siting from the caps. */
GST_START_TEST (test_colorimetry)
{
  static const struct {
    GstVideoFormat format;
    const gchar *colorimetry;
    GstVideoChromaSite site;
  } cases[] = {
    { GST_VIDEO_FORMAT_I420, "bt709", GST_VIDEO_CHROMA_SITE_MPEG2 },
    { GST_VIDEO_FORMAT_I420, "bt2020", GST_VIDEO_CHROMA_SITE_MPEG2 },
    { GST_VIDEO_FORMAT_NV12, "bt709", GST_VIDEO_CHROMA_SITE_MPEG2 },
    { GST_VIDEO_FORMAT_NV12, "1:4:0:0", GST_VIDEO_CHROMA_SITE_JPEG },  /* full-range BT.601 */
    { GST_VIDEO_FORMAT_NV12, "bt601", GST_VIDEO_CHROMA_SITE_DV },
  };
  Library *lib = library_new (TINY_MODEL_DIR);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstHarness *h = harness_new (NULL);
    ConvNextClass expected[5];
    GstVideoInfo info;
    GstBuffer *in, *out;
    guint n;

    gst_video_info_set_format (&info, cases[i].format, 130, 98);
    fail_unless (gst_video_colorimetry_from_string (&info.colorimetry, cases[i].colorimetry));
    info.chroma_site = cases[i].site;
    in = make_frame_full (&info);
    gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
    n = library_classify (lib, in, &info, 5, expected);
    out = gst_harness_push_and_pull (h, in);
    check_result (out, expected, n, SAME_TOLERANCE, "tiny", 130, 98);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
  library_free (lib);
}
GST_END_TEST;

/* 321x241 I420 (odd chroma planes), with GStreamer's padded default strides. */
GST_START_TEST (test_odd_size_i420)
{
  Library *lib = library_new (TINY_MODEL_DIR);
  GstHarness *h = harness_new (NULL);
  ConvNextClass expected[5];
  GstVideoInfo info;
  GstBuffer *in = make_frame (GST_VIDEO_FORMAT_I420, 321, 241, &info);
  GstBuffer *out;
  guint n;

  fail_unless (GST_VIDEO_INFO_PLANE_STRIDE (&info, 0) > 321);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  n = library_classify (lib, in, &info, 5, expected);
  out = gst_harness_push_and_pull (h, in);
  check_result (out, expected, n, SAME_TOLERANCE, "tiny", 321, 241);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  library_free (lib);
}
GST_END_TEST;

/* 853x480 RGB whose rows are padded (GstVideoMeta stride) with garbage: same result as the
 * tightly packed frame. */
GST_START_TEST (test_row_padding_rgb)
{
  const guint w = 853, h_px = 480, stride = 853 * 3 + 29;
  Library *lib = library_new (TINY_MODEL_DIR);
  GstHarness *h = harness_new (NULL);
  ConvNextClass expected[5];
  GstVideoInfo info;
  GstBuffer *packed = make_frame (GST_VIDEO_FORMAT_RGB, w, h_px, &info);
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint strides[GST_VIDEO_MAX_PLANES] = { stride };
  GstBuffer *padded = gst_buffer_new_allocate (NULL, (gsize) stride * h_px, NULL);
  GstMapInfo src, dst;
  GstBuffer *out;
  guint n;

  fail_unless (gst_buffer_map (packed, &src, GST_MAP_READ));
  fail_unless (gst_buffer_map (padded, &dst, GST_MAP_WRITE));
  memset (dst.data, 0xa5, dst.size);
  for (guint y = 0; y < h_px; y++)
    memcpy (dst.data + y * stride, src.data + y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), w * 3);
  gst_buffer_unmap (padded, &dst);
  gst_buffer_unmap (packed, &src);
  gst_buffer_add_video_meta_full (padded, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_RGB, w,
      h_px, 1, offset, strides);

  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  n = library_classify (lib, packed, &info, 5, expected);
  out = gst_harness_push_and_pull (h, padded);
  check_result (out, expected, n, SAME_TOLERANCE, "tiny", w, h_px);
  gst_buffer_unref (out);
  gst_buffer_unref (packed);
  gst_harness_teardown (h);
  library_free (lib);
}
GST_END_TEST;

/* The whole chain against PyTorch: the test pattern through the no-resize model. */
GST_START_TEST (test_pattern_matches_pytorch)
{
  static const GstVideoFormat formats[] = {
    GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGRx, GST_VIDEO_FORMAT_ARGB,
  };
  ConvNextClass expected[N_LABELS];

  for (guint i = 0; i < N_LABELS; i++) {
    expected[i].id = expected_pattern_ids[i];
    expected[i].score = expected_pattern_scores[i];
    expected[i].label = NULL;
  }
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstHarness *h = harness_new ("model", TINY_NORESIZE_MODEL_DIR, "top-k", N_LABELS, NULL);
    GstVideoInfo info;
    GstBuffer *in = make_frame (formats[f], PATTERN_WIDTH, PATTERN_HEIGHT, &info);
    GstBuffer *out;

    gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
    out = gst_harness_push_and_pull (h, in);
    check_result (out, expected, N_LABELS, REFERENCE_TOLERANCE, "tiny-noresize",
        PATTERN_WIDTH, PATTERN_HEIGHT);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}
GST_END_TEST;

/* Pixels are never copied: a non-writable input comes out as a new buffer that shares the
 * input's GstMemory; a writable input comes out as itself. */
GST_START_TEST (test_memory_identity)
{
  GstHarness *h = harness_new (NULL);
  GstVideoInfo info;
  GstBuffer *in = make_frame (GST_VIDEO_FORMAT_I420, 320, 240, &info);
  GstBuffer *out, *in2;
  GstMemory *mem = gst_buffer_peek_memory (in, 0);
  GstMapInfo a, b;

  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));

  /* Still referenced here, so not writable. */
  out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
  fail_unless (out != in);
  fail_unless_equals_int (gst_buffer_n_memory (out), gst_buffer_n_memory (in));
  fail_unless (gst_buffer_peek_memory (out, 0) == mem);
  fail_unless (gst_buffer_map (in, &a, GST_MAP_READ));
  fail_unless (gst_buffer_map (out, &b, GST_MAP_READ));
  fail_unless (a.data == b.data);
  gst_buffer_unmap (out, &b);
  gst_buffer_unmap (in, &a);
  fail_unless (gst_buffer_get_convnext_classification_meta (out) != NULL);
  fail_unless (gst_buffer_get_convnext_classification_meta (in) == NULL,
      "the upstream buffer was modified");
  gst_buffer_unref (out);

  /* Writable: the very same buffer, meta added. */
  in2 = make_frame (GST_VIDEO_FORMAT_I420, 320, 240, &info);
  mem = gst_buffer_peek_memory (in2, 0);
  out = gst_harness_push_and_pull (h, in2);
  fail_unless (out == in2);
  fail_unless (gst_buffer_peek_memory (out, 0) == mem);
  fail_unless (gst_buffer_get_convnext_classification_meta (out) != NULL);
  gst_buffer_unref (out);

  gst_buffer_unref (in);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Size and format change while PLAYING: the new frames are classified at once (even inside
 * a long inference-interval), as the library classifies them, with a full-frame ROI of the
 * new size. */
GST_START_TEST (test_caps_change)
{
  Library *lib = library_new (TINY_MODEL_DIR);
  GstHarness *h = harness_new ("inference-interval", 100, NULL);
  ConvNextClass first[5], second[5];
  GstConvNextClassificationMeta *meta;
  GstVideoInfo info;
  GstBuffer *in, *out;
  guint n;

  in = make_frame (GST_VIDEO_FORMAT_RGB, 320, 240, &info);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  n = library_classify (lib, in, &info, 5, first);
  out = gst_harness_push_and_pull (h, in);
  meta = check_result (out, first, n, SAME_TOLERANCE, "tiny", 320, 240);
  fail_unless_equals_uint64 (meta->frame_number, 0);
  gst_buffer_unref (out);

  in = make_frame (GST_VIDEO_FORMAT_GRAY8, 161, 121, &info);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  n = library_classify (lib, in, &info, 5, second);
  fail_if (fabs (first[0].score - second[0].score) < 1e-3, "the two frames must differ");
  for (guint i = 0; i < 2; i++) {
    out = gst_harness_push_and_pull (h, gst_buffer_ref (in));
    meta = check_result (out, second, n, SAME_TOLERANCE, "tiny", 161, 121);
    fail_unless_equals_uint64 (meta->frame_number, 1);
    gst_buffer_unref (out);
  }
  gst_buffer_unref (in);

  /* And back to a format with another plane layout. */
  in = make_frame (GST_VIDEO_FORMAT_NV12, 64, 48, &info);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  n = library_classify (lib, in, &info, 5, second);
  out = gst_harness_push_and_pull (h, in);
  meta = check_result (out, second, n, SAME_TOLERANCE, "tiny", 64, 48);
  fail_unless_equals_uint64 (meta->frame_number, 3);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
  library_free (lib);
}
GST_END_TEST;

static guint
count_results (GstBus *bus, GstConvNextClassificationMeta **metas, guint n_metas)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (msg);
    GstConvNextClassificationMeta *meta;
    guint64 frame_number, timestamp, running_time, stream_time;

    fail_unless (gst_structure_has_name (s, "convnext-classification"));
    fail_unless (gst_structure_get_uint64 (s, "frame-number", &frame_number));
    fail_unless (frame_number < n_metas);
    meta = metas[frame_number];
    fail_unless_equals_uint64 (meta->frame_number, frame_number);
    fail_unless (gst_structure_get_uint64 (s, "timestamp", &timestamp));
    fail_unless_equals_uint64 (timestamp, meta->frame_pts);
    /* The harness's segment starts at 0: running and stream time are the PTS. */
    fail_unless (gst_structure_get_uint64 (s, "running-time", &running_time));
    fail_unless_equals_uint64 (running_time, meta->frame_pts);
    fail_unless (gst_structure_get_uint64 (s, "stream-time", &stream_time));
    fail_unless_equals_uint64 (stream_time, meta->frame_pts);
    fail_unless_equals_string (gst_structure_get_string (s, "model-name"), "tiny");
    fail_unless_equals_int (gst_value_array_get_size (gst_structure_get_value (s, "labels")),
        meta->n_classes);
    for (guint i = 0; i < meta->n_classes; i++) {
      const GValue *label = gst_value_array_get_value (gst_structure_get_value (s, "labels"), i);
      const GValue *score = gst_value_array_get_value (gst_structure_get_value (s, "scores"), i);
      const GValue *id = gst_value_array_get_value (gst_structure_get_value (s, "class-ids"), i);
      fail_unless_equals_string (g_value_get_string (label), meta->classes[i].label);
      fail_unless_equals_float (g_value_get_double (score), meta->classes[i].score);
      fail_unless_equals_int (g_value_get_int (id), meta->classes[i].class_id);
    }
    gst_message_unref (msg);
    n++;
  }
  return n;
}

/* inference-interval=3: frames 0, 3, 6 are classified; 1-2 and 4-5 carry the result of the
 * frame before them, saying so; one bus message per classified frame. */
GST_START_TEST (test_inference_interval)
{
  GstHarness *h = harness_new ("inference-interval", 3, "post-messages", TRUE, NULL);
  GstBus *bus = gst_bus_new ();
  GstConvNextClassificationMeta *metas[7];
  GstBuffer *outs[7];
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_RGB, 96, 64, &info);

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  for (guint i = 0; i < 7; i++) {
    GstBuffer *in = gst_buffer_copy (frame);
    guint64 computed_on = i / 3 * 3;

    GST_BUFFER_PTS (in) = i * 40 * GST_MSECOND;
    GST_BUFFER_DURATION (in) = 40 * GST_MSECOND;
    outs[i] = gst_harness_push_and_pull (h, in);
    metas[i] = gst_buffer_get_convnext_classification_meta (outs[i]);
    fail_unless (metas[i] != NULL);
    fail_unless_equals_uint64 (metas[i]->frame_number, computed_on);
    fail_unless_equals_uint64 (metas[i]->frame_pts, computed_on * 40 * GST_MSECOND);
    fail_unless (metas[i]->inference_time > 0);
    fail_unless_equals_int (metas[i]->n_classes, 5);
    if (i % 3 != 0) {
      fail_unless_equals_uint64 (metas[i]->inference_time, metas[computed_on]->inference_time);
      for (guint c = 0; c < 5; c++) {
        fail_unless_equals_int (metas[i]->classes[c].class_id,
            metas[computed_on]->classes[c].class_id);
        fail_unless_equals_float (metas[i]->classes[c].score,
            metas[computed_on]->classes[c].score);
      }
    }
    fail_unless (get_roi (outs[i]) != NULL);
  }
  fail_unless_equals_int (count_results (bus, metas, 7), 3);

  /* Lowered to 1 while running: the next frame is classified. */
  g_object_set (h->element, "inference-interval", 1, NULL);
  {
    GstBuffer *out = gst_harness_push_and_pull (h, gst_buffer_copy (frame));
    fail_unless_equals_uint64 (gst_buffer_get_convnext_classification_meta (out)->frame_number,
        7);
    gst_buffer_unref (out);
  }

  for (guint i = 0; i < 7; i++)
    gst_buffer_unref (outs[i]);
  gst_buffer_unref (frame);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* top-k and threshold, changed while PLAYING, select exactly the library's best classes. */
GST_START_TEST (test_top_k_and_threshold)
{
  Library *lib = library_new (TINY_MODEL_DIR);
  GstHarness *h = harness_new ("top-k", 3, NULL);
  ConvNextClass expected[N_LABELS];
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_BGRx, 200, 150, &info);
  GstBuffer *out;
  gdouble between;

  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  fail_unless_equals_int (library_classify (lib, frame, &info, N_LABELS, expected), N_LABELS);

  out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
  check_result (out, expected, 3, SAME_TOLERANCE, "tiny", 200, 150);
  gst_buffer_unref (out);

  /* More than there are labels: all of them. */
  g_object_set (h->element, "top-k", 1000, NULL);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
  check_result (out, expected, N_LABELS, SAME_TOLERANCE, "tiny", 200, 150);
  gst_buffer_unref (out);

  /* A threshold between the 2nd and 3rd scores keeps two. */
  between = (expected[1].score + expected[2].score) / 2;
  fail_unless (expected[1].score - expected[2].score > 1e-3, "scores too close for this test");
  g_object_set (h->element, "top-k", 5, "threshold", between, NULL);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
  check_result (out, expected, 2, SAME_TOLERANCE, "tiny", 200, 150);
  gst_buffer_unref (out);

  /* Nothing reaches 1.0: an empty result and a ROI without classification param. */
  g_object_set (h->element, "threshold", 1.0, NULL);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
  check_result (out, expected, 0, SAME_TOLERANCE, "tiny", 200, 150);
  gst_buffer_unref (out);

  gst_buffer_unref (frame);
  gst_harness_teardown (h);
  library_free (lib);
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * Errors at start: posted on the bus, the pipeline does not reach PAUSED, nothing crashes.
 * ------------------------------------------------------------------------------------------ */

/* Waits up to @timeout for the end of @pipeline's stream: fails on an ERROR or a stall. */
static void
wait_for_eos (GstElement *pipeline, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, timeout,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

  fail_unless (msg != NULL, "the stream did not finish within %" GST_TIME_FORMAT,
      GST_TIME_ARGS (timeout));
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
}

/* Sets @pipeline to NULL and drops it. */
static void
stop_pipeline (GstElement *pipeline)
{
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipeline);
}

/* Sets videotestsrc ! convnextclassify (@model, @labels_file) ! fakesink to PAUSED; returns
 * the error posted on the bus, or NULL. */
static GError *
start_error (const gchar *model, const gchar *labels_file)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=2 ! "
      "convnextclassify name=c threads=1 ! fakesink", NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstBus *bus = gst_element_get_bus (pipeline);
  GstStateChangeReturn ret;
  GstMessage *msg;
  GError *error = NULL;

  g_object_set (classify, "model", model, "labels-file", labels_file, NULL);
  ret = gst_element_set_state (pipeline, GST_STATE_PAUSED);
  if (ret == GST_STATE_CHANGE_ASYNC)
    ret = gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg) {
    fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (classify));
    gst_message_parse_error (msg, &error, NULL);
    gst_message_unref (msg);
    fail_unless_equals_int (ret, GST_STATE_CHANGE_FAILURE);
  } else {
    fail_unless_equals_int (ret, GST_STATE_CHANGE_SUCCESS);
  }
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);
  gst_object_unref (classify);
  gst_object_unref (pipeline);
  return error;
}

/* Pops the warnings on @bus; returns how many are about unused tensors, the first of them
 * (text and debug string) in @text / @debug. */
static guint
pop_unused_tensor_warnings (GstBus *bus, gchar **text, gchar **debug)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING)) != NULL) {
    GError *error = NULL;
    gchar *dbg = NULL;

    gst_message_parse_warning (msg, &error, &dbg);
    if (strstr (error->message, "not used by the model") != NULL) {
      fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS));
      if (n++ == 0) {
        *text = g_strdup (error->message);
        *debug = g_strdup (dbg);
      }
    }
    g_error_free (error);
    g_free (dbg);
    gst_message_unref (msg);
  }
  return n;
}

/* A checkpoint with tensors the model does not read (tests/fixtures' mini-extra-tensors: the
 * two tensors of an "aux_head") starts, with one warning per load naming the count, the
 * directory and the tensors, as convnext-classify words it; models/tiny has none. */
GST_START_TEST (test_unused_tensors_warn)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=1 ! "
      "convnextclassify name=c threads=1 ! fakesink", NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstBus *bus = gst_element_get_bus (pipeline);
  g_autofree gchar *expected = g_strdup_printf ("2 tensors of %s are not used by the model: ",
      EXTRA_TENSORS_MODEL_DIR);

  g_object_set (classify, "model", EXTRA_TENSORS_MODEL_DIR, NULL);
  for (guint load = 0; load < 2; load++) {
    g_autofree gchar *text = NULL;
    g_autofree gchar *debug = NULL;
    GstStateChangeReturn ret = gst_element_set_state (pipeline, GST_STATE_PAUSED);

    if (ret == GST_STATE_CHANGE_ASYNC)
      ret = gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND);
    fail_unless_equals_int (ret, GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (pop_unused_tensor_warnings (bus, &text, &debug), 1);
    fail_unless (g_str_has_prefix (text, expected), "%s", text);
    fail_unless (strstr (text, "aux_head.weight") != NULL && strstr (text, "aux_head.bias") != NULL,
        "%s", text);
    fail_unless (strstr (debug, "aux_head.weight") != NULL, "%s", debug);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_READY),
        GST_STATE_CHANGE_SUCCESS);
  }

  /* No such warning without unused tensors. */
  g_object_set (classify, "model", TINY_MODEL_DIR, NULL);
  {
    g_autofree gchar *text = NULL;
    g_autofree gchar *debug = NULL;
    GstStateChangeReturn ret = gst_element_set_state (pipeline, GST_STATE_PAUSED);

    if (ret == GST_STATE_CHANGE_ASYNC)
      ret = gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND);
    fail_unless_equals_int (ret, GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (pop_unused_tensor_warnings (bus, &text, &debug), 0);
  }
  gst_object_unref (bus);
  gst_object_unref (classify);
  stop_pipeline (pipeline);
}
GST_END_TEST;

/* libconvnext's own log records (g_debug in the "convnext" domain) reach GST_DEBUG under
 * convnextclassify (gst-plugin/gstconvnextlog.c): loading models/tiny builds its network (the
 * sync warm-up), and the library names each layer's oneDNN implementation, "<layer>: <primitive
 * kind> <implementation>".  No G_MESSAGES_DEBUG: the category's threshold is what counts. */
typedef struct
{
  GMutex lock;
  guint n_library;              /* the library's records seen in the category at DEBUG */
  gchar *first;
} LibraryLog;

static void
collect_library_log (GstDebugCategory *category, GstDebugLevel level, const gchar *file,
    const gchar *function, gint line, GObject *object, GstDebugMessage *message,
    gpointer user_data)
{
  LibraryLog *log = user_data;
  const gchar *text = gst_debug_message_get (message);

  if (level != GST_LEVEL_DEBUG || text == NULL
      || g_strcmp0 (gst_debug_category_get_name (category), "convnextclassify") != 0
      || !g_str_has_prefix (text, "embeddings.patch_embeddings: convolution "))
    return;
  g_mutex_lock (&log->lock);
  if (log->n_library++ == 0)
    log->first = g_strdup (text);
  g_mutex_unlock (&log->lock);
}

GST_START_TEST (test_library_log_in_gst_debug)
{
  LibraryLog log = { 0 };
  GError *error;

  g_mutex_init (&log.lock);
  gst_debug_set_active (TRUE);
  gst_debug_set_threshold_for_name ("convnextclassify", GST_LEVEL_DEBUG);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (collect_library_log, &log, NULL);
  error = start_error (TINY_MODEL_DIR, NULL);
  gst_debug_remove_log_function (collect_library_log);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
  gst_debug_unset_threshold_for_name ("convnextclassify");

  fail_unless (error == NULL, "%s", error ? error->message : "");
  fail_unless (log.n_library >= 1, "no record of libconvnext in the convnextclassify category");
  GST_INFO ("first library record: %s", log.first);
  g_free (log.first);
  g_mutex_clear (&log.lock);
}
GST_END_TEST;

/* A copy of models/tiny in a temporary directory, with @file replaced by @contents (of
 * @length bytes, -1 = NUL-terminated), or left out when @contents is NULL. */
static gchar *
broken_model (const gchar *file, const gchar *contents, gssize length)
{
  static const gchar *files[] = { "config.json", "preprocessor_config.json", "model.safetensors" };
  gchar *dir = g_dir_make_tmp ("convnext-element-XXXXXX", NULL);

  fail_unless (dir != NULL);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree gchar *src = g_build_filename (TINY_MODEL_DIR, files[i], NULL);
    g_autofree gchar *dst = g_build_filename (dir, files[i], NULL);
    g_autofree gchar *data = NULL;
    gsize size;

    fail_unless (g_file_get_contents (src, &data, &size, NULL));
    fail_unless (g_file_set_contents (dst, data, size, NULL));
  }
  {
    g_autofree gchar *path = g_build_filename (dir, file, NULL);
    if (contents == NULL)
      fail_unless (g_unlink (path) == 0);
    else
      fail_unless (g_file_set_contents (path, contents, length, NULL));
  }
  return dir;
}

static void
remove_model (gchar *dir)
{
  static const gchar *files[] = { "config.json", "preprocessor_config.json", "model.safetensors" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree gchar *path = g_build_filename (dir, files[i], NULL);
    g_unlink (path);
  }
  g_rmdir (dir);
  g_free (dir);
}

GST_START_TEST (test_missing_model)
{
  GError *error = start_error ("/nonexistent/convnext-model", NULL);

  fail_unless (error != NULL, "no error on the bus");
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND),
      "%s", error->message);
  fail_unless (strstr (error->message, "/nonexistent/convnext-model") != NULL, "%s",
      error->message);
  g_error_free (error);
}
GST_END_TEST;

/* No preprocessor_config.json: the element runs (transformers' defaults) and posts a warning
 * that names the model directory. */
GST_START_TEST (test_no_preprocessor_config_warns)
{
  gchar *dir = broken_model ("preprocessor_config.json", NULL, 0);
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=2 ! "
      "convnextclassify name=c threads=1 ! fakesink", NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  GError *error = NULL;

  g_object_set (classify, "model", dir, NULL);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning on the bus");
  gst_message_parse_warning (msg, &error, NULL);
  fail_unless (strstr (error->message, dir) != NULL
      && strstr (error->message, "preprocessor_config.json") != NULL, "%s", error->message);
  g_error_free (error);
  gst_message_unref (msg);
  wait_for_eos (pipeline, 30 * GST_SECOND);
  gst_object_unref (bus);
  gst_object_unref (classify);
  stop_pipeline (pipeline);
  remove_model (dir);
}
GST_END_TEST;

/* models/tiny with every float32 of @tensor set to @value (its safetensors header read with
 * sscanf: the JSON is one line and the test has no JSON parser). */
static gchar *
patched_weights_model (const gchar *tensor, gfloat value)
{
  g_autofree gchar *src = g_build_filename (TINY_MODEL_DIR, "model.safetensors", NULL);
  g_autofree gchar *data = NULL;
  g_autofree gchar *key = g_strdup_printf ("\"%s\"", tensor);
  guint64 header_len, begin, end;
  const gchar *entry, *offsets;
  gsize size;

  fail_unless (g_file_get_contents (src, &data, &size, NULL));
  memcpy (&header_len, data, 8);
  header_len = GUINT64_FROM_LE (header_len);
  entry = g_strstr_len (data + 8, header_len, key);
  fail_unless (entry != NULL, "no %s in %s", tensor, src);
  offsets = strstr (entry, "\"data_offsets\"");
  fail_unless (offsets != NULL && sscanf (strchr (offsets, '[') + 1, "%" G_GUINT64_FORMAT " , %"
          G_GUINT64_FORMAT, &begin, &end) == 2);
  for (guint64 at = 8 + header_len + begin; at + 4 <= 8 + header_len + end; at += 4)
    memcpy (data + at, &value, 4);
  return broken_model ("model.safetensors", data, size);
}

/* NaN weights: refused at start, naming the tensor (every frame would be NaN). */
GST_START_TEST (test_nan_weights_refused)
{
  gchar *dir = patched_weights_model ("classifier.bias", NAN);
  GError *error = start_error (dir, NULL);

  fail_unless (error != NULL, "no error on the bus");
  fail_unless (error->domain == GST_RESOURCE_ERROR);
  fail_unless (strstr (error->message, "classifier.bias") != NULL
      && strstr (error->message, "NaN") != NULL, "%s", error->message);
  g_error_free (error);
  remove_model (dir);
}
GST_END_TEST;

/* Finite weights on which the network overflows float32: no NaN score reaches the metadata or
 * the bus.  Every frame still leaves (a live stream is never held back) with an empty
 * result, as when no class passes the threshold, and one warning says why. */
GST_START_TEST (test_overflow_gives_empty_result)
{
  gchar *dir = patched_weights_model ("classifier.weight", 3e38f);
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=3 ! "
      "convnextclassify name=c threads=1 post-messages=true ! appsink name=out sync=false",
      NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  GstBus *bus = gst_element_get_bus (pipeline);
  guint n_frames = 0, n_results = 0, n_warnings = 0;
  GstSample *sample;
  GstMessage *msg;

  g_object_set (classify, "model", dir, NULL);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
    GstVideoRegionOfInterestMeta *roi = get_roi (buf);

    fail_unless (meta != NULL && roi != NULL, "frame %u lacks its metadata", n_frames);
    fail_unless_equals_int (meta->n_classes, 0);
    fail_unless (gst_video_region_of_interest_meta_get_param (roi, GST_CONVNEXT_ROI_PARAM) == NULL);
    gst_sample_unref (sample);
    n_frames++;
  }
  while ((msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT))) {
    GstMessageType type = GST_MESSAGE_TYPE (msg);
    if (type == GST_MESSAGE_WARNING) {
      GError *error = NULL;
      gst_message_parse_warning (msg, &error, NULL);
      fail_unless (strstr (error->message, "not finite") != NULL, "%s", error->message);
      g_error_free (error);
      n_warnings++;
    } else if (type == GST_MESSAGE_ELEMENT
        && gst_message_has_name (msg, "convnext-classification")) {
      const GValue *scores = gst_structure_get_value (gst_message_get_structure (msg), "scores");
      fail_unless_equals_int (gst_value_array_get_size (scores), 0);
      n_results++;
    }
    gst_message_unref (msg);
    fail_if (type == GST_MESSAGE_ERROR, "the stream stopped with an error");
    if (type == GST_MESSAGE_EOS || type == GST_MESSAGE_ERROR)
      break;
  }
  fail_unless_equals_int (n_frames, 3);
  fail_unless_equals_int (n_results, 3);
  fail_unless_equals_int (n_warnings, 1);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (classify);
  stop_pipeline (pipeline);
  remove_model (dir);
}
GST_END_TEST;

GST_START_TEST (test_broken_config)
{
  gchar *dir = broken_model ("config.json", "{ \"model_type\": \"convnext\", ", -1);
  GError *error = start_error (dir, NULL);

  fail_unless (error != NULL, "no error on the bus");
  fail_unless (error->domain == GST_RESOURCE_ERROR);
  fail_unless (strstr (error->message, "config.json") != NULL, "%s", error->message);
  g_error_free (error);
  remove_model (dir);
}
GST_END_TEST;

GST_START_TEST (test_truncated_weights)
{
  g_autofree gchar *path = g_build_filename (TINY_MODEL_DIR, "model.safetensors", NULL);
  g_autofree gchar *data = NULL;
  gsize size;
  gchar *dir;
  GError *error;

  fail_unless (g_file_get_contents (path, &data, &size, NULL));
  dir = broken_model ("model.safetensors", data, size / 2);
  error = start_error (dir, NULL);
  fail_unless (error != NULL, "no error on the bus");
  fail_unless (error->domain == GST_RESOURCE_ERROR);
  fail_unless (strstr (error->message, "model.safetensors") != NULL, "%s", error->message);
  g_error_free (error);
  remove_model (dir);
}
GST_END_TEST;

GST_START_TEST (test_bare_model_refused)
{
  GError *error = start_error (TINY_BARE_MODEL_DIR, NULL);

  fail_unless (error != NULL, "no error on the bus");
  fail_unless (strstr (error->message, "classifier") != NULL, "%s", error->message);
  g_error_free (error);
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * labels-file
 * ------------------------------------------------------------------------------------------ */

static gchar *
write_labels (guint n, const gchar *eol)
{
  GString *s = g_string_new (NULL);
  gchar *path;
  gint fd = g_file_open_tmp ("convnext-labels-XXXXXX.txt", &path, NULL);

  fail_unless (fd >= 0);
  g_close (fd, NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "label number %u%s", i, eol);
  fail_unless (g_file_set_contents (path, s->str, -1, NULL));
  g_string_free (s, TRUE);
  return path;
}

GST_START_TEST (test_labels_file)
{
  /* CRLF line ends and the final newline are not part of the labels. */
  gchar *path = write_labels (N_LABELS, "\r\n");
  GstHarness *h = harness_new ("labels-file", path, "top-k", N_LABELS, NULL);
  GstConvNextClassificationMeta *meta;
  GstVideoInfo info;
  GstBuffer *out;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_RGB, 64, 48, &info);

  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  out = gst_harness_push_and_pull (h, frame);
  meta = gst_buffer_get_convnext_classification_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->n_classes, N_LABELS);
  for (guint i = 0; i < meta->n_classes; i++) {
    g_autofree gchar *label = g_strdup_printf ("label number %u", meta->classes[i].class_id);
    fail_unless_equals_string (meta->classes[i].label, label);
  }
  fail_unless_equals_string (gst_structure_get_string (gst_video_region_of_interest_meta_get_param
          (get_roi (out), GST_CONVNEXT_ROI_PARAM), "label"), meta->classes[0].label);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  g_unlink (path);
  g_free (path);
}
GST_END_TEST;

GST_START_TEST (test_labels_file_mismatch)
{
  gchar *path = write_labels (N_LABELS - 1, "\n");
  GError *error = start_error (TINY_MODEL_DIR, path);

  fail_unless (error != NULL, "no error on the bus");
  fail_unless (strstr (error->message, path) != NULL, "%s", error->message);
  g_error_free (error);

  /* A labels file that does not exist: the message says which property. */
  g_unlink (path);
  error = start_error (TINY_MODEL_DIR, path);
  fail_unless (error != NULL, "no error on the bus");
  fail_unless (strstr (error->message, path) != NULL, "%s", error->message);
  fail_unless (g_str_has_prefix (error->message, "labels-file: "), "%s", error->message);
  g_error_free (error);
  g_free (path);
}
GST_END_TEST;

/* Labels go into GstStructures, JSON and the overlay: a file that is not UTF-8 (here Latin-1
 * "caf\xe9" on line 3) is refused with the line, not passed on. */
GST_START_TEST (test_labels_file_not_utf8)
{
  gchar *path = write_labels (N_LABELS, "\n");
  g_autofree gchar *contents = NULL;
  GError *error;

  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  *strstr (contents, "label number 2") = '\xe9';
  fail_unless (g_file_set_contents (path, contents, -1, NULL));
  error = start_error (TINY_MODEL_DIR, path);
  fail_unless (error != NULL, "no error on the bus");
  fail_unless (error->domain == GST_RESOURCE_ERROR);
  fail_unless (g_str_has_prefix (error->message, "labels-file: ")
      && strstr (error->message, path) != NULL && strstr (error->message, "line 3") != NULL,
      "%s", error->message);
  g_error_free (error);
  g_unlink (path);
  g_free (path);
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * Pipelines
 * ------------------------------------------------------------------------------------------ */

static guint
check_branch (GstElement *pipeline, const gchar *name, guint width, guint height,
    gboolean expect_params)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstSample *sample;
  guint n = 0;

  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (buf);
    GstVideoRegionOfInterestMeta *roi = get_roi (buf);

    fail_unless (meta != NULL, "%s: buffer %u has no classification meta", name, n);
    fail_unless_equals_int (meta->n_classes, 5);
    fail_unless_equals_string (meta->model_name, "tiny");
    fail_unless (meta->frame_number < 6);
    fail_unless (roi != NULL, "%s: buffer %u has no ROI meta", name, n);
    fail_unless_equals_int (roi->w, width);
    fail_unless_equals_int (roi->h, height);
    if (expect_params)
      fail_unless (gst_video_region_of_interest_meta_get_param (roi,
              GST_CONVNEXT_ROI_PARAM) != NULL);
    gst_sample_unref (sample);
    n++;
  }
  gst_object_unref (sink);
  return n;
}

/* Buffers at appsink @name, each with the whole classification meta (whatever the ROI meta
 * became on the way). */
static guint
check_custom_meta_branch (GstElement *pipeline, const gchar *name)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstSample *sample;
  guint n = 0;

  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstConvNextClassificationMeta *meta =
        gst_buffer_get_convnext_classification_meta (gst_sample_get_buffer (sample));
    fail_unless (meta != NULL, "%s: buffer %u has no classification meta", name, n);
    fail_unless_equals_int (meta->n_classes, 5);
    gst_sample_unref (sample);
    n++;
  }
  gst_object_unref (sink);
  return n;
}

/* The metadata survives tee, queue, videoconvert, videoscale, videorate and a rotating
 * videoflip.  GStreamer 1.22's own ROI meta does less (gstconvnextmeta.h, RECIPES.md):
 * videoscale and a converting videoconvert keep it without its params (the "scaled"
 * branch's ROI is not checked for them), and a rotation drops it. */
GST_START_TEST (test_meta_survives_pipeline)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=6 pattern=smpte ! "
      "video/x-raw,format=RGB,width=320,height=240,framerate=30/1 ! "
      "convnextclassify name=c threads=1 ! tee name=t "
      "t. ! queue ! videoconvert ! video/x-raw,format=I420 ! videoscale ! "
      "video/x-raw,width=160,height=120 ! videorate ! video/x-raw,framerate=60/1 ! "
      "appsink name=scaled sync=false "
      "t. ! queue ! videoflip video-direction=90r ! video/x-raw,width=240,height=320 ! "
      "appsink name=rotated sync=false "
      "t. ! queue ! appsink name=copied sync=false", NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");

  fail_unless (pipeline != NULL);
  g_object_set (classify, "model", TINY_MODEL_DIR, NULL);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);

  fail_unless_equals_int (check_branch (pipeline, "copied", 320, 240, TRUE), 6);
  fail_unless_equals_int (check_custom_meta_branch (pipeline, "rotated"), 6);
  /* 6 frames at 30 fps become 10 at 60 fps (the last is not repeated): videorate's
   * duplicates carry the meta too. */
  fail_unless (check_branch (pipeline, "scaled", 160, 120, FALSE) >= 10);

  wait_for_eos (pipeline, 10 * GST_SECOND);
  gst_object_unref (classify);
  stop_pipeline (pipeline);
}
GST_END_TEST;

/* A live source at 30 fps, synchronised sink: every frame is classified and rendered on time
 * (none dropped as late, EOS within the stream's 1 s plus slack), and the pipeline's latency
 * is live and covers the inference. */
GST_START_TEST (test_live_source)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc is-live=true num-buffers=30 ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! convnextclassify name=c threads=1 ! "
      "fakesink name=s sync=true", NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "s");
  GstQuery *latency = gst_query_new_latency ();
  GstStructure *stats = NULL;
  guint64 rendered = 0, dropped = 0;
  gboolean live = FALSE;
  GstClockTime min_latency = 0;

  fail_unless (pipeline != NULL);
  g_object_set (classify, "model", TINY_MODEL_DIR, NULL);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  wait_for_eos (pipeline, 10 * GST_SECOND);

  fail_unless (gst_element_query (pipeline, latency));
  gst_query_parse_latency (latency, &live, &min_latency, NULL);
  fail_unless (live);
  fail_unless (min_latency > 0);
  g_object_get (sink, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "rendered", &rendered));
  fail_unless (gst_structure_get_uint64 (stats, "dropped", &dropped));
  fail_unless_equals_uint64 (rendered, 30);
  fail_unless_equals_uint64 (dropped, 0);

  gst_structure_free (stats);
  gst_query_unref (latency);
  gst_object_unref (sink);
  gst_object_unref (classify);
  stop_pipeline (pipeline);
}
GST_END_TEST;

/* NULL ↔ PLAYING 100 times: model loaded and freed each time (leaks show under valgrind/ASan). */
GST_START_TEST (test_state_cycles)
{
  GstElement *pipeline = gst_parse_launch ("videotestsrc ! "
      "video/x-raw,width=64,height=48,framerate=30/1 ! convnextclassify name=c threads=1 ! "
      "fakesink name=s sync=false", NULL);
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  GstBus *bus = gst_element_get_bus (pipeline);

  g_object_set (classify, "model", TINY_MODEL_DIR, NULL);
  for (guint i = 0; i < 100; i++) {
    fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
    fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
  }
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING) == NULL);
  gst_object_unref (bus);
  gst_object_unref (classify);
  gst_object_unref (pipeline);
}
GST_END_TEST;

/* Properties changed from another thread while frames flow. */
GST_START_TEST (test_property_stress)
{
  GstHarness *h = harness_new (NULL);
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_NV12, 96, 64, &info);
  GValue top_k = G_VALUE_INIT, interval = G_VALUE_INIT, threshold = G_VALUE_INIT;
  GstHarnessThread *threads[3];

  g_value_init (&top_k, G_TYPE_UINT);
  g_value_set_uint (&top_k, 2);
  g_value_init (&interval, G_TYPE_UINT);
  g_value_set_uint (&interval, 4);
  g_value_init (&threshold, G_TYPE_DOUBLE);
  g_value_set_double (&threshold, 0.05);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  threads[0] = gst_harness_stress_property_start (h, "top-k", &top_k);
  threads[1] = gst_harness_stress_property_start (h, "inference-interval", &interval);
  threads[2] = gst_harness_stress_property_start (h, "threshold", &threshold);
  for (guint i = 0; i < 100; i++) {
    GstBuffer *out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
    GstConvNextClassificationMeta *meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless (meta != NULL && meta->n_classes <= 5);
    gst_buffer_unref (out);
  }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    gst_harness_stress_thread_stop (threads[i]);
  g_value_unset (&top_k);
  g_value_unset (&interval);
  g_value_unset (&threshold);
  gst_buffer_unref (frame);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* The LATENCY query adds the measured inference time to upstream's latency. */
GST_START_TEST (test_latency)
{
  GstHarness *h = harness_new (NULL);
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_RGB, 64, 48, &info);
  GstConvNextClassificationMeta *meta;
  GstBuffer *out;

  gst_harness_set_upstream_latency (h, 10 * GST_MSECOND);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  out = gst_harness_push_and_pull (h, frame);
  meta = gst_buffer_get_convnext_classification_meta (out);
  fail_unless (meta != NULL);
  /* At least upstream's plus one inference (the slowest measured so far). */
  fail_unless (gst_harness_query_latency (h) >= 10 * GST_MSECOND + meta->inference_time * 0.8);
  fail_unless (gst_harness_query_latency (h) > 10 * GST_MSECOND);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* An inference slower than the reported latency by more than 25 % is re-announced: a LATENCY
 * message, and the query then covers it.  The warm-up times forward passes alone; a 4K frame's
 * preprocessing makes a real inference many times longer (up to 10 frames are pushed, in case
 * a busy machine slowed the warm-up down). */
GST_START_TEST (test_latency_reannounced)
{
  GstHarness *h = harness_new (NULL);
  GstBus *bus = gst_bus_new ();
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_RGB, 3840, 2160, &info);
  gboolean slower = FALSE;

  gst_element_set_bus (h->element, bus);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  for (guint i = 0; i < 10 && !slower; i++) {
    GstClockTime before = gst_harness_query_latency (h);
    GstBuffer *out;
    GstConvNextClassificationMeta *meta;
    GstMessage *msg;

    while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_LATENCY)))
      gst_message_unref (msg);
    out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
    meta = gst_buffer_get_convnext_classification_meta (out);
    fail_unless (meta != NULL);
    /* The element times the frame from its arrival, a little more than the meta's time. */
    slower = meta->inference_time > before * 5 / 4;
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_LATENCY);
    if (slower) {
      fail_unless (msg != NULL, "no LATENCY message after an inference of %" GST_TIME_FORMAT
          " (reported %" GST_TIME_FORMAT ")", GST_TIME_ARGS (meta->inference_time),
          GST_TIME_ARGS (before));
      fail_unless (gst_harness_query_latency (h) >= meta->inference_time);
    }
    g_clear_pointer (&msg, gst_message_unref);
    gst_buffer_unref (out);
  }
  fail_unless (slower, "no 4K frame took 25 % longer than the warm-up");

  gst_buffer_unref (frame);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* threads=0 (auto): the inference thread runs two OpenMP teams (one thread, all cores) in
 * turn as it measures them; every frame gets the library's result whichever ran it.  80 frames
 * cover the first measurement, the first try of all cores (after 32 passes) and the next. */
GST_START_TEST (test_auto_threads)
{
  Library *lib = library_new (TINY_MODEL_DIR);
  GstHarness *h = harness_new ("threads", 0, NULL);
  ConvNextClass expected[5];
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_I420, 160, 120, &info);
  guint n;

  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  n = library_classify (lib, frame, &info, 5, expected);
  for (guint i = 0; i < 80; i++) {
    GstBuffer *out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
    check_result (out, expected, n, SAME_TOLERANCE, "tiny", 160, 120);
    gst_buffer_unref (out);
  }
  gst_buffer_unref (frame);
  gst_harness_teardown (h);
  library_free (lib);
}
GST_END_TEST;

/* A model change while PLAYING waits for the next READY→PAUSED. */
GST_START_TEST (test_model_change_while_playing)
{
  GstHarness *h = harness_new (NULL);
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_RGB, 64, 48, &info);
  GstBuffer *out;
  gchar *model;

  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  g_object_set (h->element, "model", TINY_NORESIZE_MODEL_DIR, NULL);
  g_object_get (h->element, "model", &model, NULL);
  fail_unless_equals_string (model, TINY_NORESIZE_MODEL_DIR);
  g_free (model);
  out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
  fail_unless_equals_string (gst_buffer_get_convnext_classification_meta (out)->model_name,
      "tiny");
  gst_buffer_unref (out);

  fail_unless_equals_int (gst_element_set_state (h->element, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  gst_harness_play (h);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  out = gst_harness_push_and_pull (h, gst_buffer_ref (frame));
  fail_unless_equals_string (gst_buffer_get_convnext_classification_meta (out)->model_name,
      "tiny-noresize");
  gst_buffer_unref (out);
  gst_buffer_unref (frame);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* bf16 inference where the CPU has it: the same top class, scores close to f32. */
GST_START_TEST (test_precision_bf16)
{
  Library *lib = library_new (TINY_MODEL_DIR);
  GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
  ConvNextClass expected[5];
  ConvNextParams params;
  GstVideoInfo info;
  GstBuffer *frame = make_frame (GST_VIDEO_FORMAT_RGB, 128, 96, &info);
  ConvNextModel *probe;
  GstHarness *h;
  GstBuffer *out;
  GstConvNextClassificationMeta *meta;

  library_classify (lib, frame, &info, 5, expected);
  convnext_params_init (&params);
  params.precision = CONVNEXT_PRECISION_BF16;
  probe = convnext_model_new (TINY_MODEL_DIR, &params, NULL);
  if (probe == NULL) {
    /* This CPU has no bf16: the element must say so on the bus instead. */
    GstElement *pipeline = gst_pipeline_new (NULL);
    g_object_set (element, "model", TINY_MODEL_DIR, "precision", 1, NULL);
    gst_bin_add (GST_BIN (pipeline), element);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PAUSED),
        GST_STATE_CHANGE_FAILURE);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
    gst_buffer_unref (frame);
    library_free (lib);
    return;
  }
  convnext_model_free (probe);

  g_object_set (element, "model", TINY_MODEL_DIR, "threads", 1, NULL);
  gst_util_set_object_arg (G_OBJECT (element), "precision", "bf16");
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  out = gst_harness_push_and_pull (h, frame);
  meta = gst_buffer_get_convnext_classification_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->classes[0].class_id, expected[0].id);
  fail_unless (fabs (meta->classes[0].score - expected[0].score) < 5e-2);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  library_free (lib);
}
GST_END_TEST;

/* Property defaults and ranges as gst-inspect-1.0 shows them. */
GST_START_TEST (test_properties)
{
  GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (element);
  GParamSpecUInt *top_k = G_PARAM_SPEC_UINT (g_object_class_find_property (klass, "top-k"));
  GParamSpecDouble *threshold =
      G_PARAM_SPEC_DOUBLE (g_object_class_find_property (klass, "threshold"));
  gchar *model, *labels_file;
  guint k, interval, threads;
  gboolean post;
  gint precision;

  g_object_get (element, "model", &model, "top-k", &k, "inference-interval", &interval,
      "threads", &threads, "labels-file", &labels_file, "post-messages", &post,
      "precision", &precision, NULL);
  fail_unless_equals_string (model, convnext_default_model_dir ());
  fail_unless_equals_int (k, 5);
  fail_unless_equals_int (interval, 1);
  fail_unless_equals_int (threads, 0);
  fail_unless (labels_file == NULL);
  fail_unless (!post);
  fail_unless_equals_int (precision, 0);
  fail_unless_equals_int (top_k->minimum, 1);
  fail_unless_equals_float (threshold->minimum, 0.0);
  fail_unless_equals_float (threshold->maximum, 1.0);
  g_free (model);

  /* NULL goes back to the default model. */
  g_object_set (element, "model", "/somewhere", NULL);
  g_object_set (element, "model", NULL, NULL);
  g_object_get (element, "model", &model, NULL);
  fail_unless_equals_string (model, convnext_default_model_dir ());
  g_free (model);
  gst_object_unref (element);
}
GST_END_TEST;

/* A bare `convnextclassify` runs the embedded default model (skipped until it exists). */
GST_START_TEST (test_default_model)
{
  g_autofree gchar *config = g_build_filename (convnext_default_model_dir (), "config.json",
      NULL);
  GstElement *element;
  GstHarness *h;
  GstVideoInfo info;
  GstBuffer *out;

  if (!g_file_test (config, G_FILE_TEST_EXISTS)) {
    GST_WARNING ("no default model at %s: skipped", convnext_default_model_dir ());
    return;
  }
  element = gst_element_factory_make ("convnextclassify", NULL);
  g_object_set (element, "threads", 1, NULL);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
  out = gst_harness_push_and_pull (h, make_frame (GST_VIDEO_FORMAT_RGB, 64, 48, &info));
  fail_unless (gst_buffer_get_convnext_classification_meta (out) != NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * The model cache (gstconvnextmodelcache.h): instances share one model per checkpoint.
 * ------------------------------------------------------------------------------------------ */

/* The plugin's testing hook gst_convnext_model_cache_get_size(), found in the loaded plugin. */
static guint
cache_size (void)
{
  static guint (*get_size) (void);

  if (get_size == NULL) {
    GstPlugin *found = gst_registry_find_plugin (gst_registry_get (), "convnext");
    GstPlugin *plugin;
    GModule *module;

    fail_unless (found != NULL);
    /* A new reference (transfer full) besides the registry's, which found holds. */
    plugin = gst_plugin_load (found);
    gst_object_unref (found);
    fail_unless (plugin != NULL);
    module = g_module_open (gst_plugin_get_filename (plugin), G_MODULE_BIND_LOCAL);
    fail_unless (module != NULL, "%s", g_module_error ());
    fail_unless (g_module_symbol (module, "gst_convnext_model_cache_get_size",
            (gpointer *) &get_size));
    gst_object_unref (plugin);
  }
  return get_size ();
}

/* The pattern through @h gives the PyTorch reference of expected_pattern.h. */
static void
check_pattern (GstHarness *h, const gchar *label_prefix)
{
  ConvNextClass expected[N_LABELS];
  gchar *labels[N_LABELS];
  GstVideoInfo info;
  GstBuffer *out;

  for (guint i = 0; i < N_LABELS; i++) {
    expected[i].id = expected_pattern_ids[i];
    expected[i].score = expected_pattern_scores[i];
    labels[i] = label_prefix ? g_strdup_printf ("%s %u", label_prefix, expected[i].id) : NULL;
    expected[i].label = labels[i];
  }
  out = gst_harness_push_and_pull (h, make_frame (GST_VIDEO_FORMAT_RGB, PATTERN_WIDTH,
          PATTERN_HEIGHT, &info));
  check_result (out, expected, N_LABELS, REFERENCE_TOLERANCE, "tiny-noresize", PATTERN_WIDTH,
      PATTERN_HEIGHT);
  gst_buffer_unref (out);
  for (guint i = 0; i < N_LABELS; i++)
    g_free (labels[i]);
}

static GstHarness *
pattern_harness (const gchar *first_property, ...)
{
  GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
  GstHarness *h;
  GstVideoInfo info;
  va_list args;

  fail_unless (element != NULL);
  g_object_set (element, "model", TINY_NORESIZE_MODEL_DIR, "top-k", N_LABELS, "threads", 1,
      NULL);
  va_start (args, first_property);
  if (first_property)
    g_object_set_valist (G_OBJECT (element), first_property, args);
  va_end (args);
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, PATTERN_WIDTH, PATTERN_HEIGHT);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  return h;
}

/* 4 instances, 2 with labels-files of their own: one model; each result is the reference with
 * its own labels (none leaks to the others); the model goes with the last stop. */
GST_START_TEST (test_shared_instances)
{
  gchar *path = write_labels (N_LABELS, "\n");
  gchar *other = g_strdup_printf ("%s.other", path);
  GString *s = g_string_new (NULL);
  GstHarness *h[4];

  for (guint i = 0; i < N_LABELS; i++)
    g_string_append_printf (s, "other %u\n", i);
  fail_unless (g_file_set_contents (other, s->str, -1, NULL));
  fail_unless_equals_int (cache_size (), 0);
  h[0] = pattern_harness ("labels-file", path, NULL);
  h[1] = pattern_harness (NULL);
  h[2] = pattern_harness ("labels-file", other, NULL);
  h[3] = pattern_harness ("threads", 2, NULL);
  fail_unless_equals_int (cache_size (), 1);
  for (guint round = 0; round < 2; round++) {
    check_pattern (h[0], "label number");
    check_pattern (h[1], NULL);
    check_pattern (h[2], "other");
    check_pattern (h[3], NULL);
  }
  for (guint i = 0; i < 4; i++) {
    fail_unless_equals_int (cache_size (), 1);
    gst_harness_teardown (h[i]);
  }
  fail_unless_equals_int (cache_size (), 0);

  /* share-model=FALSE: a private copy, not in the cache. */
  h[0] = pattern_harness ("share-model", FALSE, NULL);
  fail_unless_equals_int (cache_size (), 0);
  check_pattern (h[0], NULL);
  gst_harness_teardown (h[0]);
  g_unlink (other);
  g_unlink (path);
  g_free (other);
  g_free (path);
  g_string_free (s, TRUE);
}
GST_END_TEST;

/* f32 and int8 of one checkpoint are different networks: two models. */
GST_START_TEST (test_shared_precisions_apart)
{
  g_autofree gchar *config_path = g_build_filename (TINY_MODEL_DIR, "config.json", NULL);
  g_autofree gchar *config = NULL;
  g_autofree gchar *calibration = NULL;
  g_autofree gfloat *pixels = g_new (gfloat, 3 * 32 * 32);
  GError *error = NULL;
  ConvNextModel *model;
  ConvNextCalibrator *cal;
  GstHarness *a, *b;
  gchar *dir;

  fail_unless (g_file_get_contents (config_path, &config, NULL, NULL));
  dir = broken_model ("config.json", config, -1);       /* a copy of models/tiny */
  calibration = g_build_filename (dir, "int8_calibration.json", NULL);
  model = convnext_model_new (dir, NULL, &error);
  fail_unless (model != NULL, "%s", error ? error->message : "");
  cal = convnext_calibrator_new (model);
  for (guint i = 0; i < 3 * 32 * 32; i++)
    pixels[i] = (gfloat) ((i * 37) % 101) / 50.0f - 1.0f;
  fail_unless (convnext_calibrator_add (cal, pixels, 1, 32, 32, &error), "%s", error->message);
  fail_unless (convnext_calibrator_save (cal, calibration, &error), "%s", error->message);
  convnext_calibrator_free (cal);
  convnext_model_unref (model);

  a = harness_new ("model", dir, NULL);
  fail_unless_equals_int (cache_size (), 1);
  {
    GstElement *element = gst_element_factory_make ("convnextclassify", NULL);
    g_object_set (element, "model", dir, "threads", 1, NULL);
    gst_util_set_object_arg (G_OBJECT (element), "precision", "int8");
    b = gst_harness_new_with_element (element, "sink", "src");
    gst_object_unref (element);
  }
  fail_unless_equals_int (cache_size (), 2);
  gst_harness_teardown (b);
  fail_unless_equals_int (cache_size (), 1);
  gst_harness_teardown (a);
  fail_unless_equals_int (cache_size (), 0);
  g_unlink (calibration);
  remove_model (dir);
}
GST_END_TEST;

/* A checkpoint rewritten on disk while an instance runs: the next start loads the new file
 * (here weights set to NaN, which the loader refuses), not the cached model. */
GST_START_TEST (test_shared_not_stale)
{
  gchar *dir = patched_weights_model ("classifier.weight", 0.0f);
  gchar *weights = g_build_filename (dir, "model.safetensors", NULL);
  gchar *nan_dir = patched_weights_model ("classifier.weight", NAN);
  gchar *nan_weights = g_build_filename (nan_dir, "model.safetensors", NULL);
  GstHarness *a = harness_new ("model", dir, NULL);
  GstHarness *b;
  GstVideoInfo info;
  GError *error;

  fail_unless_equals_int (cache_size (), 1);
  b = harness_new ("model", dir, NULL);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 64, 48);
  gst_harness_set_src_caps (b, gst_video_info_to_caps (&info));
  fail_unless_equals_int (cache_size (), 1);
  gst_harness_teardown (b);

  /* Replace the weights file as g_file_set_contents() does (rename over it): same name and
   * size, another inode. */
  fail_unless (g_rename (nan_weights, weights) == 0);
  error = start_error (dir, NULL);
  fail_unless (error != NULL, "the cached model was served for a changed file");
  fail_unless (strstr (error->message, "classifier.weight") != NULL, "%s", error->message);
  g_error_free (error);
  fail_unless_equals_int (cache_size (), 1);
  gst_harness_teardown (a);
  fail_unless_equals_int (cache_size (), 0);
  remove_model (nan_dir);
  remove_model (dir);
  g_free (nan_weights);
  g_free (weights);
}
GST_END_TEST;

/* ------------------------------------------------------------------------------------------
 * Many streams on one model, concurrently: 4 branches of one pipeline, 4 pipelines.
 * ------------------------------------------------------------------------------------------ */

#define STREAM_FRAMES 4
/* Bound on any wait of these tests (natively each takes well under a second; TSan, valgrind). */
#define STREAM_TIMEOUT (120 * GST_SECOND)

/* The streaming thread each convnextclassify's sink pad saw, to show the branches run apart. */
static GstPadProbeReturn
record_thread (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  g_atomic_pointer_set ((gpointer *) user_data, g_thread_self ());
  return GST_PAD_PROBE_OK;
}

/* Queues STREAM_FRAMES pattern frames (RGB, PATTERN_WIDTH×PATTERN_HEIGHT) and EOS in appsrc
 * @name of @pipeline, before it starts. */
static void
feed_pattern (GstElement *pipeline, const gchar *name)
{
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstVideoInfo info;
  GstCaps *caps;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, PATTERN_WIDTH, PATTERN_HEIGHT);
  info.fps_n = 30;
  info.fps_d = 1;
  caps = gst_video_info_to_caps (&info);
  g_object_set (src, "caps", caps, "format", GST_FORMAT_TIME, NULL);
  gst_caps_unref (caps);
  for (guint i = 0; i < STREAM_FRAMES; i++) {
    GstBuffer *buf = make_frame (GST_VIDEO_FORMAT_RGB, PATTERN_WIDTH, PATTERN_HEIGHT, &info);

    GST_BUFFER_PTS (buf) = gst_util_uint64_scale (i, GST_SECOND, 30);
    GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (1, GST_SECOND, 30);
    fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (src), buf), GST_FLOW_OK);
  }
  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (src)), GST_FLOW_OK);
  gst_object_unref (src);
}

/* A probe on convnextclassify @name's sink pad storing its streaming thread in @thread. */
static void
watch_thread (GstElement *pipeline, const gchar *name, GThread **thread)
{
  GstElement *classify = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad = gst_element_get_static_pad (classify, "sink");

  *thread = NULL;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, record_thread, thread, NULL);
  gst_object_unref (pad);
  gst_object_unref (classify);
}

/* Sets @pipeline to PLAYING and waits (bounded) until it is. */
static void
play (GstElement *pipeline)
{
  GstStateChangeReturn ret = gst_element_set_state (pipeline, GST_STATE_PLAYING);

  fail_if (ret == GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL, STREAM_TIMEOUT),
      GST_STATE_CHANGE_SUCCESS);
}

/* Every frame at appsink @name of @pipeline carries the PyTorch reference (expected_pattern.h),
 * then EOS. */
static void
check_pattern_branch (GstElement *pipeline, const gchar *name)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  ConvNextClass expected[N_LABELS];

  for (guint i = 0; i < N_LABELS; i++) {
    expected[i].id = expected_pattern_ids[i];
    expected[i].score = expected_pattern_scores[i];
    expected[i].label = NULL;
  }
  for (guint n = 0; n < STREAM_FRAMES; n++) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), STREAM_TIMEOUT);

    fail_unless (sample != NULL, "%s: frame %u did not arrive", name, n);
    check_result (gst_sample_get_buffer (sample), expected, N_LABELS, REFERENCE_TOLERANCE,
        "tiny-noresize", PATTERN_WIDTH, PATTERN_HEIGHT);
    gst_sample_unref (sample);
  }
  fail_unless (gst_app_sink_try_pull_sample (GST_APP_SINK (sink), STREAM_TIMEOUT) == NULL,
      "%s: more frames than were sent", name);
  fail_unless (gst_app_sink_is_eos (GST_APP_SINK (sink)));
  gst_object_unref (sink);
}

/* appsrc → tee → 4 × (queue ! convnextclassify ! appsink): the 4 instances share one model
 * and run forward on 4 streaming threads at once; every branch gets the reference; the model
 * goes when the pipeline stops. */
GST_START_TEST (test_shared_tee_branches)
{
  GString *desc = g_string_new ("appsrc name=src ! tee name=t");
  GThread *threads[4];
  GstElement *pipeline;

  for (guint i = 0; i < 4; i++)
    g_string_append_printf (desc, " t. ! queue ! convnextclassify name=c%u model=\"%s\" "
        "top-k=%u threads=1 ! appsink name=s%u sync=false", i, TINY_NORESIZE_MODEL_DIR,
        N_LABELS, i);
  pipeline = gst_parse_launch (desc->str, NULL);
  fail_unless (pipeline != NULL);
  fail_unless_equals_int (cache_size (), 0);
  for (guint i = 0; i < 4; i++) {
    g_autofree gchar *name = g_strdup_printf ("c%u", i);
    watch_thread (pipeline, name, &threads[i]);
  }
  feed_pattern (pipeline, "src");
  play (pipeline);
  fail_unless_equals_int (cache_size (), 1);
  for (guint i = 0; i < 4; i++) {
    g_autofree gchar *name = g_strdup_printf ("s%u", i);
    check_pattern_branch (pipeline, name);
  }
  wait_for_eos (pipeline, STREAM_TIMEOUT);
  for (guint i = 0; i < 4; i++) {
    fail_unless (g_atomic_pointer_get (&threads[i]) != NULL);
    for (guint j = 0; j < i; j++)
      fail_unless (g_atomic_pointer_get (&threads[i]) != g_atomic_pointer_get (&threads[j]),
          "branches %u and %u on one thread", j, i);
  }
  fail_unless_equals_int (cache_size (), 1);
  stop_pipeline (pipeline);
  fail_unless_equals_int (cache_size (), 0);
  g_string_free (desc, TRUE);
}
GST_END_TEST;

/* 4 pipelines in one process playing at once, each appsrc ! convnextclassify ! appsink on the
 * same checkpoint: one model, the reference everywhere, freed after the last stop. */
GST_START_TEST (test_shared_pipelines)
{
  g_autofree gchar *desc = g_strdup_printf ("appsrc name=src ! convnextclassify model=\"%s\" "
      "top-k=%u threads=1 ! appsink name=sink sync=false", TINY_NORESIZE_MODEL_DIR, N_LABELS);
  GstElement *pipelines[4];

  fail_unless_equals_int (cache_size (), 0);
  for (guint i = 0; i < 4; i++) {
    pipelines[i] = gst_parse_launch (desc, NULL);
    fail_unless (pipelines[i] != NULL);
    feed_pattern (pipelines[i], "src");
  }
  /* All four start before any result is read: their streaming threads run together. */
  for (guint i = 0; i < 4; i++)
    fail_if (gst_element_set_state (pipelines[i], GST_STATE_PLAYING) ==
        GST_STATE_CHANGE_FAILURE);
  for (guint i = 0; i < 4; i++)
    fail_unless_equals_int (gst_element_get_state (pipelines[i], NULL, NULL, STREAM_TIMEOUT),
        GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (cache_size (), 1);
  for (guint i = 0; i < 4; i++) {
    check_pattern_branch (pipelines[i], "sink");
    wait_for_eos (pipelines[i], STREAM_TIMEOUT);
  }
  for (guint i = 0; i < 4; i++) {
    fail_unless_equals_int (cache_size (), 1);
    stop_pipeline (pipelines[i]);
  }
  fail_unless_equals_int (cache_size (), 0);
}
GST_END_TEST;


static Suite *
convnextclassify_suite (void)
{
  Suite *s = suite_create ("convnextclassify");
  TCase *formats = tcase_create ("formats");
  TCase *stream = tcase_create ("stream");
  TCase *errors = tcase_create ("errors");
  TCase *pipelines = tcase_create ("pipelines");
  TCase *shared = tcase_create ("shared");

  /* Generous for valgrind and ASan; each test takes about a second natively. */
  tcase_set_timeout (formats, 300);
  tcase_set_timeout (stream, 300);
  tcase_set_timeout (errors, 300);
  tcase_set_timeout (pipelines, 600);
  tcase_set_timeout (shared, 300);

  suite_add_tcase (s, formats);
  tcase_add_test (formats, test_each_format);
  tcase_add_test (formats, test_unsupported_format_refused);
  tcase_add_test (formats, test_colorimetry);
  tcase_add_test (formats, test_odd_size_i420);
  tcase_add_test (formats, test_row_padding_rgb);
  tcase_add_test (formats, test_pattern_matches_pytorch);

  suite_add_tcase (s, stream);
  tcase_add_test (stream, test_memory_identity);
  tcase_add_test (stream, test_caps_change);
  tcase_add_test (stream, test_inference_interval);
  tcase_add_test (stream, test_top_k_and_threshold);
  tcase_add_test (stream, test_labels_file);
  tcase_add_test (stream, test_latency);
  tcase_add_test (stream, test_latency_reannounced);
  tcase_add_test (stream, test_auto_threads);
  tcase_add_test (stream, test_model_change_while_playing);
  tcase_add_test (stream, test_precision_bf16);
  tcase_add_test (stream, test_properties);
  tcase_add_test (stream, test_default_model);
  tcase_add_test (stream, test_library_log_in_gst_debug);

  suite_add_tcase (s, errors);
  tcase_add_test (errors, test_missing_model);
  tcase_add_test (errors, test_broken_config);
  tcase_add_test (errors, test_no_preprocessor_config_warns);
  tcase_add_test (errors, test_unused_tensors_warn);
  tcase_add_test (errors, test_truncated_weights);
  tcase_add_test (errors, test_bare_model_refused);
  tcase_add_test (errors, test_labels_file_mismatch);
  tcase_add_test (errors, test_labels_file_not_utf8);
  tcase_add_test (errors, test_nan_weights_refused);
  tcase_add_test (errors, test_overflow_gives_empty_result);

  suite_add_tcase (s, pipelines);
  tcase_add_test (pipelines, test_meta_survives_pipeline);
  tcase_add_test (pipelines, test_live_source);
  tcase_add_test (pipelines, test_state_cycles);
  tcase_add_test (pipelines, test_property_stress);

  suite_add_tcase (s, shared);
  tcase_add_test (shared, test_shared_instances);
  tcase_add_test (shared, test_shared_precisions_apart);
  tcase_add_test (shared, test_shared_not_stale);
  tcase_add_test (shared, test_shared_tee_branches);
  tcase_add_test (shared, test_shared_pipelines);
  return s;
}

GST_CHECK_MAIN (convnextclassify);
