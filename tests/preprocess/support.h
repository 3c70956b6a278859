/* Helpers shared by the preprocessing tests: frames decoded and converted by GStreamer
 * (pngdec, GstVideoConverter = videoconvert's code), the recorded fixtures, and the
 * "uint8 levels" measure of the bar. */
#pragma once

#include <convnext.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* A frame owned by the tests: GstVideoInfo layout (or custom strides), one allocation. */
typedef struct {
  GstVideoInfo info;
  guint8 *data;
} TestFrame;

void test_frame_free (TestFrame *frame);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestFrame, test_frame_free)

/* Whether GStreamer can decode the PNG fixtures (pngdec, from gst-plugins-good); tests that
 * need them skip without it. */
gboolean test_have_png_decoder (void);

/* Registers one skipped test in place of a program's tests (call g_test_run() after). */
void test_skip_all (const char *path, const char *reason);

/* Decodes a PNG (path relative to the source root) with filesrc ! pngdec ! videoconvert. */
TestFrame *test_frame_load_png (const char *path, GstVideoFormat format);

/* @src converted to @format with GstVideoConverter's defaults (what videoconvert does);
 * @colorimetry ("bt601", "bt709", "1:4:0:0"…) and @chroma_site (NULL = default) describe the
 * YUV side. */
TestFrame *test_frame_convert (const TestFrame *src, GstVideoFormat format,
    const char *colorimetry, const char *chroma_site);

/* The same pixels with rows of exactly the pixels' bytes plus @pad (0: tightly packed), a gap
 * between the planes, all padding filled with garbage. */
TestFrame *test_frame_pad (const TestFrame *src, guint pad);

/* A view of @frame for the library. */
ConvNextImage test_frame_image (const TestFrame *frame);

const char *test_format_name (GstVideoFormat format);

/* Absolute path of a file in the source tree. */
char *test_source_path (const char *relative);

/* preprocessor_config.json values the tests need to undo the normalisation (transformers'
 * defaults when the file is absent). */
typedef struct {
  gboolean do_rescale, do_normalize;
  double rescale_factor;
  double mean[3], std[3];
} TestNorm;

TestNorm test_norm_load (const char *model_dir);

/* Distance in uint8 levels between pixel_values and the uint8 image @expected ([H][W][3],
 * row stride @stride) of the same size, after undoing rescale + normalize. */
typedef struct {
  double max;
  guint64 n, over1, inexact;    /* values compared, > 1 level apart, not equal */
} TestLevels;

void test_levels_add (TestLevels *levels, const TestNorm *norm, const float *pixel_values,
    guint width, guint height, const guint8 *expected, gsize stride);

/* The bar: ≤ @max_levels everywhere, ≤ 1 level for ≥ 99.9 % of the values. */
void test_levels_assert (const TestLevels *levels, double max_levels, const char *what);

/* Stricter: every value equal.  The library reproduces PIL's and videoconvert's integer
 * arithmetic, so any difference is a bug (the bar above lets e.g. a bicubic parameter of
 * -0.52 instead of -0.5 through). */
void test_levels_assert_exact (const TestLevels *levels, const char *what);

/* Runs the preprocessor on @image (and @roi) and returns pixel_values (g_free). */
float *test_preprocess (ConvNextPreprocessor *pre, const ConvNextImage *image,
    const ConvNextRect *roi, guint *width, guint *height);

/* A temporary model directory holding @json as preprocessor_config.json (NULL: no file).
 * Removed by test_model_dir_remove(). */
char *test_model_dir_new (const char *json);
void test_model_dir_remove (char *dir);

G_END_DECLS
