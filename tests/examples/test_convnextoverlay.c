/* gst-check tests of convnextoverlay on synthetic frames carrying hand-made metadata.
 *
 * Where the box goes is read from the overlay-composition-meta path (a downstream that takes
 * the meta gets the rectangle and untouched pixels); the blend path must then change samples
 * inside that rectangle only, in every format, for every corner.
 */
#include <gst/app/gstappsink.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <string.h>

#include "gstconvnextmeta.h"

#if HAVE_GST_ANALYTICS
#include <gst/analytics/analytics.h>
#endif

static const GstVideoFormat formats[] = {
  /* what convnextclassify accepts */
  GST_VIDEO_FORMAT_RGB, GST_VIDEO_FORMAT_BGR, GST_VIDEO_FORMAT_RGBx, GST_VIDEO_FORMAT_BGRx,
  GST_VIDEO_FORMAT_xRGB, GST_VIDEO_FORMAT_xBGR, GST_VIDEO_FORMAT_RGBA, GST_VIDEO_FORMAT_BGRA,
  GST_VIDEO_FORMAT_ARGB, GST_VIDEO_FORMAT_ABGR, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_NV12,
  GST_VIDEO_FORMAT_GRAY8,
  /* the rest of the overlay's template */
  GST_VIDEO_FORMAT_YV12, GST_VIDEO_FORMAT_NV21, GST_VIDEO_FORMAT_Y42B, GST_VIDEO_FORMAT_Y444,
  GST_VIDEO_FORMAT_YUY2, GST_VIDEO_FORMAT_UYVY, GST_VIDEO_FORMAT_AYUV,
};

static const gchar *positions[] = { "top-left", "top-right", "bottom-left", "bottom-right" };

#define ATTACH_CAPS "video/x-raw(memory:SystemMemory, meta:GstVideoOverlayComposition)"

/* ------------------------------------------------------------------------------------------
 * Frames and metadata
 * ------------------------------------------------------------------------------------------ */

/* Every byte of every plane bright and varying (so a 60% black box changes each sample). */
static GstBuffer *
make_frame (const GstVideoInfo *info)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstMapInfo map;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = 140 + (i * 7 + i / 13) % 100;
  gst_buffer_unmap (buf, &map);
  GST_BUFFER_PTS (buf) = 0;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  return buf;
}

static const GstConvNextClass test_classes[] = {
  { 3, 0.71f, (gchar *) "cat" }, { 5, 0.2f, (gchar *) "dog" }, { 6, 0.05f, (gchar *) "frog" },
  { 2, 0.03f, (gchar *) "bird" }, { 9, 0.01f, (gchar *) "truck" },
};

static GstBuffer *
with_meta (GstBuffer *buf, const GstConvNextClass *classes, guint n)
{
  fail_unless (gst_buffer_add_convnext_classification_meta (buf, classes, n, "test-model", 0,
          GST_BUFFER_PTS (buf), 1000) != NULL);
  return buf;
}

/* A frame with the ROI-meta form convnextclassify also writes: top-1 fields, plus the top-k
 * arrays when @arrays. */
static GstBuffer *
with_roi (const GstVideoInfo *info, const gchar *roi_type, const GstConvNextClass *classes,
    guint n, gboolean arrays)
{
  GstBuffer *buf = make_frame (info);
  GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta (buf,
      roi_type, 0, 0, GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info));
  GstStructure *s = gst_structure_new (GST_CONVNEXT_ROI_PARAM, "label", G_TYPE_STRING,
      classes[0].label, "label_id", G_TYPE_INT, classes[0].class_id, "confidence", G_TYPE_DOUBLE,
      (gdouble) classes[0].score, "model_name", G_TYPE_STRING, "test-model", NULL);

  if (arrays) {
    GValue labels = G_VALUE_INIT, scores = G_VALUE_INIT;

    gst_value_array_init (&labels, n);
    gst_value_array_init (&scores, n);
    for (guint i = 0; i < n; i++) {
      GValue v = G_VALUE_INIT;

      g_value_init (&v, G_TYPE_STRING);
      g_value_set_string (&v, classes[i].label);
      gst_value_array_append_and_take_value (&labels, &v);
      g_value_init (&v, G_TYPE_DOUBLE);
      g_value_set_double (&v, classes[i].score);
      gst_value_array_append_and_take_value (&scores, &v);
    }
    gst_structure_take_value (s, "labels", &labels);
    gst_structure_take_value (s, "confidences", &scores);
  }
  gst_video_region_of_interest_meta_add_param (roi, s);
  return buf;
}

/* ------------------------------------------------------------------------------------------
 * Running the element
 * ------------------------------------------------------------------------------------------ */

static GstHarness *
overlay_harness (const GstVideoInfo *info, gboolean attach, const gchar *props)
{
  GstHarness *h;
  GstCaps *caps = gst_video_info_to_caps (info);
  gchar *desc = g_strdup_printf ("convnextoverlay %s", props ? props : "");

  h = gst_harness_new_parse (desc);
  g_free (desc);
  if (attach) {
    gst_harness_set_sink_caps_str (h, ATTACH_CAPS);
    gst_harness_add_propose_allocation_meta (h, GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE,
        NULL);
  }
  gst_harness_set_src_caps (h, caps);
  return h;
}

/* Pushes @in (a reference is kept by the caller, so the element sees a shared buffer) and
 * returns what comes out. */
