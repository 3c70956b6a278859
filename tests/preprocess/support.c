#include "support.h"

#include <gst/app/app.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

void
test_frame_free (TestFrame *frame)
{
  if (frame == NULL)
    return;
  g_free (frame->data);
  g_free (frame);
}

static TestFrame *
frame_new (const GstVideoInfo *info)
{
  TestFrame *frame = g_new0 (TestFrame, 1);

  frame->info = *info;
  frame->data = g_malloc0 (info->size);
  return frame;
}

/* Maps @frame as a GstVideoFrame (the buffer wraps our memory). */
static void
frame_map (const TestFrame *frame, GstVideoFrame *vframe, GstMapFlags flags)
{
  g_autoptr (GstBuffer) buffer = gst_buffer_new_wrapped_full (0, frame->data, frame->info.size, 0,
      frame->info.size, NULL, NULL);

  g_assert_true (gst_video_frame_map (vframe, (GstVideoInfo *) & frame->info, buffer, flags));
}

char *
test_source_path (const char *relative)
{
  return g_build_filename (CONVNEXT_SOURCE_ROOT, relative, NULL);
}

gboolean
test_have_png_decoder (void)
{
  g_autoptr (GstElementFactory) factory = gst_element_factory_find ("pngdec");

  return factory != NULL;
}

static void
skip (gconstpointer reason)
{
  g_test_skip (reason);
}

void
test_skip_all (const char *path, const char *reason)
{
  g_test_add_data_func (path, reason, skip);
}

TestFrame *
test_frame_load_png (const char *path, GstVideoFormat format)
{
  g_autofree char *file = test_source_path (path);
  g_autofree char *desc = g_strdup_printf ("filesrc location=\"%s\" ! pngdec ! videoconvert ! "
      "video/x-raw,format=%s ! appsink name=sink sync=false", file,
      gst_video_format_to_string (format));
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (desc, &error);
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstSample) sample = NULL;
  GstVideoInfo info;
  GstVideoFrame in, out;
  TestFrame *frame;

  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 120 * GST_SECOND);
  g_assert_nonnull (sample);
  g_assert_true (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)));
  g_assert_true (gst_video_frame_map (&in, &info, gst_sample_get_buffer (sample), GST_MAP_READ));

  frame = frame_new (&info);
  frame_map (frame, &out, GST_MAP_WRITE);
  g_assert_true (gst_video_frame_copy (&out, &in));
  gst_video_frame_unmap (&out);
  gst_video_frame_unmap (&in);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  return frame;
}

TestFrame *
test_frame_convert (const TestFrame *src, GstVideoFormat format, const char *colorimetry,
    const char *chroma_site)
{
  GstVideoInfo info;
  GstVideoConverter *converter;
  GstVideoFrame in, out;
  TestFrame *frame;

  gst_video_info_set_format (&info, format, GST_VIDEO_INFO_WIDTH (&src->info),
      GST_VIDEO_INFO_HEIGHT (&src->info));
  if (GST_VIDEO_INFO_IS_YUV (&info)) {
    if (colorimetry != NULL)
      g_assert_true (gst_video_colorimetry_from_string (&info.colorimetry, colorimetry));
    if (chroma_site != NULL)
      info.chroma_site = gst_video_chroma_site_from_string (chroma_site);
  }
  frame = frame_new (&info);
  converter = gst_video_converter_new ((GstVideoInfo *) & src->info, &info, NULL);
  g_assert_nonnull (converter);
  frame_map (src, &in, GST_MAP_READ);
  frame_map (frame, &out, GST_MAP_WRITE);
  gst_video_converter_frame (converter, &in, &out);
  gst_video_frame_unmap (&out);
  gst_video_frame_unmap (&in);
  gst_video_converter_free (converter);
  return frame;
}

