/* Region gathering, selection and the tracking cache of inference-region=roi-list: see
 * gstconvnextregions.h for the rules. */
#include "gstconvnextregions.h"

#include <string.h>

#if HAVE_GST_ANALYTICS
#include <gst/analytics/analytics.h>
#endif

/* A request that gave no result (async: replaced in the slot, or flushed) is retried after
 * this many frames. */
#define RETRY_FRAMES 8

typedef struct {
  GstConvNextObject object;     /* classes owned here (labels borrowed), n_classes valid if has_result */
  gboolean has_result;
  guint64 last_seen;            /* frame number */
  guint64 last_requested;       /* frame number of the last classification asked for */
  gboolean requested;
  guint max_classes;
} Entry;

struct _GstConvNextRegions {
  GQuark *classes;              /* selection; NULL = all */
  guint n_classes;
  guint min_width, min_height;
  guint reclassify_interval;

  GHashTable *cache;            /* guint64 key → Entry */
  GArray *regions;              /* GstConvNextRegion, of the last gather */
};

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->object.classes);
  g_free (e);
}

GstConvNextRegions *
gst_convnext_regions_new (void)
{
  GstConvNextRegions *r = g_new0 (GstConvNextRegions, 1);

  r->reclassify_interval = 1;
  r->cache = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, entry_free);
  r->regions = g_array_new (FALSE, TRUE, sizeof (GstConvNextRegion));
  return r;
}

void
gst_convnext_regions_free (GstConvNextRegions *regions)
{
  if (regions == NULL)
    return;
  g_hash_table_unref (regions->cache);
  g_array_unref (regions->regions);
  g_free (regions->classes);
  g_free (regions);
}

void
gst_convnext_regions_set_selection (GstConvNextRegions *regions, const gchar *object_class,
    guint min_width, guint min_height, guint reclassify_interval)
{
  g_auto (GStrv) names = object_class ? g_strsplit (object_class, ",", -1) : NULL;

  g_clear_pointer (&regions->classes, g_free);
  regions->n_classes = 0;
  for (guint i = 0; names && names[i]; i++) {
    g_strstrip (names[i]);
    if (names[i][0] == '\0')
      continue;
    regions->classes = g_renew (GQuark, regions->classes, regions->n_classes + 1);
    regions->classes[regions->n_classes++] = g_quark_from_string (names[i]);
  }
  regions->min_width = min_width;
  regions->min_height = min_height;
  regions->reclassify_interval = reclassify_interval;
}

void
gst_convnext_regions_reset (GstConvNextRegions *regions)
{
  g_hash_table_remove_all (regions->cache);
  g_array_set_size (regions->regions, 0);
}

/* Clips x, y, w, h (any sign) to the frame; FALSE if nothing is left. */
static gboolean
clip (gint64 x, gint64 y, gint64 w, gint64 h, guint width, guint height, ConvNextRect *out)
{
  gint64 x0 = MAX (x, 0), y0 = MAX (y, 0);
  gint64 x1 = MIN (x + w, (gint64) width), y1 = MIN (y + h, (gint64) height);

  if (w <= 0 || h <= 0 || x1 <= x0 || y1 <= y0)
    return FALSE;
  *out = (ConvNextRect) { (guint) x0, (guint) y0, (guint) (x1 - x0), (guint) (y1 - y0) };
  return TRUE;
}

static gboolean
class_selected (GstConvNextRegions *regions, GQuark label)
{
  for (guint i = 0; i < regions->n_classes; i++)
    if (regions->classes[i] == label)
      return TRUE;
  return regions->n_classes == 0;
}

/* Adds a candidate region unless its class is not selected (left alone silently) or it is
 * empty, outside the frame or too small once clipped (counted in *@n_skipped). */
static void
add_region (GstConvNextRegions *regions, GstVideoRegionOfInterestMeta *roi, gint od_id, gboolean has_key,
    guint64 key, GQuark label, gint64 x, gint64 y, gint64 w, gint64 h, guint width,
    guint height, guint *n_skipped)
{
  GstConvNextRegion region = { .roi = roi, .roi_id = roi ? roi->id : -1, .od_id = od_id, .has_key = has_key,
    .key = key, .label = label };

  if (!class_selected (regions, label))
    return;
  if (!clip (x, y, w, h, width, height, &region.box) || region.box.width < regions->min_width
      || region.box.height < regions->min_height) {
    (*n_skipped)++;
    return;
  }
  g_array_append_val (regions->regions, region);
}