static GstBuffer *
push_pull (GstHarness *h, GstBuffer *in)
{
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_ref (in)), GST_FLOW_OK);
  return gst_harness_pull (h);
}

static GstBuffer *
run_once (const GstVideoInfo *info, gboolean attach, const gchar *props, GstBuffer *in)
{
  GstHarness *h = overlay_harness (info, attach, props);
  GstBuffer *out = push_pull (h, in);

  gst_harness_teardown (h);
  return out;
}

/* The rectangle of the composition meta on @buf, which must hold exactly one. */
static GstVideoOverlayRectangle *
the_rectangle (GstBuffer *buf)
{
  GstVideoOverlayCompositionMeta *meta = gst_buffer_get_video_overlay_composition_meta (buf);

  fail_unless (meta != NULL);
  fail_unless_equals_int (gst_video_overlay_composition_n_rectangles (meta->overlay), 1);
  return gst_video_overlay_composition_get_rectangle (meta->overlay, 0);
}

typedef struct {
  gint x, y, w, h;
} Box;

static Box
box_of (GstBuffer *attached)
{
  Box b;
  guint w, h;

  fail_unless (gst_video_overlay_rectangle_get_render_rectangle (the_rectangle (attached),
          &b.x, &b.y, &w, &h));
  b.w = w;
  b.h = h;
  return b;
}

/* ------------------------------------------------------------------------------------------
 * Comparing frames sample by sample
 * ------------------------------------------------------------------------------------------ */

typedef struct {
  guint changed_inside;   /* samples that differ, inside the box */
  guint changed_outside;  /* samples that differ, outside the box */
  guint inside;           /* samples inside the box */
} Diff;

/* Compares every component sample of two frames; a subsampled chroma sample counts as inside
 * when all the pixels it covers are. */
static Diff
diff_frames (const GstVideoInfo *info, GstBuffer *a, GstBuffer *b, Box box)
{
  GstVideoFrame fa, fb;
  Diff d = { 0, 0, 0 };

  fail_unless (gst_video_frame_map (&fa, info, a, GST_MAP_READ));
  fail_unless (gst_video_frame_map (&fb, info, b, GST_MAP_READ));
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (&fa); c++) {
    const gint ws = GST_VIDEO_FORMAT_INFO_W_SUB (fa.info.finfo, c);
    const gint hs = GST_VIDEO_FORMAT_INFO_H_SUB (fa.info.finfo, c);
    const gint stride = GST_VIDEO_FRAME_COMP_STRIDE (&fa, c);
    const gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (&fa, c);
    const guint8 *da = GST_VIDEO_FRAME_COMP_DATA (&fa, c);
    const guint8 *db = GST_VIDEO_FRAME_COMP_DATA (&fb, c);

    for (gint cy = 0; cy < GST_VIDEO_FRAME_COMP_HEIGHT (&fa, c); cy++) {
      for (gint cx = 0; cx < GST_VIDEO_FRAME_COMP_WIDTH (&fa, c); cx++) {
        gint x0 = cx << ws, y0 = cy << hs, x1 = ((cx + 1) << ws) - 1, y1 = ((cy + 1) << hs) - 1;
        gboolean in = x0 >= box.x && y0 >= box.y && x1 < box.x + box.w && y1 < box.y + box.h;
        gboolean changed = da[cy * stride + cx * pstride] != db[cy * stride + cx * pstride];

        d.inside += in;
        if (changed && in)
          d.changed_inside++;
        else if (changed)
          d.changed_outside++;
      }
    }
  }
  gst_video_frame_unmap (&fa);
  gst_video_frame_unmap (&fb);
  return d;
}

static gboolean
same_bytes (GstBuffer *a, GstBuffer *b)
{
  GstMapInfo ma, mb;
  gboolean same;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  same = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return same;
}

/* ------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------ */

/* Every format x corner x (even, odd) size: the box sits in its corner, the blend changes the
 * samples inside it (nearly all: the box is opaque enough) and none outside it. */
GST_START_TEST (test_blend_inside_box_only)
{
  static const gint sizes[][2] = { { 320, 240 }, { 321, 241 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    const gint fw = sizes[s][0], fh = sizes[s][1];

    for (guint p = 0; p < G_N_ELEMENTS (positions); p++) {
      gchar *props = g_strdup_printf ("position=%s", positions[p]);
      gboolean right = p % 2 == 1, bottom = p >= 2;
      GstVideoInfo info;
      GstBuffer *in, *attached;
      Box box;

      /* The box, from the meta path (its geometry does not depend on the format). */
      gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGBA, fw, fh);
      in = with_meta (make_frame (&info), test_classes, 5);
      attached = run_once (&info, TRUE, props, in);
      box = box_of (attached);
      GST_INFO ("%dx%d %s: box %dx%d at %d,%d", fw, fh, positions[p], box.w, box.h, box.x,
          box.y);
      /* in its corner: within the margin (2% of the short side) of both edges */
      fail_unless (box.w > 40 && box.h > 40 && box.w < fw / 2 && box.h < fh / 2);
      fail_unless ((right ? fw - box.x - box.w : box.x) <= fh / 50 + 1);
      fail_unless ((bottom ? fh - box.y - box.h : box.y) <= fh / 50 + 1);
      fail_unless (same_bytes (attached, in), "attaching the meta changed pixels");
      gst_buffer_unref (attached);
      gst_buffer_unref (in);

      for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
        GstBuffer *blended;
        Diff d;

        gst_video_info_set_format (&info, formats[f], fw, fh);
        in = with_meta (make_frame (&info), test_classes, 5);
        blended = run_once (&info, FALSE, props, in);
        d = diff_frames (&info, in, blended, box);
        fail_unless (d.changed_outside == 0, "%s %dx%d %s: %u samples changed outside the box",
            gst_video_format_to_string (formats[f]), fw, fh, positions[p], d.changed_outside);
        fail_unless (d.changed_inside > d.inside * 9 / 10, "%s: %u of %u samples changed",
            gst_video_format_to_string (formats[f]), d.changed_inside, d.inside);
        fail_if (gst_buffer_get_video_overlay_composition_meta (blended));
        gst_buffer_unref (blended);
        gst_buffer_unref (in);
      }
      g_free (props);
    }
  }
}
GST_END_TEST;