TestFrame *
test_frame_pad (const TestFrame *src, guint pad)
{
  GstVideoInfo info = src->info;
  GstVideoFrame in, out;
  TestFrame *frame;
  gsize offset = 0;

  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (&info); p++) {
    guint comp = p == 0 ? 0 : 1;   /* I420: Y, U, V; NV12: Y, UV; packed: one plane */
    guint rows = GST_VIDEO_INFO_COMP_HEIGHT (&info, comp);
    info.stride[p] = GST_VIDEO_INFO_COMP_WIDTH (&info, comp) * GST_VIDEO_INFO_COMP_PSTRIDE (&info,
        comp) + pad;
    if (p == 2)
      info.stride[p] = info.stride[1];
    info.offset[p] = offset;
    offset += (gsize) info.stride[p] * rows + 3 * pad;   /* and a gap between planes */
  }
  info.size = offset;
  frame = frame_new (&info);
  memset (frame->data, 0xA5, info.size);
  frame_map (src, &in, GST_MAP_READ);
  frame_map (frame, &out, GST_MAP_WRITE);
  g_assert_true (gst_video_frame_copy (&out, &in));
  gst_video_frame_unmap (&out);
  gst_video_frame_unmap (&in);
  return frame;
}

static const struct {
  GstVideoFormat gst;
  ConvNextPixelFormat convnext;
} formats[] = {
  { GST_VIDEO_FORMAT_RGB, CONVNEXT_PIXEL_FORMAT_RGB },
  { GST_VIDEO_FORMAT_BGR, CONVNEXT_PIXEL_FORMAT_BGR },
  { GST_VIDEO_FORMAT_RGBx, CONVNEXT_PIXEL_FORMAT_RGBX },
  { GST_VIDEO_FORMAT_BGRx, CONVNEXT_PIXEL_FORMAT_BGRX },
  { GST_VIDEO_FORMAT_xRGB, CONVNEXT_PIXEL_FORMAT_XRGB },
  { GST_VIDEO_FORMAT_xBGR, CONVNEXT_PIXEL_FORMAT_XBGR },
  { GST_VIDEO_FORMAT_RGBA, CONVNEXT_PIXEL_FORMAT_RGBA },
  { GST_VIDEO_FORMAT_BGRA, CONVNEXT_PIXEL_FORMAT_BGRA },
  { GST_VIDEO_FORMAT_ARGB, CONVNEXT_PIXEL_FORMAT_ARGB },
  { GST_VIDEO_FORMAT_ABGR, CONVNEXT_PIXEL_FORMAT_ABGR },
  { GST_VIDEO_FORMAT_I420, CONVNEXT_PIXEL_FORMAT_I420 },
  { GST_VIDEO_FORMAT_NV12, CONVNEXT_PIXEL_FORMAT_NV12 },
  { GST_VIDEO_FORMAT_GRAY8, CONVNEXT_PIXEL_FORMAT_GRAY8 },
};

ConvNextImage
test_frame_image (const TestFrame *frame)
{
  const GstVideoInfo *info = &frame->info;
  ConvNextImage image = {
    .width = GST_VIDEO_INFO_WIDTH (info),
    .height = GST_VIDEO_INFO_HEIGHT (info),
    .format = (ConvNextPixelFormat) - 1,
  };

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    if (formats[i].gst == GST_VIDEO_INFO_FORMAT (info))
      image.format = formats[i].convnext;
  }
  g_assert_cmpint (image.format, !=, -1);
  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    image.data[p] = frame->data + info->offset[p];
    image.stride[p] = info->stride[p];
  }
  switch (info->colorimetry.matrix) {
    case GST_VIDEO_COLOR_MATRIX_BT709:
      image.matrix = CONVNEXT_COLOR_MATRIX_BT709;
      break;
    case GST_VIDEO_COLOR_MATRIX_BT2020:
      image.matrix = CONVNEXT_COLOR_MATRIX_BT2020;
      break;
    default:
      image.matrix = CONVNEXT_COLOR_MATRIX_BT601;
      break;
  }
  image.full_range = info->colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
  image.chroma_site = ((info->chroma_site & GST_VIDEO_CHROMA_SITE_H_COSITED) ?
      CONVNEXT_CHROMA_SITE_H_COSITED : 0) | ((info->chroma_site & GST_VIDEO_CHROMA_SITE_V_COSITED)
      ? CONVNEXT_CHROMA_SITE_V_COSITED : 0);
  return image;
}

const char *
test_format_name (GstVideoFormat format)
{
  return gst_video_format_to_string (format);
}

