/* ConvNextPreprocessor: a frame (or a region of it) → pixel_values, as
 * ConvNextImageProcessor.preprocess does on the RGB image (transformers
 * models/convnext/image_processing_convnext.py and image_transforms.py):
 *
 *   shortest_edge < 384: resize, keeping the aspect ratio, so that the short side is
 *     int(shortest_edge / crop_pct) and the long side int(short · long / short)
 *     (get_resize_output_image_size), then center_crop to shortest_edge² with
 *     top = (h - crop) // 2, left = (w - crop) // 2, zero padding where the image is smaller;
 *   shortest_edge ≥ 384: resize (warp) to shortest_edge², no crop;
 *   resize is PIL's Image.resize with the configured filter, on uint8 (see resample.c);
 *   rescale: float32(float64(v) · rescale_factor); normalize: (v - mean) / std in float32.
 *
 * The resize is computed only where the crop keeps it: the horizontal pass over the rows that
 * the vertical pass reads, each row unpacked from the frame just before (pixel-formats.c).
 * Plans (coefficient tables) are cached per region size and the scratch buffers only grow, so
 * a frame of an already seen size allocates nothing.  rescale + normalize is a 256-entry
 * table per channel, which gives numpy's float32 results exactly. */
#include "preprocess-private.h"

#include <math.h>

/* Region sizes whose plans are kept (per-object regions change size every frame). */
#define N_PLANS 8

typedef struct {
  guint width, height;          /* the region size; 0 = unused slot */
  guint64 last_used;
  ConvNextResampleAxis x, y;
} Plan;

struct _ConvNextPreprocessor {
  ConvNextPreprocessConfig cfg;
  float lut[3][256];            /* uint8 level → pixel_values value, per channel */
  ConvNextYuvTables yuv;
  Plan plans[N_PLANS];
  guint64 clock;
  /* scratch, grown when a larger plan appears */
  guint8 *rows;                 /* kernels->rows source rows, RGBx, row_size bytes each */
  gsize row_size;
  guint8 *scratch;              /* for the horizontal kernel */
  gsize scratch_size;
  guint8 *tmp;                  /* the horizontally resampled rows, RGBx */
  gsize tmp_size;
  guint8 *out_row;              /* one resampled output row, RGBx */
  gsize out_row_size;
};

ConvNextPreprocessor *
convnext_preprocessor_new (const char *model_dir, GError **error)
{
  g_autoptr (ConvNextPreprocessor) pre = NULL;

  g_return_val_if_fail (model_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  pre = g_new0 (ConvNextPreprocessor, 1);
  if (!convnext_preprocess_config_load (&pre->cfg, model_dir, error))
    return NULL;

  for (guint c = 0; c < 3; c++)
    for (guint v = 0; v < 256; v++)
      pre->lut[c][v] = convnext_preprocess_normalize (&pre->cfg, c, v);
  return g_steal_pointer (&pre);
}

void
convnext_preprocessor_free (ConvNextPreprocessor *pre)
{
  if (pre == NULL)
    return;
  for (guint i = 0; i < N_PLANS; i++) {
    convnext_resample_axis_clear (&pre->plans[i].x);
    convnext_resample_axis_clear (&pre->plans[i].y);
  }
  g_free (pre->rows);
  g_free (pre->scratch);
  g_free (pre->tmp);
  g_free (pre->out_row);
  g_free (pre);
}

gboolean
convnext_preprocessor_uses_defaults (const ConvNextPreprocessor *pre)
{
  g_return_val_if_fail (pre != NULL, FALSE);

  return pre->cfg.defaults;
}

void
convnext_preprocessor_get_output_size (const ConvNextPreprocessor *pre, guint in_width,
    guint in_height, guint *width, guint *height)
{
  g_return_if_fail (pre != NULL && width != NULL && height != NULL);

  *width = pre->cfg.do_resize ? pre->cfg.shortest_edge : in_width;
  *height = pre->cfg.do_resize ? pre->cfg.shortest_edge : in_height;
}

/* Resize target and crop of a @w × @h region (see the top of this file). */
static gboolean
plan_geometry (const ConvNextPreprocessConfig *cfg, guint w, guint h, guint64 resized[2],
    gint64 crop_start[2], guint out_size[2], GError **error)
{
  guint s = cfg->shortest_edge;

  if (!cfg->do_resize) {
    resized[0] = out_size[0] = w;
    resized[1] = out_size[1] = h;
    crop_start[0] = crop_start[1] = 0;
    return TRUE;
  }
  out_size[0] = out_size[1] = s;
  if (s >= 384) {
    resized[0] = resized[1] = s;
    crop_start[0] = crop_start[1] = 0;
    return TRUE;
  }

  guint64 short_side = (guint64) (s / cfg->crop_pct);   /* int(), checked ≥ 1 at load */
  guint64 long_side = (guint64) ((double) (short_side * MAX (w, h)) / MIN (w, h));
  resized[0] = w <= h ? short_side : long_side;
  resized[1] = w <= h ? long_side : short_side;
  if (long_side > G_MAXINT) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "region %ux%u is too elongated: it would be resized to %" G_GUINT64_FORMAT "x%"
        G_GUINT64_FORMAT, w, h, resized[0], resized[1]);
    return FALSE;
  }
  for (guint i = 0; i < 2; i++)
    crop_start[i] = (gint64) floor (((double) resized[i] - s) / 2);   /* Python's // */
  return TRUE;
}