/* Frames without a classification come out as they went in: same memory, no meta. */
GST_START_TEST (test_no_meta_passes_unchanged)
{
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstVideoInfo info;

    gst_video_info_set_format (&info, formats[f], 64, 48);
    for (gint attach = 0; attach <= 1; attach++) {
      GstHarness *h = overlay_harness (&info, attach, NULL);
      GstBuffer *plain = make_frame (&info);
      GstBuffer *empty = with_meta (make_frame (&info), NULL, 0);
      /* (A classified ROI of another type is an object: drawn, see test_objects_drawn.) */
      GstBuffer *bufs[] = { plain, empty };

      for (guint i = 0; i < G_N_ELEMENTS (bufs); i++) {
        GstMemory *mem = gst_buffer_peek_memory (bufs[i], 0);
        GstBuffer *out = push_pull (h, bufs[i]);

        fail_unless (gst_buffer_peek_memory (out, 0) == mem);
        fail_unless (same_bytes (out, bufs[i]));
        fail_if (gst_buffer_get_video_overlay_composition_meta (out));
        gst_buffer_unref (out);
        gst_buffer_unref (bufs[i]);
      }
      /* ...while a classified frame in the same stream does get the overlay */
      {
        GstBuffer *in = with_meta (make_frame (&info), test_classes, 2);
        GstBuffer *out = push_pull (h, in);

        if (attach)
          the_rectangle (out);
        else
          fail_if (same_bytes (out, in));
        gst_buffer_unref (out);
        gst_buffer_unref (in);
      }
      gst_harness_teardown (h);
    }
  }
}
GST_END_TEST;

/* The text itself is drawn: the same box with transparent text differs from it with white text
 * in a good number of samples, all inside the box; and different labels draw differently. */
GST_START_TEST (test_text_is_rendered)
{
  GstVideoInfo info;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGBA, 320, 240);
  for (guint p = 0; p < G_N_ELEMENTS (positions); p++) {
    gchar *white = g_strdup_printf ("position=%s color=0xffffffff", positions[p]);
    gchar *clear = g_strdup_printf ("position=%s color=0x00ffffff", positions[p]);
    GstBuffer *in = with_meta (make_frame (&info), test_classes, 5);
    GstBuffer *other = with_meta (make_frame (&info), (GstConvNextClass[]) { { 1, 0.71f,
            (gchar *) "car" }, { 5, 0.2f, (gchar *) "dog" }, { 6, 0.05f, (gchar *) "frog" }, {
            2, 0.03f, (gchar *) "bird" }, { 9, 0.01f, (gchar *) "truck" } }, 5);
    GstBuffer *attached = run_once (&info, TRUE, white, in);
    GstBuffer *text = run_once (&info, FALSE, white, in);
    GstBuffer *no_text = run_once (&info, FALSE, clear, in);
    GstBuffer *other_text = run_once (&info, FALSE, white, other);
    Box box = box_of (attached);
    Diff d = diff_frames (&info, no_text, text, box);
    Diff d2 = diff_frames (&info, text, other_text, box);

    GST_INFO ("%s: %u text samples in a %dx%d box, %u differ for another label", positions[p],
        d.changed_inside, box.w, box.h, d2.changed_inside);
    fail_unless_equals_int (d.changed_outside, 0);
    /* glyphs cover a fair part of the box, not all of it */
    fail_unless (d.changed_inside > d.inside / 20 && d.changed_inside < d.inside / 2);
    fail_unless_equals_int (d2.changed_outside, 0);
    fail_unless (d2.changed_inside > 20);

    gst_buffer_unref (attached);
    gst_buffer_unref (text);
    gst_buffer_unref (no_text);
    gst_buffer_unref (other_text);
    gst_buffer_unref (other);
    gst_buffer_unref (in);
    g_free (white);
    g_free (clear);
  }
}
GST_END_TEST;

/* Downstream that takes the meta (caps feature + ALLOCATION answer) gets it, with the frame's
 * own memory untouched; the composition is rebuilt only when the text changes. */
