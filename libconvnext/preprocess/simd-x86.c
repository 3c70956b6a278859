/* x86 versions of the hot loops, byte for byte the same as the portable ones
 * (tests/preprocess runs the suite both ways):
 *
 * - horizontal pass (AVX-512): pixel x of 4 rows per 512-bit register (the rows interleaved
 *   first), one broadcast weight per tap;
 * - horizontal pass (AVX2): two RGBx pixels per 256-bit register, widened to 32 bits and
 *   multiplied by their taps' weights (repeated per byte, coeffs_rgbx); the two halves are
 *   summed at the end.  Integer sums without overflow, so the order does not matter.
 * - vertical pass (AVX2 / AVX-512): 16 / 32 bytes of a row at a time, one broadcast weight
 *   per row.
 * - I420 → RGBx (AVX2, and SSE2 for the tail): the instructions of orc's
 *   video_orc_convert_I420_ARGB (splatbw = punpcklbw of a byte with itself, mulhsw = pmulhw,
 *   convssswb = packsswb, addb 128 = xor 0x80), 16 (8) pixels at a time;
 * - NV12 → RGBx (AVX2): GstVideoChromaResample's 16-bit chroma filters on deinterleaved
 *   U and V, then the same arithmetic as I420;
 * - RGB family and GRAY8 → RGBx (AVX2/SSSE3): byte shuffles.
 * Pixels where an edge rule applies (first/last columns, an odd start) take the portable
 * path.
 *
 * Only built for x86 with GCC or clang; the AVX2 / AVX-512 functions carry a target
 * attribute and are used only when the CPU has the instructions. */
#include "preprocess-private.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))

#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__ ((target ("avx2")))
#define AVX512 __attribute__ ((target ("avx512f")))
#define PB CONVNEXT_RESAMPLE_PRECISION_BITS

AVX2 static void
horizontal_avx2 (const ConvNextResampleAxis *axis, const guint8 *const *rows, guint8 *scratch,
    guint8 *dst, gsize dst_stride)
{
  const guint8 *src = rows[0];
  const __m128i half = _mm_set1_epi32 (1 << (PB - 1));

  for (guint j = 0; j < axis->n_out; j++, dst += 4) {
    const guint8 *p = src + 4 * axis->bounds[2 * j];
    const gint32 *k = axis->coeffs_rgbx + (gsize) j * axis->ksize4 * 4;
    guint pairs = (axis->bounds[2 * j + 1] + 1) / 2;
    __m256i acc = _mm256_setzero_si256 ();
    __m128i sum;
    guint32 out;

    for (guint t = 0; t < pairs; t++, p += 8, k += 8) {
      __m256i px = _mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) p));
      acc = _mm256_add_epi32 (acc, _mm256_mullo_epi32 (px,
              _mm256_loadu_si256 ((const __m256i *) k)));
    }
    sum = _mm_add_epi32 (_mm256_castsi256_si128 (acc), _mm256_extracti128_si256 (acc, 1));
    /* clip8: >> PRECISION_BITS, then the saturating packs clamp to 0..255 */
    sum = _mm_srai_epi32 (_mm_add_epi32 (sum, half), PB);
    sum = _mm_packus_epi16 (_mm_packs_epi32 (sum, sum), sum);
    out = _mm_cvtsi128_si32 (sum) & 0x00ffffff;   /* R, G, B, 0 */
    memcpy (dst, &out, 4);
  }
}