static void
horizontal_c (const ConvNextResampleAxis *axis, const guint8 *const *src, guint8 *scratch,
    guint8 *dst, gsize dst_stride)
{
  convnext_resample_horizontal_c (axis, src[0], dst);
}

static const ConvNextPreprocessKernels kernels_c = {
  "c", 1, horizontal_c, convnext_resample_vertical_c, convnext_unpack_i420_c,
  convnext_unpack_nv12_c, convnext_unpack_packed_c,
};

const ConvNextPreprocessKernels *
convnext_preprocess_kernels (void)
{
  static gsize kernels;

  if (g_once_init_enter (&kernels)) {
    const ConvNextPreprocessKernels *chosen = &kernels_c;
#if defined(__x86_64__) || defined(__i386__)
    const char *cap = g_getenv ("CONVNEXT_PREPROCESS_SIMD");

    if (g_strcmp0 (cap, "none") != 0 && convnext_preprocess_kernels_avx2 != NULL
        && __builtin_cpu_supports ("avx2"))
      chosen = convnext_preprocess_kernels_avx2;
    if (cap == NULL || g_str_equal (cap, "avx512")) {
      if (convnext_preprocess_kernels_avx512 != NULL && __builtin_cpu_supports ("avx512f"))
        chosen = convnext_preprocess_kernels_avx512;
    }
#endif
    g_once_init_leave (&kernels, (gsize) chosen);
  }
  return (const ConvNextPreprocessKernels *) kernels;
}

/* Zeroed on growth, so that the bytes the SIMD kernels read beyond the data are defined. */
static void
grow (guint8 **buf, gsize *size, gsize needed)
{
  if (needed > *size) {
    g_free (*buf);
    *buf = g_malloc0 (needed);
    *size = needed;
  }
}

/* Bytes of one horizontally resampled RGBx row, rounded up for the vertical SIMD pass. */
static gsize
tmp_stride (const Plan *plan)
{
  return ((gsize) plan->x.n_out * 4 + 15) / 16 * 16;
}

/* The cached plan for a @w × @h region, made on first use (least recently used evicted). */
static Plan *
get_plan (ConvNextPreprocessor *pre, guint w, guint h, GError **error)
{
  const ConvNextPreprocessKernels *kernels = convnext_preprocess_kernels ();
  gsize row_size, tmp_rows;
  Plan *plan = &pre->plans[0];
  guint64 resized[2];
  gint64 crop_start[2];
  guint out_size[2];

  pre->clock++;
  for (guint i = 0; i < N_PLANS; i++) {
    if (pre->plans[i].width == w && pre->plans[i].height == h) {
      pre->plans[i].last_used = pre->clock;
      return &pre->plans[i];
    }
    if (pre->plans[i].last_used < plan->last_used)
      plan = &pre->plans[i];
  }

  if (!plan_geometry (&pre->cfg, w, h, resized, crop_start, out_size, error))
    return NULL;
  convnext_resample_axis_clear (&plan->x);
  convnext_resample_axis_clear (&plan->y);
  convnext_resample_axis_init (&plan->x, pre->cfg.resample, w, resized[0], crop_start[0],
      out_size[0]);
  convnext_resample_axis_init (&plan->y, pre->cfg.resample, h, resized[1], crop_start[1],
      out_size[1]);
  plan->width = w;
  plan->height = h;
  plan->last_used = pre->clock;

  /* Grow-only buffers; the horizontal pass works on groups of kernels->rows rows, the last
   * group may write past src_count rows. */
  row_size = ((gsize) plan->x.src_count + CONVNEXT_RESAMPLE_ROW_PAD) * 4;
  tmp_rows = (plan->y.src_count + kernels->rows - 1) / kernels->rows * kernels->rows;
  if (row_size > pre->row_size) {
    g_free (pre->rows);
    pre->rows = g_malloc0 (row_size * kernels->rows);
    pre->row_size = row_size;
  }
  if (kernels->rows > 1)
    grow (&pre->scratch, &pre->scratch_size, row_size * kernels->rows);
  grow (&pre->tmp, &pre->tmp_size, tmp_rows * tmp_stride (plan));
  grow (&pre->out_row, &pre->out_row_size, tmp_stride (plan));
  return plan;
}