GST_START_TEST (test_attach_composition_meta)
{
  GstVideoInfo info;
  GstHarness *h;
  GstBuffer *in, *out1, *out2, *out3;
  GstCaps *caps;
  GstVideoOverlayRectangle *r1, *r2, *r3;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 320, 240);
  h = overlay_harness (&info, TRUE, NULL);
  in = with_meta (make_frame (&info), test_classes, 5);

  out1 = push_pull (h, in);
  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (gst_caps_features_contains (gst_caps_get_features (caps, 0),
          GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION));
  gst_caps_unref (caps);
  fail_unless (gst_buffer_peek_memory (out1, 0) == gst_buffer_peek_memory (in, 0));
  fail_unless (same_bytes (out1, in));
  r1 = the_rectangle (out1);
  fail_unless (gst_video_overlay_rectangle_get_flags (r1) &
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);

  /* same text: the very same rectangle */
  out2 = push_pull (h, in);
  r2 = the_rectangle (out2);
  fail_unless (r2 == r1);

  /* a new score changes the text: a new rectangle */
  gst_buffer_unref (in);
  in = with_meta (make_frame (&info), (GstConvNextClass[]) { { 3, 0.5f, (gchar *) "cat" } }, 1);
  out3 = push_pull (h, in);
  r3 = the_rectangle (out3);
  fail_unless (r3 != r1);
  fail_unless (gst_video_overlay_rectangle_get_seqnum (r3) !=
      gst_video_overlay_rectangle_get_seqnum (r1));

  /* a property change re-renders even for the same text */
  gst_buffer_unref (out1);
  out1 = push_pull (h, in);
  fail_unless (the_rectangle (out1) == r3);
  gst_harness_set (h, "convnextoverlay", "color", 0xffff0000, NULL);
  gst_buffer_unref (out2);
  out2 = push_pull (h, in);
  fail_unless (the_rectangle (out2) != r3);

  gst_buffer_unref (out1);
  gst_buffer_unref (out2);
  gst_buffer_unref (out3);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* A composition already on the buffer (an upstream overlay) is kept, ours goes on top. */
GST_START_TEST (test_attach_keeps_upstream_composition)
{
  GstVideoInfo info;
  GstHarness *h;
  GstBuffer *in, *out, *pixels;
  GstVideoOverlayRectangle *theirs;
  GstVideoOverlayComposition *comp;
  GstVideoOverlayCompositionMeta *meta;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 160, 120);
  h = overlay_harness (&info, TRUE, NULL);
  pixels = gst_buffer_new_allocate (NULL, 4 * 4 * 4, NULL);
  gst_buffer_memset (pixels, 0, 0xff, 4 * 4 * 4);
  gst_buffer_add_video_meta (pixels, 0, GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, 4, 4);
  theirs = gst_video_overlay_rectangle_new_raw (pixels, 100, 100, 4, 4, 0);
  comp = gst_video_overlay_composition_new (theirs);
  in = with_meta (make_frame (&info), test_classes, 3);
  gst_buffer_add_video_overlay_composition_meta (in, comp);

  out = push_pull (h, in);
  meta = gst_buffer_get_video_overlay_composition_meta (out);
  fail_unless (meta != NULL);
  fail_unless_equals_int (gst_video_overlay_composition_n_rectangles (meta->overlay), 2);
  fail_unless (gst_video_overlay_composition_get_rectangle (meta->overlay, 0) == theirs);
  fail_unless_equals_int (gst_buffer_get_n_meta (out,
          GST_VIDEO_OVERLAY_COMPOSITION_META_API_TYPE), 1);

  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_video_overlay_composition_unref (comp);
  gst_video_overlay_rectangle_unref (theirs);
  gst_buffer_unref (pixels);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Downstream that accepts the caps feature but does not answer ALLOCATION with the meta gets
 * plain caps and blended frames. */
GST_START_TEST (test_feature_without_allocation_meta_blends)
{
  GstVideoInfo info;
  GstHarness *h;
  GstBuffer *in, *out;
  GstCaps *caps;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 128, 96);
  h = gst_harness_new ("convnextoverlay");
  gst_harness_set_sink_caps_str (h, ATTACH_CAPS "; video/x-raw");
  caps = gst_video_info_to_caps (&info);
  gst_harness_set_src_caps (h, caps);
  in = with_meta (make_frame (&info), test_classes, 2);
  out = push_pull (h, in);

  caps = gst_pad_get_current_caps (h->sinkpad);
  fail_if (gst_caps_features_contains (gst_caps_get_features (caps, 0),
          GST_CAPS_FEATURE_META_GST_VIDEO_OVERLAY_COMPOSITION));
  gst_caps_unref (caps);
  fail_if (gst_buffer_get_video_overlay_composition_meta (out));
  fail_if (same_bytes (out, in));
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Without the convnext meta, the ROI meta's classification param is drawn: the top-k arrays
 * give the same picture as the convnext meta; a DL Streamer param (top-1 only) gives one line. */
