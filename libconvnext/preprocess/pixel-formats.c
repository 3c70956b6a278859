/* Any ConvNextImage row → RGBx bytes, as videoconvert (GstVideoConverter, GStreamer 1.22)
 * converts the whole frame to RGB:
 *
 * - RGB family: the bytes are picked out; alpha and padding are dropped.
 * - GRAY8: replicated to R = G = B (videoconvert's GRAY8 → RGB is exactly that).
 * - I420: the converter's fast path, video_orc_convert_I420_ARGB: nearest chroma
 *   (U/V at x/2, y/2) and 8-bit fixed-point arithmetic on (value - 128) splatted to 16 bits
 *   (v·257), multiplied with mulhsw by the matrix coefficients × 256, saturated to int8.
 * - NV12: the converter's generic path: chroma upsampling by GstVideoChromaResample on each
 *   line (horizontal 3:1 / 1:3 filters for centred chroma, pair averages for co-sited), then
 *   vertical 3:1 / 1:3 filters between line pairs (none for vertically co-sited chroma), then
 *   the same matrix as I420.
 *
 * The converter is not called per frame because converting the needed part of a 1080p frame
 * with it costs more than the whole preprocessing budget; tests/preprocess checks these
 * rows against GstVideoConverter output for every format, matrix, range and siting. */
#include "preprocess-private.h"

#include <gst/video/video.h>
#include <math.h>

typedef struct {
  const char *name;             /* GstVideoFormat's */
  guint pixel_size;             /* bytes per pixel of a packed format */
  guint r, g, b;                /* byte offsets in a pixel */
} PackedLayout;

static const PackedLayout packed_layouts[] = {
  [CONVNEXT_PIXEL_FORMAT_RGB] = { "RGB", 3, 0, 1, 2 },
  [CONVNEXT_PIXEL_FORMAT_BGR] = { "BGR", 3, 2, 1, 0 },
  [CONVNEXT_PIXEL_FORMAT_RGBX] = { "RGBx", 4, 0, 1, 2 },
  [CONVNEXT_PIXEL_FORMAT_BGRX] = { "BGRx", 4, 2, 1, 0 },
  [CONVNEXT_PIXEL_FORMAT_XRGB] = { "xRGB", 4, 1, 2, 3 },
  [CONVNEXT_PIXEL_FORMAT_XBGR] = { "xBGR", 4, 3, 2, 1 },
  [CONVNEXT_PIXEL_FORMAT_RGBA] = { "RGBA", 4, 0, 1, 2 },
  [CONVNEXT_PIXEL_FORMAT_BGRA] = { "BGRA", 4, 2, 1, 0 },
  [CONVNEXT_PIXEL_FORMAT_ARGB] = { "ARGB", 4, 1, 2, 3 },
  [CONVNEXT_PIXEL_FORMAT_ABGR] = { "ABGR", 4, 3, 2, 1 },
  [CONVNEXT_PIXEL_FORMAT_I420] = { "I420" },
  [CONVNEXT_PIXEL_FORMAT_NV12] = { "NV12" },
  [CONVNEXT_PIXEL_FORMAT_GRAY8] = { "GRAY8", 1, 0, 0, 0 },
};

static gboolean
invalid_input (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid_input (GError **error, const char *fmt, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, fmt);
  message = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error_literal (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT, message);
  return FALSE;
}

/* Plane @i must exist and hold rows of at least @row_bytes. */
static gboolean
check_plane (const ConvNextImage *image, guint i, const char *name, guint64 row_bytes,
    GError **error)
{
  if (image->data[i] == NULL)
    return invalid_input (error, "plane %u (%s) of the %s image is NULL", i, name,
        packed_layouts[image->format].name);
  if (image->stride[i] < row_bytes)
    return invalid_input (error, "stride %" G_GSIZE_FORMAT " of plane %u (%s) of the %s image "
        "is smaller than a row of %u pixels (%" G_GUINT64_FORMAT " bytes)", image->stride[i], i,
        name, packed_layouts[image->format].name, image->width, row_bytes);
  return TRUE;
}