AVX2 static void
vertical_avx2 (const ConvNextResampleAxis *axis, guint j, const guint8 *src, gsize stride,
    guint n_bytes, guint8 *dst)
{
  const guint8 *rows = src + axis->bounds[2 * j] * stride;
  const gint32 *k = axis->coeffs + (gsize) j * axis->ksize;
  guint n = axis->bounds[2 * j + 1];
  const __m256i half = _mm256_set1_epi32 (1 << (PB - 1));

  for (guint b = 0; b < n_bytes; b += 16) {
    __m256i lo = half, hi = half, packed;

    for (guint y = 0; y < n; y++) {
      const guint8 *r = rows + y * stride + b;
      __m256i ky = _mm256_set1_epi32 (k[y]);
      lo = _mm256_add_epi32 (lo, _mm256_mullo_epi32 (ky,
              _mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) r))));
      hi = _mm256_add_epi32 (hi, _mm256_mullo_epi32 (ky,
              _mm256_cvtepu8_epi32 (_mm_loadl_epi64 ((const __m128i *) (r + 8)))));
    }
    /* packs works within 128-bit lanes: [lo 0-3, hi 0-3 | lo 4-7, hi 4-7] → reorder */
    packed = _mm256_packs_epi32 (_mm256_srai_epi32 (lo, PB), _mm256_srai_epi32 (hi, PB));
    packed = _mm256_permute4x64_epi64 (packed, _MM_SHUFFLE (3, 1, 2, 0));
    _mm_storeu_si128 ((__m128i *) (dst + b), _mm_packus_epi16 (_mm256_castsi256_si128 (packed),
            _mm256_extracti128_si256 (packed, 1)));
  }
}

static void
unpack_i420_sse2 (const ConvNextImage *image, const ConvNextYuvTables *t, guint y, guint x,
    guint n, guint8 *dst)
{
  const guint8 *sy = image->data[0] + y * image->stride[0];
  const guint8 *su = image->data[1] + (y / 2) * image->stride[1];
  const guint8 *sv = image->data[2] + (y / 2) * image->stride[2];
  const __m128i c128 = _mm_set1_epi8 ((char) 0x80), zero = _mm_setzero_si128 ();
  const __m128i p_y = _mm_set1_epi16 (t->p_y), p_rv = _mm_set1_epi16 (t->p_rv);
  const __m128i p_gu = _mm_set1_epi16 (t->p_gu), p_gv = _mm_set1_epi16 (t->p_gv);
  const __m128i p_bu = _mm_set1_epi16 (t->p_bu);
  guint i = x, end = x + n;

  if (i & 1 && i < end) {   /* shares its chroma with the pixel before */
    convnext_unpack_i420_c (image, t, y, i, 1, dst);
    i++;
    dst += 4;
  }
  for (; i + 8 <= end; i += 8, dst += 32) {
    gint32 u4, v4;
    __m128i yb, ub, vb, wy, wu, wv, r, g, b, rg, b0, rgp, b0p;

    memcpy (&u4, su + i / 2, 4);
    memcpy (&v4, sv + i / 2, 4);
    yb = _mm_xor_si128 (_mm_loadl_epi64 ((const __m128i *) (sy + i)), c128);
    ub = _mm_xor_si128 (_mm_cvtsi32_si128 (u4), c128);
    vb = _mm_xor_si128 (_mm_cvtsi32_si128 (v4), c128);
    ub = _mm_unpacklo_epi8 (ub, ub);          /* loadupdb: each chroma for 2 pixels */
    vb = _mm_unpacklo_epi8 (vb, vb);
    wy = _mm_mulhi_epi16 (_mm_unpacklo_epi8 (yb, yb), p_y);
    wu = _mm_unpacklo_epi8 (ub, ub);
    wv = _mm_unpacklo_epi8 (vb, vb);
    r = _mm_add_epi16 (wy, _mm_mulhi_epi16 (wv, p_rv));
    g = _mm_add_epi16 (_mm_add_epi16 (wy, _mm_mulhi_epi16 (wu, p_gu)),
        _mm_mulhi_epi16 (wv, p_gv));
    b = _mm_add_epi16 (wy, _mm_mulhi_epi16 (wu, p_bu));
    rg = _mm_xor_si128 (_mm_packs_epi16 (r, g), c128);       /* r0..r7 g0..g7 */
    b0 = _mm_xor_si128 (_mm_packs_epi16 (b, b), c128);
    rgp = _mm_unpacklo_epi8 (rg, _mm_srli_si128 (rg, 8));   /* r0 g0 r1 g1 … */
    b0p = _mm_unpacklo_epi8 (b0, zero);                     /* b0 0 b1 0 … */
    _mm_storeu_si128 ((__m128i *) dst, _mm_unpacklo_epi16 (rgp, b0p));
    _mm_storeu_si128 ((__m128i *) (dst + 16), _mm_unpackhi_epi16 (rgp, b0p));
  }
  convnext_unpack_i420_c (image, t, y, i, end - i, dst);
}