/* The 4 bytes of pixel (@x, @y) of a BGRx frame (mapped read-only for the call). */
static guint32
bgrx_at (GstBuffer *buf, const GstVideoInfo *info, gint x, gint y)
{
  GstMapInfo map;
  guint32 v;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  memcpy (&v, map.data + (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (info, 0) + 4 * x, 4);
  gst_buffer_unmap (buf, &map);
  return v & 0x00ffffff;  /* B, G, R on little-endian hosts; x left out */
}

/* inference-region=roi-list results: each object's outline in the text colour (white here) on its
 * box edges, its label above it, and the inside of the box and the rest of the frame untouched;
 * the same drawing from the objects' ROI "classification" params alone. */
GST_START_TEST (test_objects_drawn)
{
  GstVideoInfo info;
  GstBuffer *in, *in_roi, *out, *out_roi;
  GstConvNextClassificationMeta *meta;
  GstConvNextClass cat = { 3, 0.7f, (gchar *) "cat" }, dog = { 5, 0.6f, (gchar *) "dog" };
  GstConvNextObject objects[2] = {
    { .roi_id = 1, .od_id = -1, .x = 40, .y = 100, .w = 80, .h = 60, .n_classes = 1, .classes = &cat },
    { .roi_id = 2, .od_id = -1, .x = 200, .y = 0, .w = 100, .h = 120, .n_classes = 1, .classes = &dog },
  };
  gboolean label_drawn = FALSE;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 320, 240);
  in = make_frame (&info);
  meta = gst_buffer_add_convnext_classification_meta (in, NULL, 0, "test-model", 0, 0, 1000);
  gst_convnext_classification_meta_add_objects (meta, objects, 2);
  in_roi = make_frame (&info);
  for (guint i = 0; i < 2; i++) {
    GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta (in_roi,
        "face", objects[i].x, objects[i].y, objects[i].w, objects[i].h);

    gst_video_region_of_interest_meta_add_param (roi, gst_structure_new (GST_CONVNEXT_ROI_PARAM,
            "label", G_TYPE_STRING, objects[i].classes[0].label, "confidence", G_TYPE_DOUBLE,
            (gdouble) objects[i].classes[0].score, NULL));
  }

  out = run_once (&info, FALSE, NULL, in);
  for (gint y = 100; y < 160; y += 7) {          /* left and right edges of the first box */
    fail_unless_equals_int (bgrx_at (out, &info, 40, y), 0xffffff);
    fail_unless_equals_int (bgrx_at (out, &info, 119, y), 0xffffff);
  }
  for (gint x = 40; x < 120; x += 9) {           /* its top and bottom edges */
    fail_unless_equals_int (bgrx_at (out, &info, x, 100), 0xffffff);
    fail_unless_equals_int (bgrx_at (out, &info, x, 159), 0xffffff);
  }
  fail_unless_equals_int (bgrx_at (out, &info, 299, 60), 0xffffff);   /* the second's right edge */
  for (gint y = 102; y < 158; y += 5)            /* inside the first box: untouched */
    for (gint x = 42; x < 118; x += 5)
      fail_unless_equals_int (bgrx_at (out, &info, x, y), bgrx_at (in, &info, x, y));
  for (gint y = 170; y < 240; y += 5)            /* below both: untouched */
    for (gint x = 0; x < 320; x += 5)
      fail_unless_equals_int (bgrx_at (out, &info, x, y), bgrx_at (in, &info, x, y));
  for (gint y = 60; y < 100 && !label_drawn; y++) /* the first one's label sits above it */
    for (gint x = 40; x < 120 && !label_drawn; x++)
      label_drawn = bgrx_at (out, &info, x, y) != bgrx_at (in, &info, x, y);
  fail_unless (label_drawn);

  out_roi = run_once (&info, FALSE, NULL, in_roi);
  fail_unless (same_bytes (out, out_roi));

  {
    /* Boxes of a 640x480 frame on this 320x240 one (videoscale after the classifier copies
     * the meta as it is): scaled by the meta's frame size, the same picture. */
    GstBuffer *in_scaled = make_frame (&info), *out_scaled;
    GstConvNextObject big[2] = { objects[0], objects[1] };
    GstConvNextClassificationMeta *m;

    for (guint i = 0; i < 2; i++) {
      big[i].x *= 2;
      big[i].y *= 2;
      big[i].w *= 2;
      big[i].h *= 2;
    }
    m = gst_buffer_add_convnext_classification_meta (in_scaled, NULL, 0, "test-model", 0, 0,
        1000);
    gst_convnext_classification_meta_add_objects (m, big, 2);
    m->width = 640;
    m->height = 480;
    out_scaled = run_once (&info, FALSE, NULL, in_scaled);
    fail_unless (same_bytes (out, out_scaled));
    gst_buffer_unref (out_scaled);
    gst_buffer_unref (in_scaled);
  }

#if HAVE_GST_ANALYTICS
  {
    /* The same from GstAnalyticsODMtd -RELATE_TO-> ClsMtd alone (as convnextclassify relates
     * them, with a second, lower class, and an unclassified OD that is not drawn); and from ROI
     * params and ODMtd of the same boxes together, each object drawn once. */
    GstBuffer *in_od = make_frame (&info), *in_both = gst_buffer_copy_deep (in_roi);
    GstBuffer *targets[2] = { in_od, in_both }, *out_od, *out_both;

    for (guint t = 0; t < 2; t++) {
      GstAnalyticsRelationMeta *rmeta = gst_buffer_add_analytics_relation_meta (targets[t]);
      GstAnalyticsODMtd od;

      for (guint i = 0; i < 2; i++) {
        gfloat levels[2] = { 0.05f, objects[i].classes[0].score };
        GQuark quarks[2] = { g_quark_from_static_string ("bird"),
          g_quark_from_string (objects[i].classes[0].label) };
        GstAnalyticsClsMtd cls;

        fail_unless (gst_analytics_relation_meta_add_od_mtd (rmeta,
                g_quark_from_static_string ("face"), objects[i].x, objects[i].y, objects[i].w,
                objects[i].h, 0.9f, &od));
        fail_unless (gst_analytics_relation_meta_add_cls_mtd (rmeta, 2, levels, quarks, &cls));
        fail_unless (gst_analytics_relation_meta_set_relation (rmeta,
                GST_ANALYTICS_REL_TYPE_CONTAIN | GST_ANALYTICS_REL_TYPE_RELATE_TO, od.id, cls.id));
        fail_unless (gst_analytics_relation_meta_set_relation (rmeta,
                GST_ANALYTICS_REL_TYPE_IS_PART_OF, cls.id, od.id));
      }
      fail_unless (gst_analytics_relation_meta_add_od_mtd (rmeta,
              g_quark_from_static_string ("face"), 150, 180, 40, 40, 0.9f, &od));
    }
    out_od = run_once (&info, FALSE, NULL, in_od);
    out_both = run_once (&info, FALSE, NULL, in_both);
    fail_unless (same_bytes (out, out_od));
    fail_unless (same_bytes (out, out_both));
    gst_buffer_unref (out_od);
    gst_buffer_unref (out_both);
    gst_buffer_unref (in_od);
    gst_buffer_unref (in_both);
  }
#endif

  gst_buffer_unref (out);
  gst_buffer_unref (out_roi);
  gst_buffer_unref (in);
  gst_buffer_unref (in_roi);
}
GST_END_TEST;

