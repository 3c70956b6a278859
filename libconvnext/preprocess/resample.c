/* PIL's Image.resize for 8-bit RGB, bit for bit (Pillow src/libImaging/Resample.c and
 * Geometry.c), computed only for the pixels that the centre crop keeps.
 *
 * - Same size: Image.resize returns a copy.
 * - NEAREST: _imaging.c resize → ImagingTransform(AFFINE) → ImagingScaleAffine, which walks
 *   the source with a double accumulator: x_in = floor(scale/2 + x·scale), summed step by step.
 * - The other filters: ImagingResample.  precompute_coeffs() centres each output pixel at
 *   (x + 0.5)·scale, widens the filter support by the downscale factor (antialiasing),
 *   normalises the weights, and normalize_coeffs_8bpc() rounds them to PRECISION_BITS fixed
 *   point.  The horizontal pass runs first, over the rows the vertical pass needs, and rounds
 *   and clips to uint8 (clip8); then the vertical pass does the same.  An axis whose size does
 *   not change is not resampled.
 *
 * Every output pixel depends only on its own window, so computing a subset of them gives the
 * same values as resizing the whole image and cropping afterwards. */
#include "preprocess-private.h"

#include <math.h>

#define ONE (1 << CONVNEXT_RESAMPLE_PRECISION_BITS)

static double
box_filter (double x)
{
  return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}