/* 4 rows → one buffer of pixel columns: [x][row][RGBx], 16 bytes per x (4x4 transposes of
 * 32-bit pixels). */
static void
interleave4 (const guint8 *const *rows, guint n, guint8 *dst)
{
  guint x = 0;

  for (; x + 4 <= n; x += 4, dst += 64) {
    __m128i r0 = _mm_loadu_si128 ((const __m128i *) (rows[0] + 4 * x));
    __m128i r1 = _mm_loadu_si128 ((const __m128i *) (rows[1] + 4 * x));
    __m128i r2 = _mm_loadu_si128 ((const __m128i *) (rows[2] + 4 * x));
    __m128i r3 = _mm_loadu_si128 ((const __m128i *) (rows[3] + 4 * x));
    __m128i t0 = _mm_unpacklo_epi32 (r0, r1), t1 = _mm_unpackhi_epi32 (r0, r1);
    __m128i t2 = _mm_unpacklo_epi32 (r2, r3), t3 = _mm_unpackhi_epi32 (r2, r3);
    _mm_storeu_si128 ((__m128i *) dst, _mm_unpacklo_epi64 (t0, t2));
    _mm_storeu_si128 ((__m128i *) (dst + 16), _mm_unpackhi_epi64 (t0, t2));
    _mm_storeu_si128 ((__m128i *) (dst + 32), _mm_unpacklo_epi64 (t1, t3));
    _mm_storeu_si128 ((__m128i *) (dst + 48), _mm_unpackhi_epi64 (t1, t3));
  }
  for (; x < n; x++, dst += 16) {
    for (guint r = 0; r < 4; r++)
      memcpy (dst + 4 * r, rows[r] + 4 * x, 4);
  }
}

/* One output position of the horizontal pass for 4 interleaved rows: pixel x of the 4 rows
 * in one 512-bit register, one broadcast weight per tap; returns the 4 output pixels. */
AVX512 static inline __m128i
horizontal4_one (const ConvNextResampleAxis *axis, guint j, const guint8 *src)
{
  const guint8 *p = src + 16 * axis->bounds[2 * j];
  const gint32 *k = axis->coeffs + (gsize) j * axis->ksize;
  guint n = axis->bounds[2 * j + 1], t = 0;
  __m512i acc0 = _mm512_set1_epi32 (1 << (PB - 1)), acc1 = _mm512_setzero_si512 ();

  for (; t + 2 <= n; t += 2, p += 32) {   /* two chains, for the pipeline */
    acc0 = _mm512_add_epi32 (acc0, _mm512_mullo_epi32 (_mm512_set1_epi32 (k[t]),
            _mm512_cvtepu8_epi32 (_mm_loadu_si128 ((const __m128i *) p))));
    acc1 = _mm512_add_epi32 (acc1, _mm512_mullo_epi32 (_mm512_set1_epi32 (k[t + 1]),
            _mm512_cvtepu8_epi32 (_mm_loadu_si128 ((const __m128i *) (p + 16)))));
  }
  if (t < n)
    acc0 = _mm512_add_epi32 (acc0, _mm512_mullo_epi32 (_mm512_set1_epi32 (k[t]),
            _mm512_cvtepu8_epi32 (_mm_loadu_si128 ((const __m128i *) p))));
  /* clip8: >> PRECISION_BITS, negatives to 0, then the unsigned saturating narrow */
  acc0 = _mm512_srai_epi32 (_mm512_add_epi32 (acc0, acc1), PB);
  return _mm512_cvtusepi32_epi8 (_mm512_max_epi32 (acc0, _mm512_setzero_si512 ()));
}

/* The horizontal pass over 4 rows at once: no lanes need summing, and 4 output positions
 * are transposed back into the 4 rows with one store per row. */