GST_START_TEST (test_roi_fallback)
{
  GstVideoInfo info;
  GstBuffer *from_meta, *from_roi, *from_top1, *a, *b, *c, *d;
  Box bm, bt;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 320, 240);
  from_meta = with_meta (make_frame (&info), test_classes, 5);
  from_roi = with_roi (&info, GST_CONVNEXT_ROI_TYPE, test_classes, 5, TRUE);
  from_top1 = with_roi (&info, GST_CONVNEXT_ROI_TYPE, test_classes, 5, FALSE);

  a = run_once (&info, FALSE, NULL, from_meta);
  b = run_once (&info, FALSE, NULL, from_roi);
  fail_unless (same_bytes (a, b));

  c = run_once (&info, TRUE, NULL, from_meta);
  d = run_once (&info, TRUE, NULL, from_top1);
  bm = box_of (c);
  bt = box_of (d);
  fail_unless (bt.h < bm.h / 3);   /* one line of five */

  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_buffer_unref (c);
  gst_buffer_unref (d);
  gst_buffer_unref (from_meta);
  gst_buffer_unref (from_roi);
  gst_buffer_unref (from_top1);
}
GST_END_TEST;

#if HAVE_GST_ANALYTICS
/* A frame carrying only a GstAnalyticsClsMtd of @classes (in the order of @order), as another
 * classifier writes it; with @object, the ClsMtd classifies an object detection instead. */
static GstBuffer *
with_cls_mtd (const GstVideoInfo *info, const GstConvNextClass *classes, const guint *order,
    guint n, gboolean object)
{
  GstBuffer *buf = make_frame (info);
  GstAnalyticsRelationMeta *rmeta = gst_buffer_add_analytics_relation_meta (buf);
  gfloat levels[8];
  GQuark quarks[8];
  GstAnalyticsClsMtd cls;
  GstAnalyticsODMtd od;

  fail_unless (n <= G_N_ELEMENTS (levels));
  for (guint i = 0; i < n; i++) {
    levels[i] = classes[order[i]].score;
    quarks[i] = g_quark_from_string (classes[order[i]].label);
  }
  fail_unless (gst_analytics_relation_meta_add_cls_mtd (rmeta, n, levels, quarks, &cls));
  if (object) {
    fail_unless (gst_analytics_relation_meta_add_od_mtd (rmeta, g_quark_from_string ("person"),
            4, 4, 20, 20, 0.9f, &od));
    fail_unless (gst_analytics_relation_meta_set_relation (rmeta,
            GST_ANALYTICS_REL_TYPE_RELATE_TO, od.id, cls.id));
  }
  return buf;
}

/* Without the convnext meta, the frame's GstAnalyticsClsMtd is drawn (sorted by level, as the
 * convnext meta is): the same picture as from the convnext meta.  A ClsMtd that classifies a
 * detected object is not the frame's: only that object is drawn, as from the convnext meta's
 * object with the ClsMtd's best class. */
GST_START_TEST (test_analytics_fallback)
{
  static const guint shuffled[] = { 2, 0, 4, 1, 3 };
  GstVideoInfo info;
  GstBuffer *from_meta, *from_cls, *from_object, *object_meta, *a, *b, *c, *d;
  GstConvNextObject object = { .roi_id = -1, .od_id = 0, .x = 4, .y = 4, .w = 20, .h = 20,
    .n_classes = 1, .classes = (GstConvNextClass *) &test_classes[0] };

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 320, 240);
  from_meta = with_meta (make_frame (&info), test_classes, 5);
  object_meta = make_frame (&info);
  gst_convnext_classification_meta_add_objects (gst_buffer_add_convnext_classification_meta (
          object_meta, NULL, 0, "test-model", 0, 0, 1000), &object, 1);
  from_cls = with_cls_mtd (&info, test_classes, shuffled, 5, FALSE);
  from_object = with_cls_mtd (&info, test_classes, shuffled, 5, TRUE);
  fail_if (gst_buffer_get_convnext_classification_meta (from_cls));

  a = run_once (&info, FALSE, NULL, from_meta);
  b = run_once (&info, FALSE, NULL, from_cls);
  c = run_once (&info, FALSE, NULL, from_object);
  d = run_once (&info, FALSE, NULL, object_meta);
  fail_if (same_bytes (a, from_meta));
  fail_unless (same_bytes (a, b));
  fail_if (same_bytes (c, from_object));
  fail_unless (same_bytes (c, d));

  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_buffer_unref (c);
  gst_buffer_unref (d);
  gst_buffer_unref (object_meta);
  gst_buffer_unref (from_meta);
  gst_buffer_unref (from_cls);
  gst_buffer_unref (from_object);
}
GST_END_TEST;
#endif