static double
bilinear_filter (double x)
{
  x = fabs (x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

static double
hamming_filter (double x)
{
  x = fabs (x);
  if (x == 0.0)
    return 1.0;
  if (x >= 1.0)
    return 0.0;
  x = x * G_PI;
  /* Pillow writes the window's constants as floats. */
  return sin (x) / x * (0.54f + 0.46f * cos (x));
}

static double
bicubic_filter (double x)
{
  const double a = -0.5;

  x = fabs (x);
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0)
    return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

static double
sinc_filter (double x)
{
  if (x == 0.0)
    return 1.0;
  x = x * G_PI;
  return sin (x) / x;
}

static double
lanczos_filter (double x)
{
  if (-3.0 <= x && x < 3.0)
    return sinc_filter (x) * sinc_filter (x / 3);
  return 0.0;
}

static const struct {
  double (*filter) (double x);
  double support;
} filters[] = {
  [CONVNEXT_RESAMPLE_LANCZOS] = { lanczos_filter, 3.0 },
  [CONVNEXT_RESAMPLE_BILINEAR] = { bilinear_filter, 1.0 },
  [CONVNEXT_RESAMPLE_BICUBIC] = { bicubic_filter, 2.0 },
  [CONVNEXT_RESAMPLE_BOX] = { box_filter, 0.5 },
  [CONVNEXT_RESAMPLE_HAMMING] = { hamming_filter, 1.0 },
};

/* normalize_coeffs_8bpc */
static gint32
to_fixed (double k)
{
  return k < 0 ? (gint32) (-0.5 + k * ONE) : (gint32) (0.5 + k * ONE);
}

/* Output position j copies source pixel src[j] (non-decreasing).  An index past the image
 * (PIL's nearest-neighbour accumulator drifting) leaves PIL's output pixel at its fill value,
 * 0: weight 0. */
static void
init_one_tap (ConvNextResampleAxis *axis, const guint *src, guint in_size)
{
  axis->ksize = 1;
  axis->bounds = g_new (guint, 2 * axis->n_out);
  axis->coeffs = g_new (gint32, axis->n_out);
  axis->src_first = MIN (src[0], in_size - 1);
  axis->src_count = MIN (src[axis->n_out - 1], in_size - 1) + 1 - axis->src_first;
  for (guint j = 0; j < axis->n_out; j++) {
    axis->bounds[2 * j] = MIN (src[j], in_size - 1) - axis->src_first;
    axis->bounds[2 * j + 1] = 1;
    axis->coeffs[j] = src[j] < in_size ? ONE : 0;
  }
}

/* precompute_coeffs() for the resized pixels [first, first + n_out). */
static void
init_filter (ConvNextResampleAxis *axis, ConvNextResample filter, guint in_size, guint resized,
    guint first)
{
  double (*fn) (double) = filters[filter].filter;
  /* box = (0, 0, w, h) as floats */
  double scale = (double) ((float) in_size - 0.0f) / resized;
  double filterscale = MAX (scale, 1.0);
  double support = filters[filter].support * filterscale;
  g_autofree double *k = NULL;
  guint src_end = 0;

  axis->ksize = (guint) ceil (support) * 2 + 1;
  axis->bounds = g_new (guint, 2 * axis->n_out);
  axis->coeffs = g_new0 (gint32, (gsize) axis->n_out * axis->ksize);
  k = g_new (double, axis->ksize);
  axis->src_first = G_MAXUINT;

  for (guint j = 0; j < axis->n_out; j++) {
    double center = 0.0f + (first + j + 0.5) * scale;
    double ww = 0.0, ss = 1.0 / filterscale;
    int xmin = (int) (center - support + 0.5);
    int xmax = (int) (center + support + 0.5);

    if (xmin < 0)
      xmin = 0;
    if (xmax > (int) in_size)
      xmax = in_size;
    xmax -= xmin;
    for (int x = 0; x < xmax; x++) {
      k[x] = fn ((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; x++) {
      if (ww != 0.0)
        k[x] /= ww;
      axis->coeffs[(gsize) j * axis->ksize + x] = to_fixed (k[x]);
    }
    axis->bounds[2 * j] = xmin;
    axis->bounds[2 * j + 1] = xmax;
    axis->src_first = MIN (axis->src_first, (guint) xmin);
    src_end = MAX (src_end, (guint) (xmin + xmax));
  }
  for (guint j = 0; j < axis->n_out; j++)
    axis->bounds[2 * j] -= axis->src_first;
  axis->src_count = src_end - axis->src_first;
}

void
convnext_resample_axis_init (ConvNextResampleAxis *axis, ConvNextResample filter,
    guint in_size, guint resized, gint crop_start, guint out_size)
{
  /* Output position o shows resized pixel crop_start + o when that is inside [0, resized). */
  gint64 first = MAX (0, -(gint64) crop_start);
  gint64 end = MIN ((gint64) out_size, (gint64) resized - crop_start);

  memset (axis, 0, sizeof *axis);
  axis->out_size = out_size;
  if (end <= first)
    return;   /* the crop misses the image (not reachable from the ConvNeXt rules) */
  axis->out_first = first;
  axis->n_out = end - first;
  first += crop_start;          /* now in resized pixels */

  if (resized == in_size || filter == CONVNEXT_RESAMPLE_NEAREST) {
    g_autofree guint *src = g_new (guint, axis->n_out);
    if (resized == in_size) {
      for (guint j = 0; j < axis->n_out; j++)
        src[j] = first + j;
    } else {
      /* ImagingScaleAffine: a[0] = (double) (box[2] - box[0]) / size, x0 = a[0] / 2, then
       * x += a[0] per pixel; COORD() = (int) x, never negative here. */
      double a0 = (double) ((float) in_size - 0.0f) / resized;
      double x = 0.0 + a0 * 0.5;
      for (guint p = 0; p < first + axis->n_out; p++, x += a0) {
        if (p >= first)
          src[p - first] = MIN ((guint) x, in_size);
      }
    }
    init_one_tap (axis, src, in_size);
  } else {
    init_filter (axis, filter, in_size, resized, first);
  }

  axis->ksize4 = (axis->ksize + 3) / 4 * 4;
  axis->coeffs_rgbx = g_new0 (gint32, (gsize) axis->n_out * axis->ksize4 * 4);
  for (guint j = 0; j < axis->n_out; j++) {
    for (guint x = 0; x < axis->bounds[2 * j + 1]; x++) {
      for (guint c = 0; c < 4; c++)
        axis->coeffs_rgbx[((gsize) j * axis->ksize4 + x) * 4 + c] =
            axis->coeffs[(gsize) j * axis->ksize + x];
    }
  }
}

void
convnext_resample_axis_clear (ConvNextResampleAxis *axis)
{
  g_clear_pointer (&axis->bounds, g_free);
  g_clear_pointer (&axis->coeffs, g_free);
  g_clear_pointer (&axis->coeffs_rgbx, g_free);
}

/* ---- portable kernels ---------------------------------------------------------------- */

static inline guint8
clip8 (gint32 v)
{
  v >>= CONVNEXT_RESAMPLE_PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* ImagingResampleHorizontal_8bpc */
void
convnext_resample_horizontal_c (const ConvNextResampleAxis *axis, const guint8 *src, guint8 *dst)
{
  for (guint j = 0; j < axis->n_out; j++, dst += 4) {
    const guint8 *p = src + 4 * axis->bounds[2 * j];
    const gint32 *k = axis->coeffs + (gsize) j * axis->ksize;
    gint32 s0 = 1 << (CONVNEXT_RESAMPLE_PRECISION_BITS - 1), s1 = s0, s2 = s0;

    for (guint x = 0; x < axis->bounds[2 * j + 1]; x++, p += 4) {
      s0 += p[0] * k[x];
      s1 += p[1] * k[x];
      s2 += p[2] * k[x];
    }
    dst[0] = clip8 (s0);
    dst[1] = clip8 (s1);
    dst[2] = clip8 (s2);
    dst[3] = 0;
  }
}

/* ImagingResampleVertical_8bpc */
void
convnext_resample_vertical_c (const ConvNextResampleAxis *axis, guint j, const guint8 *src, gsize stride,
    guint n_bytes, guint8 *dst)
{
  const guint8 *rows = src + axis->bounds[2 * j] * stride;
  const gint32 *k = axis->coeffs + (gsize) j * axis->ksize;
  guint n = axis->bounds[2 * j + 1];

  for (guint b = 0; b < n_bytes; b++) {
    gint32 ss = 1 << (CONVNEXT_RESAMPLE_PRECISION_BITS - 1);
    for (guint y = 0; y < n; y++)
      ss += rows[y * stride + b] * k[y];
    dst[b] = clip8 (ss);
  }
}