AVX512 static void
horizontal_avx512 (const ConvNextResampleAxis *axis, const guint8 *const *rows, guint8 *scratch,
    guint8 *dst, gsize dst_stride)
{
  guint j = 0;

  interleave4 (rows, axis->src_count + CONVNEXT_RESAMPLE_ROW_PAD, scratch);
  for (; j + 4 <= axis->n_out; j += 4) {
    __m128i o0 = horizontal4_one (axis, j, scratch), o1 = horizontal4_one (axis, j + 1, scratch);
    __m128i o2 = horizontal4_one (axis, j + 2, scratch), o3 = horizontal4_one (axis, j + 3,
        scratch);
    __m128i t0 = _mm_unpacklo_epi32 (o0, o1), t1 = _mm_unpackhi_epi32 (o0, o1);
    __m128i t2 = _mm_unpacklo_epi32 (o2, o3), t3 = _mm_unpackhi_epi32 (o2, o3);
    _mm_storeu_si128 ((__m128i *) (dst + 4 * j), _mm_unpacklo_epi64 (t0, t2));
    _mm_storeu_si128 ((__m128i *) (dst + dst_stride + 4 * j), _mm_unpackhi_epi64 (t0, t2));
    _mm_storeu_si128 ((__m128i *) (dst + 2 * dst_stride + 4 * j), _mm_unpacklo_epi64 (t1, t3));
    _mm_storeu_si128 ((__m128i *) (dst + 3 * dst_stride + 4 * j), _mm_unpackhi_epi64 (t1, t3));
  }
  for (; j < axis->n_out; j++) {
    guint8 pixels[16];
    _mm_storeu_si128 ((__m128i *) pixels, horizontal4_one (axis, j, scratch));
    for (guint r = 0; r < 4; r++)
      memcpy (dst + r * dst_stride + 4 * j, pixels + 4 * r, 4);
  }
}

/* The vertical pass, 32 bytes of a row at a time. */
AVX512 static void
vertical_avx512 (const ConvNextResampleAxis *axis, guint j, const guint8 *src, gsize stride,
    guint n_bytes, guint8 *dst)
{
  const guint8 *rows = src + axis->bounds[2 * j] * stride;
  const gint32 *k = axis->coeffs + (gsize) j * axis->ksize;
  guint n = axis->bounds[2 * j + 1], b = 0;
  const __m512i half = _mm512_set1_epi32 (1 << (PB - 1)), zero = _mm512_setzero_si512 ();

  for (; b + 32 <= n_bytes; b += 32) {
    __m512i lo = half, hi = half;
    for (guint y = 0; y < n; y++) {
      const guint8 *r = rows + y * stride + b;
      __m512i ky = _mm512_set1_epi32 (k[y]);
      lo = _mm512_add_epi32 (lo, _mm512_mullo_epi32 (ky,
              _mm512_cvtepu8_epi32 (_mm_loadu_si128 ((const __m128i *) r))));
      hi = _mm512_add_epi32 (hi, _mm512_mullo_epi32 (ky,
              _mm512_cvtepu8_epi32 (_mm_loadu_si128 ((const __m128i *) (r + 16)))));
    }
    lo = _mm512_max_epi32 (_mm512_srai_epi32 (lo, PB), zero);
    hi = _mm512_max_epi32 (_mm512_srai_epi32 (hi, PB), zero);
    _mm_storeu_si128 ((__m128i *) (dst + b), _mm512_cvtusepi32_epi8 (lo));
    _mm_storeu_si128 ((__m128i *) (dst + b + 16), _mm512_cvtusepi32_epi8 (hi));
  }
  if (b < n_bytes)
    vertical_avx2 (axis, j, src + b, stride, n_bytes - b, dst + b);
}

/* orc's I420 → ARGB arithmetic for 16 pixels whose Y, U and V bytes are already XORed with
 * 0x80 and widened to 16 bits (Y: pixel by pixel; U, V: one per pixel): splatbw, the mulhsw
 * products and sums, convssswb, addb 128; stores 16 RGBx pixels. */