/* lines and show-score shape the box: fewer lines, lower box; no scores, narrower box. */
GST_START_TEST (test_lines_and_show_score)
{
  GstVideoInfo info;
  GstBuffer *in, *five, *two, *two_no_score, *many;
  Box b5, b2, b2n, bm;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 320, 240);
  in = with_meta (make_frame (&info), test_classes, 5);
  five = run_once (&info, TRUE, "lines=5", in);
  two = run_once (&info, TRUE, "lines=2", in);
  two_no_score = run_once (&info, TRUE, "lines=2 show-score=false", in);
  many = run_once (&info, TRUE, "lines=50", in);   /* capped by the 5 classes there are */
  b5 = box_of (five);
  b2 = box_of (two);
  b2n = box_of (two_no_score);
  bm = box_of (many);

  fail_unless (b2.h < b5.h && b2.h > b5.h / 3);
  fail_unless (b2n.h == b2.h && b2n.w < b2.w);
  fail_unless (bm.w == b5.w && bm.h == b5.h);

  gst_buffer_unref (five);
  gst_buffer_unref (two);
  gst_buffer_unref (two_no_score);
  gst_buffer_unref (many);
  gst_buffer_unref (in);
}
GST_END_TEST;

/* GRAY8 is full range: white text reaches 255 (the generic blend would give studio-range 235,
 * which is right for I420's luma). */
GST_START_TEST (test_gray8_full_range)
{
  GstVideoInfo gray, i420;
  GstBuffer *in, *out;
  GstMapInfo map;
  guint8 max_gray = 0, max_y = 0;

  gst_video_info_set_format (&gray, GST_VIDEO_FORMAT_GRAY8, 320, 240);
  gst_video_info_set_format (&i420, GST_VIDEO_FORMAT_I420, 320, 240);

  in = with_meta (make_frame (&gray), test_classes, 5);
  gst_buffer_memset (in, 0, 0, gst_buffer_get_size (in));
  out = run_once (&gray, FALSE, "font-desc=\"Sans Bold 24\"", in);
  gst_buffer_map (out, &map, GST_MAP_READ);
  for (gsize i = 0; i < map.size; i++)
    max_gray = MAX (max_gray, map.data[i]);
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  gst_buffer_unref (in);

  in = with_meta (make_frame (&i420), test_classes, 5);
  gst_buffer_memset (in, 0, 16, GST_VIDEO_INFO_PLANE_OFFSET (&i420, 1));
  out = run_once (&i420, FALSE, "font-desc=\"Sans Bold 24\"", in);
  gst_buffer_map (out, &map, GST_MAP_READ);
  for (gsize i = 0; i < GST_VIDEO_INFO_PLANE_OFFSET (&i420, 1); i++)
    max_y = MAX (max_y, map.data[i]);
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  gst_buffer_unref (in);

  fail_unless_equals_int (max_gray, 255);
  fail_unless_equals_int (max_y, 235);
}
GST_END_TEST;

/* Frames too small for any box, and a caps change mid-stream, are handled. */
GST_START_TEST (test_tiny_frames_and_renegotiation)
{
  GstVideoInfo info;
  GstHarness *h;
  GstBuffer *in, *out;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 1, 1);
  h = overlay_harness (&info, FALSE, NULL);
  in = with_meta (make_frame (&info), test_classes, 5);
  out = push_pull (h, in);
  fail_unless (same_bytes (out, in));
  gst_buffer_unref (out);
  gst_buffer_unref (in);

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGBx, 8, 6);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  in = with_meta (make_frame (&info), test_classes, 5);
  out = push_pull (h, in);
  fail_if (same_bytes (out, in));   /* a clipped box still fits */
  gst_buffer_unref (out);
  gst_buffer_unref (in);

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 640, 480);
  gst_harness_set_src_caps (h, gst_video_info_to_caps (&info));
  in = with_meta (make_frame (&info), test_classes, 5);
  out = push_pull (h, in);
  fail_if (same_bytes (out, in));
  gst_buffer_unref (out);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Non-video caps are refused. */