gboolean
convnext_image_validate (const ConvNextImage *image, GError **error)
{
  guint64 w = image->width, cw = (w + 1) / 2;

  if ((guint) image->format >= G_N_ELEMENTS (packed_layouts)) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED,
        "unsupported pixel format %d", image->format);
    return FALSE;
  }
  if (image->width == 0 || image->height == 0)
    return invalid_input (error, "image size %ux%u is empty", image->width, image->height);

  switch (image->format) {
    case CONVNEXT_PIXEL_FORMAT_I420:
    case CONVNEXT_PIXEL_FORMAT_NV12:
      if ((guint) image->matrix > CONVNEXT_COLOR_MATRIX_BT2020) {
        g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED,
            "unsupported color matrix %d", image->matrix);
        return FALSE;
      }
      if ((image->chroma_site & ~CONVNEXT_CHROMA_SITE_DV) != 0) {
        g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_UNSUPPORTED,
            "unsupported chroma site %d", image->chroma_site);
        return FALSE;
      }
      if (image->format == CONVNEXT_PIXEL_FORMAT_I420)
        return check_plane (image, 0, "Y", w, error) && check_plane (image, 1, "U", cw, error)
            && check_plane (image, 2, "V", cw, error);
      return check_plane (image, 0, "Y", w, error) && check_plane (image, 1, "UV", 2 * cw, error);
    default:
      return check_plane (image, 0, "pixels", w * packed_layouts[image->format].pixel_size,
          error);
  }
}

static GstVideoColorMatrix
gst_matrix (ConvNextColorMatrix matrix)
{
  switch (matrix) {
    case CONVNEXT_COLOR_MATRIX_BT709:
      return GST_VIDEO_COLOR_MATRIX_BT709;
    case CONVNEXT_COLOR_MATRIX_BT2020:
      return GST_VIDEO_COLOR_MATRIX_BT2020;
    case CONVNEXT_COLOR_MATRIX_BT601:
    default:
      return GST_VIDEO_COLOR_MATRIX_BT601;
  }
}

/* orc's splatbw of (v - 128) as a byte: both bytes of a 16-bit word, read as signed. */
static gint32
splat (guint v)
{
  return (gint16) (((v ^ 0x80) << 8) | (v ^ 0x80));
}

/* orc's mulhsw: the high half of a signed 16×16-bit product. */
static gint16
mulhsw (gint32 a, gint32 b)
{
  return (a * b) >> 16;
}

void
convnext_yuv_tables_update (ConvNextYuvTables *t, const ConvNextImage *image)
{
  double kr, kb, kg, ys, cs;

  if (image->format != CONVNEXT_PIXEL_FORMAT_I420 && image->format != CONVNEXT_PIXEL_FORMAT_NV12)
    return;
  if (t->valid && t->matrix == image->matrix && t->full_range == !!image->full_range)
    return;

  t->valid = TRUE;
  t->matrix = image->matrix;
  t->full_range = !!image->full_range;
  gst_video_color_matrix_get_Kr_Kb (gst_matrix (image->matrix), &kr, &kb);
  kg = 1.0 - kr - kb;
  /* gst_video_color_range_offsets(): 8-bit Y spans 219 levels (limited) or 255 (full), Cb
   * and Cr 224 or 255; the converter scales by 1 / (float) span, by 255 for RGB, and by 256
   * for its fixed point. */
  ys = 255.0 * (1 / (float) (t->full_range ? 255 : 219));
  cs = 255.0 * (1 / (float) (t->full_range ? 255 : 224));
  t->p_y = rint (256 * ys);
  t->p_rv = rint (256 * cs * 2 * (1 - kr));
  t->p_bu = rint (256 * cs * 2 * (1 - kb));
  t->p_gu = rint (256 * cs * -2 * kb * (1 - kb) / kg);
  t->p_gv = rint (256 * cs * -2 * kr * (1 - kr) / kg);
  for (guint v = 0; v < 256; v++) {
    t->y[v] = mulhsw (splat (v), t->p_y);
    t->r_v[v] = mulhsw (splat (v), t->p_rv);
    t->g_u[v] = mulhsw (splat (v), t->p_gu);
    t->g_v[v] = mulhsw (splat (v), t->p_gv);
    t->b_u[v] = mulhsw (splat (v), t->p_bu);
  }
}

/* convssswb, then the final addb of 128. */
static inline guint8
to_u8 (gint32 v)
{
  return CLAMP (v, -128, 127) + 128;
}

static inline void
yuv_to_rgbx (const ConvNextYuvTables *t, guint y, guint u, guint v, guint8 *dst)
{
  gint32 wy = t->y[y];

  dst[0] = to_u8 (wy + t->r_v[v]);
  dst[1] = to_u8 (wy + t->g_u[u] + t->g_v[v]);
  dst[2] = to_u8 (wy + t->b_u[u]);
  dst[3] = 0;
}