AVX2 static inline void
yuv16_to_rgbx (const ConvNextYuvTables *t, __m256i y16, __m256i u16, __m256i v16, guint8 *dst)
{
  const __m256i c128 = _mm256_set1_epi8 ((char) 0x80), zero = _mm256_setzero_si256 ();
  __m256i wy = _mm256_or_si256 (y16, _mm256_slli_epi16 (y16, 8));
  __m256i wu = _mm256_or_si256 (u16, _mm256_slli_epi16 (u16, 8));
  __m256i wv = _mm256_or_si256 (v16, _mm256_slli_epi16 (v16, 8));
  __m256i r, g, b, rg, bb, rgp, b0p, lo, hi;

  wy = _mm256_mulhi_epi16 (wy, _mm256_set1_epi16 (t->p_y));
  r = _mm256_add_epi16 (wy, _mm256_mulhi_epi16 (wv, _mm256_set1_epi16 (t->p_rv)));
  g = _mm256_add_epi16 (_mm256_add_epi16 (wy, _mm256_mulhi_epi16 (wu,
              _mm256_set1_epi16 (t->p_gu))), _mm256_mulhi_epi16 (wv, _mm256_set1_epi16 (t->p_gv)));
  b = _mm256_add_epi16 (wy, _mm256_mulhi_epi16 (wu, _mm256_set1_epi16 (t->p_bu)));
  rg = _mm256_xor_si256 (_mm256_packs_epi16 (r, g), c128);   /* per lane: r0..7 g0..7 */
  bb = _mm256_xor_si256 (_mm256_packs_epi16 (b, b), c128);
  rgp = _mm256_unpacklo_epi8 (rg, _mm256_srli_si256 (rg, 8));
  b0p = _mm256_unpacklo_epi8 (bb, zero);
  lo = _mm256_unpacklo_epi16 (rgp, b0p);   /* pixels 0-3 | 8-11 */
  hi = _mm256_unpackhi_epi16 (rgp, b0p);   /* pixels 4-7 | 12-15 */
  _mm256_storeu_si256 ((__m256i *) dst, _mm256_permute2x128_si256 (lo, hi, 0x20));
  _mm256_storeu_si256 ((__m256i *) (dst + 32), _mm256_permute2x128_si256 (lo, hi, 0x31));
}

/* The same as unpack_i420_sse2, 16 pixels at a time. */
AVX2 static void
unpack_i420_avx2 (const ConvNextImage *image, const ConvNextYuvTables *t, guint y, guint x,
    guint n, guint8 *dst)
{
  const guint8 *sy = image->data[0] + y * image->stride[0];
  const guint8 *su = image->data[1] + (y / 2) * image->stride[1];
  const guint8 *sv = image->data[2] + (y / 2) * image->stride[2];
  const __m128i c128 = _mm_set1_epi8 ((char) 0x80);
  guint i = x, end = x + n;

  if (i & 1 && i < end) {   /* shares its chroma with the pixel before */
    convnext_unpack_i420_c (image, t, y, i, 1, dst);
    i++;
    dst += 4;
  }
  for (; i + 16 <= end; i += 16, dst += 64) {
    __m128i yb = _mm_xor_si128 (_mm_loadu_si128 ((const __m128i *) (sy + i)), c128);
    __m128i ub = _mm_xor_si128 (_mm_loadl_epi64 ((const __m128i *) (su + i / 2)), c128);
    __m128i vb = _mm_xor_si128 (_mm_loadl_epi64 ((const __m128i *) (sv + i / 2)), c128);
    /* loadupdb: each chroma byte for 2 pixels */
    yuv16_to_rgbx (t, _mm256_cvtepu8_epi16 (yb), _mm256_cvtepu8_epi16 (_mm_unpacklo_epi8 (ub,
                ub)), _mm256_cvtepu8_epi16 (_mm_unpacklo_epi8 (vb, vb)), dst);
  }
  unpack_i420_sse2 (image, t, y, i, end - i, dst);
}

/* GstVideoChromaResample's horizontal 2× upsampling of 8 NV12 chroma pairs: luma pixels
 * 2i … 2i+15 from pairs i-1 … i+8 of @c; returns U and V, 16 bits per pixel. */
