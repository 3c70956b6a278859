/* Private declarations of the preprocessing: the parsed preprocessor_config.json, PIL's
 * resampling restricted to the pixels the centre crop keeps, and the row unpackers that turn
 * any ConvNextImage row into RGBx bytes (R, G, B, pad), the layout PIL itself resamples. */
#pragma once

#include "convnext.h"

G_BEGIN_DECLS

/* PIL's resampling filters (PIL.Image.Resampling values, as preprocessor_config.json's
 * "resample" holds them). */
typedef enum {
  CONVNEXT_RESAMPLE_NEAREST = 0,
  CONVNEXT_RESAMPLE_LANCZOS = 1,
  CONVNEXT_RESAMPLE_BILINEAR = 2,
  CONVNEXT_RESAMPLE_BICUBIC = 3,
  CONVNEXT_RESAMPLE_BOX = 4,
  CONVNEXT_RESAMPLE_HAMMING = 5,
} ConvNextResample;

/* preprocessor_config.json, as transformers' ConvNextImageProcessor reads it. */
typedef struct {
  gboolean do_resize;
  guint shortest_edge;          /* size["shortest_edge"] (or the old integer "size") */
  double crop_pct;              /* only used when shortest_edge < 384 */
  ConvNextResample resample;
  gboolean do_rescale;
  double rescale_factor;
  gboolean do_normalize;
  double image_mean[3];
  double image_std[3];
  gboolean defaults;            /* there was no preprocessor_config.json */
} ConvNextPreprocessConfig;

/* Largest shortest_edge and resize target accepted, so that a corrupt config cannot ask
 * for absurd buffers (pixel_values alone would be 3·N² floats). */
#define CONVNEXT_PREPROCESS_MAX_SIZE 8192

/* Fills @cfg from <model_dir>/preprocessor_config.json, or with transformers' defaults
 * when the file does not exist. */
gboolean convnext_preprocess_config_load (ConvNextPreprocessConfig *cfg, const char *model_dir,
    GError **error);
/* The same on @length bytes of @text read from @path (only named in messages); what the
 * preprocessor_config.json fuzzer calls. */
gboolean convnext_preprocess_config_parse (ConvNextPreprocessConfig *cfg, const char *path,
    const char *text, gsize length, GError **error);

/* Pixel value @v (0..255) of channel @c after rescale and normalize, in float32 as
 * ConvNextImageProcessor computes it; the config guarantees a finite result. */
float convnext_preprocess_normalize (const ConvNextPreprocessConfig *cfg, guint c, guint v);

/* ---- resampling -------------------------------------------------------------------------- */

/* Pillow's fixed point for 8-bit images (Resample.c): 32 - 8 - 2 bits of fraction. */
#define CONVNEXT_RESAMPLE_PRECISION_BITS (32 - 8 - 2)

/* One axis of PIL's two-pass resize, restricted to the output positions that the centre crop
 * keeps.  pixel_values position out_first + j (0 ≤ j < n_out) is resized pixel
 * crop_start + out_first + j; it reads bounds[2j+1] source pixels from src_first + bounds[2j]
 * with the weights coeffs[j·ksize …].  Positions before out_first and from out_first + n_out
 * on are the centre crop's zero padding.  Nearest and identity axes are 1-tap filters. */
typedef struct {
  guint out_size;               /* pixel_values extent on this axis */
  guint out_first;
  guint n_out;
  guint src_first;              /* first source pixel read, relative to the region */
  guint src_count;              /* number of source pixels read from src_first on */
  guint ksize;                  /* coefficients per position */
  guint *bounds;                /* [n_out][2]: first (relative to src_first), count */
  gint32 *coeffs;               /* [n_out][ksize]; 1.0 = 1 << PRECISION_BITS */
  /* The same weights for RGBx pixels, each repeated for the 4 bytes of a pixel and padded
   * with zeros to a multiple of 4 taps: [n_out][ksize4][4] (SIMD horizontal pass). */
  guint ksize4;
  gint32 *coeffs_rgbx;
} ConvNextResampleAxis;

/* Pixels a row buffer needs beyond src_count: the SIMD horizontal pass reads whole groups
 * of taps (their weights are 0). */
#define CONVNEXT_RESAMPLE_ROW_PAD 4

/* Plans one axis: @in_size source pixels resized to @resized with @filter as PIL's
 * Image.resize does (same size: a copy; NEAREST: ImagingScaleAffine; others: ImagingResample),
 * then cropped to @out_size pixels starting at resized pixel @crop_start (may be negative:
 * zero padding). */
void convnext_resample_axis_init (ConvNextResampleAxis *axis, ConvNextResample filter,
    guint in_size, guint resized, gint crop_start, guint out_size);
void convnext_resample_axis_clear (ConvNextResampleAxis *axis);

/* PIL's horizontal pass over one RGBx row: reads @src (the pixels from the axis' src_first
 * on, followed by CONVNEXT_RESAMPLE_ROW_PAD readable pixels), writes n_out RGBx pixels. */