#if HAVE_GST_ANALYTICS
/* The tracking id of the GstAnalyticsTrackingMtd related to @od_id, if any. */
static gboolean
od_tracking_id (GstAnalyticsRelationMeta *rmeta, guint od_id, guint64 *key)
{
  GstAnalyticsTrackingMtd tmtd;
  GstClockTime first, last;
  gboolean lost;

  if (!gst_analytics_relation_meta_get_direct_related (rmeta, od_id,
          GST_ANALYTICS_REL_TYPE_ANY, gst_analytics_tracking_mtd_get_mtd_type (), NULL,
          (GstAnalyticsMtd *) & tmtd))
    return FALSE;
  return gst_analytics_tracking_mtd_get_info (&tmtd, key, &first, &last, &lost);
}

/* The ODMtds: those whose box and label equal a ROI meta's give that region its od_id and
 * tracking id; the others are regions of their own. */
static void
gather_od (GstConvNextRegions *regions, GstBuffer *buf, guint width, guint height,
    guint first_roi, guint *n_skipped)
{
  GstAnalyticsRelationMeta *rmeta = gst_buffer_get_analytics_relation_meta (buf);
  GstAnalyticsODMtd od;
  gpointer state = NULL;

  if (rmeta == NULL)
    return;
  while (gst_analytics_relation_meta_iterate (rmeta, &state,
          gst_analytics_od_mtd_get_mtd_type (), (GstAnalyticsMtd *) & od)) {
    gint x, y, w, h;
    gfloat loc_conf;
    GQuark label = gst_analytics_od_mtd_get_obj_type (&od);
    guint64 key = 0;
    gboolean has_key;
    guint i;

    if (!gst_analytics_od_mtd_get_location (&od, &x, &y, &w, &h, &loc_conf))
      continue;
    has_key = od_tracking_id (rmeta, od.id, &key);
    for (i = first_roi; i < regions->regions->len; i++) {
      GstConvNextRegion *r = &g_array_index (regions->regions, GstConvNextRegion, i);
      GstVideoRegionOfInterestMeta *roi = r->roi;

      if (r->od_id < 0 && roi && (gint) roi->x == x && (gint) roi->y == y && (gint) roi->w == w
          && (gint) roi->h == h && roi->roi_type == label) {
        r->od_id = od.id;
        if (has_key) {
          r->has_key = TRUE;
          r->key = key;
        }
        break;
      }
    }
    if (i == regions->regions->len)
      add_region (regions, NULL, od.id, has_key, key, label, x, y, w, h, width, height,
          n_skipped);
  }
}
#endif

static Entry *
lookup_entry (GstConvNextRegions *regions, guint64 key)
{
  return g_hash_table_lookup (regions->cache, &key);
}

/* Whether the object of @e (NULL: never seen) is to be classified on @frame. */
static gboolean
is_due (GstConvNextRegions *regions, const Entry *e, guint64 frame)
{
  if (e == NULL || !e->requested)
    return TRUE;
  if (!e->has_result)           /* asked for but lost (async slot, flush): ask again */
    return frame - e->last_requested >= RETRY_FRAMES;
  if (regions->reclassify_interval == 0)
    return FALSE;
  return frame - e->last_requested >= regions->reclassify_interval;
}

static gboolean
forget (gpointer key, gpointer value, gpointer user_data)
{
  const Entry *e = value;
  guint64 frame = *(const guint64 *) user_data;

  return frame - e->last_seen > GST_CONVNEXT_REGIONS_FORGET_FRAMES;
}