AVX2 static inline void
nv12_chroma_h16 (const guint8 *c, guint i, gboolean cosited, __m256i *u, __m256i *v)
{
  const __m128i mask = _mm_set1_epi16 (0x00ff), two = _mm_set1_epi16 (2), one = _mm_set1_epi16 (1);
  __m128i l0 = _mm_loadu_si128 ((const __m128i *) (c + 2 * (i - 1)));   /* pairs i-1 … i+6 */
  __m128i l1 = _mm_loadu_si128 ((const __m128i *) (c + 2 * i));
  __m128i l2 = _mm_loadu_si128 ((const __m128i *) (c + 2 * (i + 1)));
  __m128i planes[2][3] = {
    { _mm_and_si128 (l0, mask), _mm_and_si128 (l1, mask), _mm_and_si128 (l2, mask) },
    { _mm_srli_epi16 (l0, 8), _mm_srli_epi16 (l1, 8), _mm_srli_epi16 (l2, 8) },
  };
  __m256i out[2];

  for (guint p = 0; p < 2; p++) {
    __m128i *q = planes[p], even, odd;
    if (cosited) {   /* video_chroma_up_h2_cs: (a + b + 1) >> 1 between samples */
      even = q[1];
      odd = _mm_srli_epi16 (_mm_add_epi16 (_mm_add_epi16 (q[1], q[2]), one), 1);
    } else {         /* video_chroma_up_h2: (3a + b + 2) >> 2 and (a + 3b + 2) >> 2 */
      __m128i three = _mm_add_epi16 (_mm_add_epi16 (q[1], q[1]), q[1]);
      even = _mm_srli_epi16 (_mm_add_epi16 (_mm_add_epi16 (q[0], three), two), 2);
      odd = _mm_srli_epi16 (_mm_add_epi16 (_mm_add_epi16 (three, q[2]), two), 2);
    }
    out[p] = _mm256_set_m128i (_mm_unpackhi_epi16 (even, odd), _mm_unpacklo_epi16 (even, odd));
  }
  *u = out[0];
  *v = out[1];
}

/* The same as convnext_unpack_nv12_c, 16 pixels at a time where no edge rule applies. */
AVX2 static void
unpack_nv12_avx2 (const ConvNextImage *image, const ConvNextYuvTables *t, guint y, guint x,
    guint n, guint8 *dst)
{
  gboolean cosited = image->chroma_site & CONVNEXT_CHROMA_SITE_H_COSITED;
  const guint8 *sy = image->data[0] + y * image->stride[0];
  const __m256i c128 = _mm256_set1_epi16 (0x80), two = _mm256_set1_epi16 (2);
  guint a, b, i = x, end = x + n, cw = (image->width + 1) / 2;
  const guint8 *ca, *cb;

  convnext_nv12_chroma_rows (image, y, &a, &b);
  ca = image->data[1] + a * image->stride[1];
  cb = image->data[1] + b * image->stride[1];
  /* an even start ≥ 2; pairs up to i+8 inside the row; not the last pixel's rule */
  if (i < 2 || i & 1) {
    guint head = MIN (end, MAX (i, 2) + (MAX (i, 2) & 1)) - i;
    convnext_unpack_nv12_c (image, t, y, i, head, dst);
    i += head;
    dst += 4 * head;
  }
  for (; i + 16 <= end && i / 2 + 9 <= cw && i + 17 <= image->width; i += 16, dst += 64) {
    __m256i u, v, ub, vb;
    nv12_chroma_h16 (ca, i / 2, cosited, &u, &v);
    if (a != b) {   /* video_orc_chroma_up_v2: (3a + b + 2) >> 2 */
      nv12_chroma_h16 (cb, i / 2, cosited, &ub, &vb);
      u = _mm256_srli_epi16 (_mm256_add_epi16 (_mm256_add_epi16 (_mm256_add_epi16 (u,
                      _mm256_add_epi16 (u, u)), ub), two), 2);
      v = _mm256_srli_epi16 (_mm256_add_epi16 (_mm256_add_epi16 (_mm256_add_epi16 (v,
                      _mm256_add_epi16 (v, v)), vb), two), 2);
    }
    yuv16_to_rgbx (t, _mm256_xor_si256 (_mm256_cvtepu8_epi16 (_mm_loadu_si128 ((const __m128i *)
                (sy + i))), c128), _mm256_xor_si256 (u, c128), _mm256_xor_si256 (v, c128), dst);
  }
  convnext_unpack_nv12_c (image, t, y, i, end - i, dst);
}