void convnext_resample_horizontal_c (const ConvNextResampleAxis *axis, const guint8 *src,
    guint8 *dst);

/* PIL's vertical pass for output position @j of @axis over the horizontally resampled rows at
 * @src (row 0 = the axis' src_first; @stride bytes apart, each readable up to @n_bytes
 * rounded up to 16): @n_bytes bytes into @dst (writable up to the same rounding). */
void convnext_resample_vertical_c (const ConvNextResampleAxis *axis, guint j, const guint8 *src,
    gsize stride, guint n_bytes, guint8 *dst);

/* ---- pixel formats ----------------------------------------------------------------------- */

/* What a frame's colorimetry turns into: videoconvert's 8-bit YUV→RGB coefficients. */
typedef struct {
  gboolean valid;
  ConvNextColorMatrix matrix;
  gboolean full_range;
  /* orc's parameters: the Y gain and the V→R, U→G, V→G, U→B weights, × 256 */
  gint16 p_y, p_rv, p_gu, p_gv, p_bu;
  /* mulhsw (splat (value - 128), parameter) for every 8-bit value */
  gint16 y[256], r_v[256], g_u[256], g_v[256], b_u[256];
} ConvNextYuvTables;

/* Checks that @image can be read: known format, sizes, planes and strides. */
gboolean convnext_image_validate (const ConvNextImage *image, GError **error);

/* Sets up @tables for @image's colorimetry (no-op when unchanged or not YUV). */
void convnext_yuv_tables_update (ConvNextYuvTables *tables, const ConvNextImage *image);

/* Row @y, pixels [@x, @x + @n) as RGBx (R, G, B, 0), per format: I420 as videoconvert's
 * I420 fast path, NV12 as its generic path, the others picked out (or replicated). */
void convnext_unpack_i420_c (const ConvNextImage *image, const ConvNextYuvTables *tables,
    guint y, guint x, guint n, guint8 *dst);
void convnext_unpack_nv12_c (const ConvNextImage *image, const ConvNextYuvTables *tables,
    guint y, guint x, guint n, guint8 *dst);
void convnext_unpack_packed_c (const ConvNextImage *image, const ConvNextYuvTables *tables,
    guint y, guint x, guint n, guint8 *dst);

/* Bytes per pixel of a packed (RGB-family or GRAY8) format and the offsets of R, G, B. */
void convnext_packed_layout (ConvNextPixelFormat format, guint *pixel_size, guint offsets[3]);

/* The chroma rows that NV12 luma row @y mixes: 3/4 of row @a, 1/4 of row @b (a == b: row a
 * alone). */
void convnext_nv12_chroma_rows (const ConvNextImage *image, guint y, guint *a, guint *b);

/* ---- kernels ------------------------------------------------------------------------------ */

/* The hot loops: the portable versions above, or SIMD versions that give the same bytes,
 * chosen once for the CPU.  CONVNEXT_PREPROCESS_SIMD caps the choice: "none" (portable),
 * "avx2", "avx512" (the default: the best the CPU has).
 *
 * horizontal: the horizontal pass over @rows rows at once: src[r] is unpacked row r (see
 *   convnext_resample_horizontal_c), @scratch has room for (src_count + ROW_PAD) · rows RGBx
 *   pixels, output row r goes to dst + r · dst_stride. */
#define CONVNEXT_PREPROCESS_MAX_ROWS 4

typedef struct {
  const char *name;
  guint rows;                   /* ≤ CONVNEXT_PREPROCESS_MAX_ROWS */
  void (*horizontal) (const ConvNextResampleAxis *axis, const guint8 *const *src,
      guint8 *scratch, guint8 *dst, gsize dst_stride);
  void (*vertical) (const ConvNextResampleAxis *axis, guint j, const guint8 *src, gsize stride,
      guint n_bytes, guint8 *dst);
  void (*unpack_i420) (const ConvNextImage *image, const ConvNextYuvTables *tables, guint y,
      guint x, guint n, guint8 *dst);
  void (*unpack_nv12) (const ConvNextImage *image, const ConvNextYuvTables *tables, guint y,
      guint x, guint n, guint8 *dst);
  void (*unpack_packed) (const ConvNextImage *image, const ConvNextYuvTables *tables, guint y,
      guint x, guint n, guint8 *dst);
} ConvNextPreprocessKernels;

const ConvNextPreprocessKernels *convnext_preprocess_kernels (void);

/* simd-x86.c; NULL when not built */
extern const ConvNextPreprocessKernels *const convnext_preprocess_kernels_avx2;
extern const ConvNextPreprocessKernels *const convnext_preprocess_kernels_avx512;

/* Row @y, pixels [@x, @x + @n) of @image as RGBx (R, G, B, 0), converted as videoconvert
 * converts the whole frame to RGB. */
void convnext_unpack_row (const ConvNextPreprocessKernels *kernels, const ConvNextImage *image,
    const ConvNextYuvTables *tables, guint y, guint x, guint n, guint8 *dst);

G_END_DECLS