GST_START_TEST (test_refuses_other_caps)
{
  GstHarness *h = gst_harness_new ("convnextoverlay");
  GstCaps *caps = gst_caps_from_string ("audio/x-raw, format=S16LE, rate=48000, channels=1");

  fail_if (gst_pad_query_accept_caps (h->srcpad->peer, caps));
  gst_caps_unref (caps);
  caps = gst_caps_from_string ("video/x-raw, format=v210, width=64, height=48, framerate=0/1");
  fail_if (gst_pad_query_accept_caps (h->srcpad->peer, caps));
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* Properties set from another thread while frames flow. */
static gpointer
set_properties (gpointer data)
{
  GstElement *overlay = data;

  for (guint i = 0; i < 300; i++)
    g_object_set (overlay, "position", i % 4, "lines", 1 + i % 5, "show-score", i % 2,
        "font-desc", i % 3 ? "Sans 10" : "Serif Bold 14", "color", 0xff000000u | (i * 7919),
        NULL);
  return NULL;
}

/* gst-inspect shows each value's description: words, not the C identifier. */
GST_START_TEST (test_position_descriptions)
{
  GstElement *overlay = gst_element_factory_make ("convnextoverlay", NULL);
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (overlay), "position");
  GEnumClass *klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;

  fail_unless_equals_int (klass->n_values, G_N_ELEMENTS (positions));
  for (guint i = 0; i < klass->n_values; i++) {
    fail_unless_equals_string (klass->values[i].value_nick, positions[i]);
    fail_if (g_str_has_prefix (klass->values[i].value_name, "GST_"),
        "position %s is described as %s", positions[i], klass->values[i].value_name);
  }
  gst_object_unref (overlay);
}

GST_END_TEST;

GST_START_TEST (test_property_stress)
{
  GstVideoInfo info;
  GstHarness *h;
  GstBuffer *in;
  GstElement *overlay;
  GThread *thread;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_I420, 160, 120);
  h = overlay_harness (&info, FALSE, NULL);
  in = with_meta (make_frame (&info), test_classes, 5);
  overlay = gst_harness_find_element (h, "convnextoverlay");
  thread = g_thread_new ("setter", set_properties, overlay);
  for (guint i = 0; i < 200; i++)
    gst_buffer_unref (push_pull (h, in));
  g_thread_join (thread);
  gst_object_unref (overlay);
  gst_buffer_unref (in);
  gst_harness_teardown (h);
}
GST_END_TEST;

/* With convnextclassify's real metadata: a tee sends each frame to the overlay and around it;
 * the drawn frame differs from the plain one inside the bottom-right quarter only. */
GST_START_TEST (test_real_pipeline)
{
  GstElement *pipeline, *plain, *drawn;
  GError *error = NULL;
  gchar *desc;
  GstVideoInfo info;
  guint frames = 0;

  if (!g_file_test (TINY_MODEL_DIR "/model.safetensors", G_FILE_TEST_EXISTS)) {
    GST_WARNING ("skipped: no model at " TINY_MODEL_DIR);
    return;
  }
  desc = g_strdup_printf ("videotestsrc num-buffers=3 pattern=smpte "
      "! video/x-raw,format=BGRx,width=320,height=240 "
      "! convnextclassify model=\"%s\" threads=1 ! tee name=t "
      "t. ! queue ! appsink name=plain sync=false "
      "t. ! queue ! convnextoverlay position=bottom-right ! appsink name=drawn sync=false",
      TINY_MODEL_DIR);
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  fail_unless (pipeline != NULL && error == NULL);
  plain = gst_bin_get_by_name (GST_BIN (pipeline), "plain");
  drawn = gst_bin_get_by_name (GST_BIN (pipeline), "drawn");
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_BGRx, 320, 240);

  for (;;) {
    GstSample *a = gst_app_sink_pull_sample (GST_APP_SINK (plain));
    GstSample *b = gst_app_sink_pull_sample (GST_APP_SINK (drawn));
    Box quarter = { 160, 120, 160, 120 };
    Diff d;

    if (!a || !b) {
      fail_unless (!a && !b);
      break;
    }
    fail_unless (gst_buffer_get_convnext_classification_meta (gst_sample_get_buffer (b)));
    d = diff_frames (&info, gst_sample_get_buffer (a), gst_sample_get_buffer (b), quarter);
    fail_unless_equals_int (d.changed_outside, 0);
    fail_unless (d.changed_inside > 1000);
    frames++;
    gst_sample_unref (a);
    gst_sample_unref (b);
  }
  fail_unless_equals_int (frames, 3);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (plain);
  gst_object_unref (drawn);
  gst_object_unref (pipeline);
}
GST_END_TEST;

static Suite *
convnextoverlay_suite (void)
{
  Suite *s = suite_create ("convnextoverlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_blend_inside_box_only);
  tcase_add_test (tc, test_no_meta_passes_unchanged);
  tcase_add_test (tc, test_text_is_rendered);
  tcase_add_test (tc, test_attach_composition_meta);
  tcase_add_test (tc, test_attach_keeps_upstream_composition);
  tcase_add_test (tc, test_feature_without_allocation_meta_blends);
  tcase_add_test (tc, test_roi_fallback);
  tcase_add_test (tc, test_objects_drawn);
#if HAVE_GST_ANALYTICS
  tcase_add_test (tc, test_analytics_fallback);
#endif
  tcase_add_test (tc, test_lines_and_show_score);
  tcase_add_test (tc, test_gray8_full_range);
  tcase_add_test (tc, test_tiny_frames_and_renegotiation);
  tcase_add_test (tc, test_refuses_other_caps);
  tcase_add_test (tc, test_position_descriptions);
  tcase_add_test (tc, test_property_stress);
  tcase_add_test (tc, test_real_pipeline);
  return s;
}

GST_CHECK_MAIN (convnextoverlay);
