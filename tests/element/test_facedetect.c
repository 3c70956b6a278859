/* End to end with a real detector: upstream's facedetect (gstreamer1.0-opencv) finds the faces
 * of real photos, convnextclassify inference-region=roi-list object-class=face classifies
 * each; every face ROI must carry a classification whose scores equal the PyTorch reference's
 * on the same crop saved as an image (expected_faces.json, recorded by
 * make_expected_faces.py), within 1e-5.  Exit 77 (skipped) without facedetect.
 *
 *   test_facedetect EXPECTED_JSON SOURCE_ROOT MODEL_DIR
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "gstconvnextmeta.h"

#define TOLERANCE 1e-5

static gboolean
check_photo (const gchar *path, JsonArray *faces, const gchar *model_dir)
{
  g_autofree gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "facedetect display=false ! videoconvert ! convnextclassify name=c threads=1 top-k=10 "
      "inference-region=roi-list object-class=face ! appsink name=sink sync=false", path);
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error), *classify, *sink;
  GstSample *sample;
  GstBuffer *buf;
  GstConvNextClassificationMeta *meta;
  GstVideoRegionOfInterestMeta *roi;
  gpointer state = NULL;
  guint n_faces = 0;
  gboolean ok = TRUE;

  if (pipeline == NULL) {
    g_printerr ("%s: %s\n", desc, error->message);
    return FALSE;
  }
  classify = gst_bin_get_by_name (GST_BIN (pipeline), "c");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (classify, "model", model_dir, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 60 * GST_SECOND);
  if (sample == NULL) {
    g_printerr ("%s: no frame came out\n", path);
    ok = FALSE;
    goto out;
  }
  buf = gst_sample_get_buffer (sample);
  meta = gst_buffer_get_convnext_classification_meta (buf);
  while ((roi = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    const GstConvNextObject *o = NULL;
    JsonArray *scores = NULL;

    if (roi->roi_type != g_quark_from_static_string ("face"))
      continue;
    n_faces++;
    for (guint i = 0; i < json_array_get_length (faces); i++) {
      JsonObject *f = json_array_get_object_element (faces, i);
      JsonArray *box = json_object_get_array_member (f, "box");

      if (json_array_get_int_element (box, 0) == roi->x
          && json_array_get_int_element (box, 1) == roi->y
          && json_array_get_int_element (box, 2) == roi->w
          && json_array_get_int_element (box, 3) == roi->h)
        scores = json_object_get_array_member (f, "scores");
    }
    for (guint i = 0; meta && i < meta->n_objects; i++)
      if (meta->objects[i].x == (gint) roi->x && meta->objects[i].y == (gint) roi->y
          && meta->objects[i].w == roi->w && meta->objects[i].h == roi->h)
        o = &meta->objects[i];
    if (scores == NULL) {
      g_printerr ("%s: facedetect found a face at %u,%u %ux%u that the recording has not "
          "(another OpenCV?)\n", path, roi->x, roi->y, roi->w, roi->h);
      ok = FALSE;
      continue;
    }
    if (o == NULL || o->n_classes != json_array_get_length (scores)
        || gst_video_region_of_interest_meta_get_param (roi, "classification") == NULL) {
      g_printerr ("%s: the face at %u,%u %ux%u has no classification of %u classes\n", path,
          roi->x, roi->y, roi->w, roi->h, json_array_get_length (scores));
      ok = FALSE;
      continue;
    }
    for (guint k = 0; k < o->n_classes; k++) {
      gdouble expected = json_array_get_double_element (scores, o->classes[k].class_id);

      if (fabs (o->classes[k].score - expected) > TOLERANCE) {
        g_printerr ("%s: face %u,%u class %u: %.7f, PyTorch %.7f\n", path, roi->x, roi->y,
            o->classes[k].class_id, o->classes[k].score, expected);
        ok = FALSE;
      }
    }
    g_print ("%s: face %u,%u %ux%u: %s %.6f (PyTorch %.6f)\n", path, roi->x, roi->y, roi->w,
        roi->h, o->classes[0].label, o->classes[0].score,
        json_array_get_double_element (scores, o->classes[0].class_id));
  }
  if (n_faces != json_array_get_length (faces)) {
    g_printerr ("%s: %u faces, the recording has %u\n", path, n_faces,
        json_array_get_length (faces));
    ok = FALSE;
  }
  gst_sample_unref (sample);
out:
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (classify);
  gst_object_unref (pipeline);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElementFactory) factory = NULL;
  JsonObject *photos;
  GList *names;
  guint n_checked = 0;
  gboolean ok = TRUE;

  gst_init (&argc, &argv);
  if (argc != 4) {
    g_printerr ("usage: %s EXPECTED_JSON SOURCE_ROOT MODEL_DIR\n", argv[0]);
    return 2;
  }
  factory = gst_element_factory_find ("facedetect");
  if (factory == NULL) {
    g_print ("SKIP: no facedetect (apt-get install gstreamer1.0-opencv opencv-data)\n");
    return 77;
  }
  parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, argv[1], &error)) {
    g_printerr ("%s: %s\n", argv[1], error->message);
    return 1;
  }
  photos = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
      "photos");
  names = json_object_get_members (photos);
  for (GList *l = names; l; l = l->next) {
    JsonObject *photo = json_object_get_object_member (photos, l->data);
    const gchar *rel = json_object_get_string_member (photo, "path");
    g_autofree gchar *path = g_path_is_absolute (rel) ? g_strdup (rel)
        : g_build_filename (argv[2], rel, NULL);

    if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
      g_print ("%s absent: not checked\n", path);
      continue;
    }
    ok &= check_photo (path, json_object_get_array_member (photo, "faces"), argv[3]);
    n_checked++;
  }
  g_list_free (names);
  if (n_checked == 0) {
    g_print ("SKIP: none of the photos is here\n");
    return 77;
  }
  return ok ? 0 : 1;
}