/* RGB-family and GRAY8 rows: byte shuffles (pshufb), 4 or 8 pixels at a time. */
AVX2 static void
unpack_packed_avx2 (const ConvNextImage *image, const ConvNextYuvTables *t, guint y, guint x,
    guint n, guint8 *dst)
{
  guint size, off[3], i = 0;
  const guint8 *src;
  guint8 mask[16];

  convnext_packed_layout (image->format, &size, off);
  src = image->data[0] + y * image->stride[0] + (gsize) x * size;
  for (guint k = 0; k < 4; k++) {   /* pixel k: its R, G, B bytes, then 0 (index 0x80) */
    for (guint c = 0; c < 3; c++)
      mask[4 * k + c] = size * k + off[c];
    mask[4 * k + 3] = 0x80;
  }
  if (size == 4) {
    const __m256i m = _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) mask));
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_si256 ((__m256i *) (dst + 4 * i), _mm256_shuffle_epi8 (
              _mm256_loadu_si256 ((const __m256i *) (src + 4 * i)), m));
  } else if (size == 3) {
    const __m128i m = _mm_loadu_si128 ((const __m128i *) mask);
    for (; i + 6 <= n; i += 4)   /* 16-byte loads of 12-byte groups stay inside the row */
      _mm_storeu_si128 ((__m128i *) (dst + 4 * i), _mm_shuffle_epi8 (
              _mm_loadu_si128 ((const __m128i *) (src + 3 * i)), m));
  } else {
    const __m128i zero = _mm_setzero_si128 ();
    for (; i + 16 <= n; i += 16) {
      __m128i g = _mm_loadu_si128 ((const __m128i *) (src + i));
      __m128i gg = _mm_unpacklo_epi8 (g, g), g0 = _mm_unpacklo_epi8 (g, zero);
      __m128i gg2 = _mm_unpackhi_epi8 (g, g), g02 = _mm_unpackhi_epi8 (g, zero);
      _mm_storeu_si128 ((__m128i *) (dst + 4 * i), _mm_unpacklo_epi16 (gg, g0));
      _mm_storeu_si128 ((__m128i *) (dst + 4 * i + 16), _mm_unpackhi_epi16 (gg, g0));
      _mm_storeu_si128 ((__m128i *) (dst + 4 * i + 32), _mm_unpacklo_epi16 (gg2, g02));
      _mm_storeu_si128 ((__m128i *) (dst + 4 * i + 48), _mm_unpackhi_epi16 (gg2, g02));
    }
  }
  convnext_unpack_packed_c (image, t, y, x + i, n - i, dst + 4 * i);
}

static const ConvNextPreprocessKernels kernels_avx2 = {
  "avx2", 1, horizontal_avx2, vertical_avx2, unpack_i420_avx2, unpack_nv12_avx2,
  unpack_packed_avx2,
};

static const ConvNextPreprocessKernels kernels_avx512 = {
  "avx512", 4, horizontal_avx512, vertical_avx512, unpack_i420_avx2, unpack_nv12_avx2,
  unpack_packed_avx2,
};

const ConvNextPreprocessKernels *const convnext_preprocess_kernels_avx2 = &kernels_avx2;
const ConvNextPreprocessKernels *const convnext_preprocess_kernels_avx512 = &kernels_avx512;

#else

const ConvNextPreprocessKernels *const convnext_preprocess_kernels_avx2 = NULL;
const ConvNextPreprocessKernels *const convnext_preprocess_kernels_avx512 = NULL;

#endif