void
convnext_packed_layout (ConvNextPixelFormat format, guint *pixel_size, guint offsets[3])
{
  const PackedLayout *l = &packed_layouts[format];

  *pixel_size = l->pixel_size;
  offsets[0] = l->r;
  offsets[1] = l->g;
  offsets[2] = l->b;
}

void
convnext_unpack_packed_c (const ConvNextImage *image, const ConvNextYuvTables *t, guint y,
    guint x, guint n, guint8 *dst)
{
  const PackedLayout *l = &packed_layouts[image->format];
  const guint8 *src = image->data[0] + y * image->stride[0] + (gsize) x * l->pixel_size;

  for (guint i = 0; i < n; i++, src += l->pixel_size, dst += 4) {
    dst[0] = src[l->r];
    dst[1] = src[l->g];
    dst[2] = src[l->b];
    dst[3] = 0;
  }
}

void
convnext_unpack_i420_c (const ConvNextImage *image, const ConvNextYuvTables *t, guint y,
    guint x, guint n, guint8 *dst)
{
  const guint8 *sy = image->data[0] + y * image->stride[0];
  const guint8 *su = image->data[1] + (y / 2) * image->stride[1];
  const guint8 *sv = image->data[2] + (y / 2) * image->stride[2];

  for (guint i = x; i < x + n; i++, dst += 4)
    yuv_to_rgbx (t, sy[i], su[i / 2], sv[i / 2], dst);
}

/* GstVideoChromaResample's horizontal 2× upsampling of one chroma sample (stride 2, as
 * in NV12) at luma column @x of a @w-pixel line: video_chroma_up_h2 for centred chroma,
 * video_chroma_up_h2_cs for co-sited; the last column keeps its duplicated value. */
static inline guint
chroma_h (const guint8 *c, guint x, guint w, gboolean cosited)
{
  guint i = x / 2;

  if (x == 0 || (x & 1 && x == w - 1))
    return c[2 * i];
  if (cosited)
    return x & 1 ? (c[2 * i] + c[2 * i + 2] + 1) >> 1 : c[2 * i];
  return x & 1 ? (3 * c[2 * i] + c[2 * i + 2] + 2) >> 2 : (c[2 * i - 2] + 3 * c[2 * i] + 2) >> 2;
}

void
convnext_nv12_chroma_rows (const ConvNextImage *image, guint y, guint *a, guint *b)
{
  /* video_orc_chroma_up_v2 on line pairs 2k+1, 2k+2: row 2k+1 is 3/4 of chroma row k and 1/4
   * of row k+1, row 2k+2 the other way round; rows 0 and (even heights) h-1 have no pair. */
  *a = *b = y / 2;
  if (image->chroma_site & CONVNEXT_CHROMA_SITE_V_COSITED)
    return;
  if (y & 1 && y + 1 < image->height)
    *b = *a + 1;
  else if (!(y & 1) && y > 0)
    *b = *a - 1;
}

void
convnext_unpack_nv12_c (const ConvNextImage *image, const ConvNextYuvTables *t, guint y,
    guint x, guint n, guint8 *dst)
{
  gboolean h_cosited = image->chroma_site & CONVNEXT_CHROMA_SITE_H_COSITED;
  const guint8 *sy = image->data[0] + y * image->stride[0];
  const guint8 *ca, *cb;
  guint a, b, w = image->width;

  convnext_nv12_chroma_rows (image, y, &a, &b);
  ca = image->data[1] + a * image->stride[1];
  cb = image->data[1] + b * image->stride[1];
  for (guint i = x; i < x + n; i++, dst += 4) {
    guint u = chroma_h (ca, i, w, h_cosited), v = chroma_h (ca + 1, i, w, h_cosited);
    if (a != b) {
      u = (3 * u + chroma_h (cb, i, w, h_cosited) + 2) >> 2;
      v = (3 * v + chroma_h (cb + 1, i, w, h_cosited) + 2) >> 2;
    }
    yuv_to_rgbx (t, sy[i], u, v, dst);
  }
}

void
convnext_unpack_row (const ConvNextPreprocessKernels *kernels, const ConvNextImage *image,
    const ConvNextYuvTables *tables, guint y, guint x, guint n, guint8 *dst)
{
  switch (image->format) {
    case CONVNEXT_PIXEL_FORMAT_I420:
      kernels->unpack_i420 (image, tables, y, x, n, dst);
      break;
    case CONVNEXT_PIXEL_FORMAT_NV12:
      kernels->unpack_nv12 (image, tables, y, x, n, dst);
      break;
    default:
      kernels->unpack_packed (image, tables, y, x, n, dst);
      break;
  }
}