static void
fill (float *dst, gsize n, float value)
{
  for (gsize i = 0; i < n; i++)
    dst[i] = value;
}

/* Everything outside the resized image: the centre crop's zero padding, normalized. */
static void
fill_padding (const ConvNextPreprocessor *pre, const Plan *plan, float *pixel_values)
{
  guint w = plan->x.out_size, h = plan->y.out_size;
  guint x0 = plan->x.out_first, x1 = x0 + plan->x.n_out;
  guint y0 = plan->y.out_first, y1 = y0 + plan->y.n_out;

  if (plan->x.n_out == 0 || plan->y.n_out == 0)
    y0 = y1 = h;
  for (guint c = 0; c < 3; c++) {
    float pad = pre->lut[c][0], *plane = pixel_values + (gsize) c * w * h;
    fill (plane, (gsize) y0 * w, pad);
    for (guint r = y0; r < y1; r++) {
      fill (plane + (gsize) r * w, x0, pad);
      fill (plane + (gsize) r * w + x1, w - x1, pad);
    }
    fill (plane + (gsize) y1 * w, (gsize) (h - y1) * w, pad);
  }
}

gboolean
convnext_preprocessor_process (ConvNextPreprocessor *pre, const ConvNextImage *image,
    const ConvNextRect *roi, float *pixel_values, GError **error)
{
  const ConvNextPreprocessKernels *kernels = convnext_preprocess_kernels ();
  ConvNextRect region;
  Plan *plan;
  gsize stride, plane;

  g_return_val_if_fail (pre != NULL && image != NULL && pixel_values != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!convnext_image_validate (image, error))
    return FALSE;
  region = roi != NULL ? *roi : (ConvNextRect) { 0, 0, image->width, image->height };
  if (region.width == 0 || region.height == 0 || region.x > image->width
      || region.width > image->width - region.x || region.y > image->height
      || region.height > image->height - region.y) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "region %ux%u at (%u, %u) is empty or not inside the %ux%u image", region.width,
        region.height, region.x, region.y, image->width, image->height);
    return FALSE;
  }
  if ((plan = get_plan (pre, region.width, region.height, error)) == NULL)
    return FALSE;
  convnext_yuv_tables_update (&pre->yuv, image);

  /* Horizontal pass over the rows that the vertical pass reads, kernels->rows at a time. */
  stride = tmp_stride (plan);
  for (guint r = 0; r < plan->y.src_count && plan->x.n_out > 0; r += kernels->rows) {
    const guint8 *rows[CONVNEXT_PREPROCESS_MAX_ROWS];
    for (guint i = 0; i < kernels->rows; i++) {
      rows[i] = pre->rows + i * pre->row_size;
      if (r + i < plan->y.src_count)
        convnext_unpack_row (kernels, image, &pre->yuv, region.y + plan->y.src_first + r + i,
            region.x + plan->x.src_first, plan->x.src_count, pre->rows + i * pre->row_size);
    }
    kernels->horizontal (&plan->x, rows, pre->scratch, pre->tmp + r * stride, stride);
  }

  /* Vertical pass, then rescale + normalize into the NCHW slot. */
  plane = (gsize) plan->x.out_size * plan->y.out_size;
  fill_padding (pre, plan, pixel_values);
  for (guint j = 0; j < plan->y.n_out && plan->x.n_out > 0; j++) {
    gsize offset = (gsize) (plan->y.out_first + j) * plan->x.out_size + plan->x.out_first;
    kernels->vertical (&plan->y, j, pre->tmp, stride, plan->x.n_out * 4, pre->out_row);
    for (guint c = 0; c < 3; c++) {
      const float *lut = pre->lut[c];
      float *dst = pixel_values + c * plane + offset;
      for (guint x = 0; x < plan->x.n_out; x++)
        dst[x] = lut[pre->out_row[4 * x + c]];
    }
  }
  return TRUE;
}