static void
read_channels (JsonObject *obj, const char *key, double out[3])
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return;
  for (guint c = 0; c < 3; c++)
    out[c] = JSON_NODE_HOLDS_ARRAY (node) ?
        json_array_get_double_element (json_node_get_array (node), c) :
        json_node_get_double (node);
}

TestNorm
test_norm_load (const char *model_dir)
{
  TestNorm norm = { TRUE, TRUE, 1 / 255.0, { 0.5, 0.5, 0.5 }, { 0.5, 0.5, 0.5 } };
  g_autofree char *path = g_build_filename (model_dir, "preprocessor_config.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *obj;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return norm;
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  obj = json_node_get_object (json_parser_get_root (parser));
  norm.do_rescale = json_object_get_boolean_member_with_default (obj, "do_rescale", TRUE);
  norm.do_normalize = json_object_get_boolean_member_with_default (obj, "do_normalize", TRUE);
  norm.rescale_factor = json_object_get_double_member_with_default (obj, "rescale_factor",
      1 / 255.0);
  read_channels (obj, "image_mean", norm.mean);
  read_channels (obj, "image_std", norm.std);
  return norm;
}

void
test_levels_add (TestLevels *levels, const TestNorm *norm, const float *pixel_values,
    guint width, guint height, const guint8 *expected, gsize stride)
{
  for (guint c = 0; c < 3; c++) {
    for (guint y = 0; y < height; y++) {
      for (guint x = 0; x < width; x++) {
        double v = pixel_values[((gsize) c * height + y) * width + x];
        double d;
        if (norm->do_normalize)
          v = v * norm->std[c] + norm->mean[c];
        if (norm->do_rescale)
          v /= norm->rescale_factor;
        d = fabs (v - expected[y * stride + 3 * x + c]);
        levels->max = MAX (levels->max, d);
        levels->n++;
        levels->over1 += d > 1.001;
        levels->inexact += d > 0.001;
      }
    }
  }
}

void
test_levels_assert (const TestLevels *levels, double max_levels, const char *what)
{
  double within1 = levels->n ? 1.0 - (double) levels->over1 / levels->n : 1.0;

  g_test_message ("%s: max %.3f levels, %.4f %% within 1 level, %.4f %% equal (%"
      G_GUINT64_FORMAT " values)", what, levels->max, 100 * within1,
      levels->n ? 100.0 - 100.0 * levels->inexact / levels->n : 100.0, levels->n);
  g_assert_cmpuint (levels->n, >, 0);
  if (levels->max > max_levels + 0.001 || within1 < 0.999)
    g_error ("%s: %.3f levels max (bar %.0f), %.4f %% within 1 level (bar 99.9 %%)", what,
        levels->max, max_levels, 100 * within1);
}

void
test_levels_assert_exact (const TestLevels *levels, const char *what)
{
  if (levels->inexact > 0)
    g_error ("%s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " values differ (max %.3f "
        "levels): the arithmetic is no longer PIL's / videoconvert's", what, levels->inexact,
        levels->n, levels->max);
}

float *
test_preprocess (ConvNextPreprocessor *pre, const ConvNextImage *image,
    const ConvNextRect *roi, guint *width, guint *height)
{
  g_autoptr (GError) error = NULL;
  float *pixel_values;

  convnext_preprocessor_get_output_size (pre, roi ? roi->width : image->width,
      roi ? roi->height : image->height, width, height);
  pixel_values = g_new (float, 3 * (gsize) *width * *height);
  g_assert_true (convnext_preprocessor_process (pre, image, roi, pixel_values, &error));
  g_assert_no_error (error);
  return pixel_values;
}

char *
test_model_dir_new (const char *json)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("convnext-preprocess-XXXXXX", &error);

  g_assert_no_error (error);
  if (json != NULL) {
    g_autofree char *path = g_build_filename (dir, "preprocessor_config.json", NULL);
    g_file_set_contents (path, json, -1, &error);
    g_assert_no_error (error);
  }
  return dir;
}

void
test_model_dir_remove (char *dir)
{
  g_autofree char *path = g_build_filename (dir, "preprocessor_config.json", NULL);

  g_unlink (path);
  g_rmdir (dir);
  g_free (dir);
}