GstConvNextRegion *
gst_convnext_regions_gather (GstConvNextRegions *regions, GstBuffer *buf, guint width,
    guint height, guint64 frame_number, guint *n_regions, guint *n_skipped)
{
  GstVideoRegionOfInterestMeta *roi;
  gpointer state = NULL;
  GHashTable *seen;

  g_array_set_size (regions->regions, 0);
  *n_skipped = 0;
  while ((roi = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    /* Our own full-frame result (a convnextclassify upstream) is no object. */
    if (roi->roi_type == g_quark_from_string (GST_CONVNEXT_ROI_TYPE))
      continue;
    add_region (regions, roi, -1, TRUE, (guint64) (gint64) roi->id, roi->roi_type, roi->x,
        roi->y, roi->w, roi->h, width, height, n_skipped);
  }
#if HAVE_GST_ANALYTICS
  /* On >= 1.24 the tracking id, not the ROI id, keys the objects a tracker follows. */
  for (guint i = 0; i < regions->regions->len; i++)
    g_array_index (regions->regions, GstConvNextRegion, i).has_key = FALSE;
  gather_od (regions, buf, width, height, 0, n_skipped);
  for (guint i = 0; i < regions->regions->len; i++) {
    GstConvNextRegion *r = &g_array_index (regions->regions, GstConvNextRegion, i);
    if (!r->has_key && r->roi != NULL) {
      r->has_key = TRUE;
      r->key = (guint64) (gint64) r->roi->id;
    }
  }
#endif

  /* A key twice on one frame identifies no object. */
  seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < regions->regions->len; i++) {
    GstConvNextRegion *r = &g_array_index (regions->regions, GstConvNextRegion, i);
    GstConvNextRegion *other;

    if (!r->has_key)
      continue;
    other = g_hash_table_lookup (seen, &r->key);
    if (other != NULL) {
      other->has_key = r->has_key = FALSE;
      continue;
    }
    g_hash_table_insert (seen, &r->key, r);
  }
  g_hash_table_unref (seen);

  for (guint i = 0; i < regions->regions->len; i++) {
    GstConvNextRegion *r = &g_array_index (regions->regions, GstConvNextRegion, i);
    Entry *e = r->has_key ? lookup_entry (regions, r->key) : NULL;

    if (e != NULL)
      e->last_seen = frame_number;
    r->due = !r->has_key || is_due (regions, e, frame_number);
    r->cached = e && e->has_result ? &e->object : NULL;
  }
  g_hash_table_foreach_remove (regions->cache, forget, &frame_number);
  *n_regions = regions->regions->len;
  return (GstConvNextRegion *) regions->regions->data;
}

static Entry *
ensure_entry (GstConvNextRegions *regions, guint64 key, guint64 frame_number)
{
  Entry *e = lookup_entry (regions, key);

  if (e == NULL) {
    guint64 *k = g_new (guint64, 1);

    *k = key;
    e = g_new0 (Entry, 1);
    e->last_seen = frame_number;
    g_hash_table_insert (regions->cache, k, e);
  }
  return e;
}

void
gst_convnext_regions_mark_requested (GstConvNextRegions *regions, const GstConvNextRegion *r,
    guint64 frame_number)
{
  Entry *e;

  if (!r->has_key)
    return;
  e = ensure_entry (regions, r->key, frame_number);
  e->requested = TRUE;
  e->last_requested = frame_number;
}

const GstConvNextObject *
gst_convnext_regions_store (GstConvNextRegions *regions, gboolean has_key, guint64 key,
    const GstConvNextObject *object)
{
  Entry *e;

  if (!has_key)
    return NULL;
  e = ensure_entry (regions, key, object->frame_number);
  /* An older result arriving late (async) never replaces a newer one. */
  if (e->has_result && e->object.frame_number > object->frame_number)
    return &e->object;
  if (e->max_classes < object->n_classes) {
    e->object.classes = g_renew (GstConvNextClass, e->object.classes, object->n_classes);
    e->max_classes = object->n_classes;
  }
  {
    GstConvNextClass *classes = e->object.classes;

    e->object = *object;
    e->object.classes = classes;
    if (object->n_classes > 0)
      memcpy (classes, object->classes, object->n_classes * sizeof (GstConvNextClass));
  }
  e->has_result = TRUE;
  if (!e->requested) {
    e->requested = TRUE;
    e->last_requested = object->frame_number;
  }
  return &e->object;
}

const GstConvNextObject *
gst_convnext_regions_lookup (GstConvNextRegions *regions, guint64 key)
{
  Entry *e = lookup_entry (regions, key);

  return e && e->has_result ? &e->object : NULL;
}
