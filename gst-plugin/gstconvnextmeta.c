/* GstConvNextClassificationMeta: see gstconvnextmeta.h. */
#include "gstconvnextmeta.h"

#include <gst/video/video.h>

GType
gst_convnext_classification_meta_api_get_type (void)
{
  static GType type = 0;

  if (g_once_init_enter (&type)) {
    /* No tags: a whole-frame classification does not depend on the pixel format, size,
     * orientation or memory of the buffer, so elements that filter metas by tag
     * (videoconvert, videoscale, videocrop…) keep it. */
    static const gchar *tags[] = { NULL };
    GType t = gst_meta_api_type_register ("GstConvNextClassificationMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstConvNextClassificationMeta *m = (GstConvNextClassificationMeta *) meta;

  m->n_classes = 0;
  m->classes = NULL;
  m->model_name = NULL;
  m->frame_number = 0;
  m->frame_pts = GST_CLOCK_TIME_NONE;
  m->inference_time = 0;
  m->age = GST_CLOCK_TIME_NONE;
  m->n_objects = 0;
  m->objects = NULL;
  m->width = m->height = 0;
  return TRUE;
}

static void
meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstConvNextClassificationMeta *m = (GstConvNextClassificationMeta *) meta;

  for (guint i = 0; i < m->n_classes; i++)
    g_free (m->classes[i].label);
  g_free (m->classes);
  g_free (m->model_name);
  for (guint i = 0; i < m->n_objects; i++) {
    for (guint j = 0; j < m->objects[i].n_classes; j++)
      g_free (m->objects[i].classes[j].label);
    g_free (m->objects[i].classes);
  }
  g_free (m->objects);
}

static gboolean
meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type, gpointer data)
{
  GstConvNextClassificationMeta *m = (GstConvNextClassificationMeta *) meta;
  GstConvNextClassificationMeta *copy;

  /* Copies (tee, queue, videorate duplicates, make_writable) and video transforms
   * (videoconvert, videoscale) keep the result unchanged: it describes the picture's
   * content, not its pixels.  Unknown transforms drop it. */
  if (!GST_META_TRANSFORM_IS_COPY (type) && type != gst_video_meta_transform_scale_get_quark ())
    return FALSE;

  copy = gst_buffer_add_convnext_classification_meta (dest, m->classes, m->n_classes,
      m->model_name, m->frame_number, m->frame_pts, m->inference_time);
  if (copy == NULL)
    return FALSE;
  copy->age = m->age;
  copy->width = m->width;
  copy->height = m->height;
  gst_convnext_classification_meta_add_objects (copy, m->objects, m->n_objects);
  if (!GST_META_TRANSFORM_IS_COPY (type)) {
    /* The objects' boxes are in pixels: follow the new size as videoscale does for ROIs. */
    GstVideoMetaTransform *trans = data;
    gint iw = GST_VIDEO_INFO_WIDTH (trans->in_info), ih = GST_VIDEO_INFO_HEIGHT (trans->in_info);
    gint ow = GST_VIDEO_INFO_WIDTH (trans->out_info), oh = GST_VIDEO_INFO_HEIGHT (trans->out_info);

    for (guint i = 0; i < copy->n_objects && iw > 0 && ih > 0; i++) {
      GstConvNextObject *o = &copy->objects[i];
      o->x = (gint) gst_util_uint64_scale_int_round (o->x, ow, iw);
      o->y = (gint) gst_util_uint64_scale_int_round (o->y, oh, ih);
      o->w = (guint) gst_util_uint64_scale_int_round (o->w, ow, iw);
      o->h = (guint) gst_util_uint64_scale_int_round (o->h, oh, ih);
    }
    if (copy->width > 0 && copy->height > 0) {
      copy->width = (guint) ow;
      copy->height = (guint) oh;
    }
  }
  return TRUE;
}

const GstMetaInfo *
gst_convnext_classification_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter (&info)) {
    const GstMetaInfo *i = gst_meta_register (GST_CONVNEXT_CLASSIFICATION_META_API_TYPE,
        "GstConvNextClassificationMeta", sizeof (GstConvNextClassificationMeta),
        meta_init, meta_free, meta_transform);
    g_once_init_leave (&info, i);
  }
  return info;
}

GstConvNextClassificationMeta *
gst_buffer_add_convnext_classification_meta (GstBuffer *buffer,
    const GstConvNextClass *classes, guint n_classes, const gchar *model_name,
    guint64 frame_number, GstClockTime frame_pts, GstClockTime inference_time)
{
  GstConvNextClassificationMeta *m;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (gst_buffer_is_writable (buffer), NULL);
  g_return_val_if_fail (classes != NULL || n_classes == 0, NULL);

  m = (GstConvNextClassificationMeta *) gst_buffer_add_meta (buffer,
      GST_CONVNEXT_CLASSIFICATION_META_INFO, NULL);
  if (m == NULL)
    return NULL;

  m->classes = g_new0 (GstConvNextClass, n_classes);
  for (guint i = 0; i < n_classes; i++) {
    m->classes[i].class_id = classes[i].class_id;
    m->classes[i].score = classes[i].score;
    m->classes[i].label = g_strdup (classes[i].label);
  }
  m->n_classes = n_classes;
  m->model_name = g_strdup (model_name);
  m->frame_number = frame_number;
  m->frame_pts = frame_pts;
  m->inference_time = inference_time;
  return m;
}

void
gst_convnext_classification_meta_add_objects (GstConvNextClassificationMeta *meta,
    const GstConvNextObject *objects, guint n_objects)
{
  g_return_if_fail (meta != NULL);
  g_return_if_fail (objects != NULL || n_objects == 0);

  if (n_objects == 0)
    return;
  meta->objects = g_renew (GstConvNextObject, meta->objects, meta->n_objects + n_objects);
  for (guint i = 0; i < n_objects; i++) {
    GstConvNextObject *o = &meta->objects[meta->n_objects + i];

    *o = objects[i];
    o->classes = g_new0 (GstConvNextClass, MAX (objects[i].n_classes, 1));
    for (guint j = 0; j < objects[i].n_classes; j++) {
      o->classes[j] = objects[i].classes[j];
      o->classes[j].label = g_strdup (objects[i].classes[j].label);
    }
  }
  meta->n_objects += n_objects;
}
