/* int8 pointwise layers: calibrated activation ranges (the int8_calibration.json file) and the
 * quantized weights made from them.  No oneDNN here: network.c runs what this computes.
 *
 * Scheme (static, per tensor for activations, per output channel for weights):
 *   pwconv1:  t = LN (dwconv (x)) is quantized to s8 with one scale per layer,
 *             s_t = max |t| / 127 over the calibration images (LN's γ, β are divided by s_t,
 *             so that LN itself writes t / s_t and a plain saturating conversion rounds it);
 *             W1 [4C, C] is quantized per row (output channel) to s8: w1q = round (W1 / s_w1),
 *             s_w1 = max |row| / 127; the matmul's dequantisation scale per output channel is
 *             s_t · s_w1.
 *   pwconv2:  u = act (pwconv1) is quantized to u8 on [min u, max u] of the calibration:
 *             u8 = round ((u - min u) / s_u), written by pwconv1 itself (an eltwise linear
 *             post-op after the activation: α = 1 / s_u, β = -min u / s_u);
 *             W2 [C, 4C] per row as W1; the offset min u goes into the bias:
 *             b2' = b2 + min u · Σ_k W2[n, k].
 * Everything else (convolutions, norms, residual stream, head) stays f32.
 * Without VNNI (AVX-512 VNNI, AVX-VNNI or AMX) x86 multiplies u8 by s8 in pairs summed into
 * saturating 16-bit lanes (vpmaddubsw): 255 · 127 · 2 overflows them, so there the weights
 * get 7 bits (max |row| ↦ 63), which cannot.
 * Measured on the default model and the 10,000 CIFAR-10 test photos: top-1 agreement with f32
 * 99.43 % (a PyTorch simulation of the scheme: 99.22 %).  Simulated alternatives: per-channel
 * activation scales folded into the weights did worse (98.68 %: the folding spreads the weight
 * rows' magnitudes), dynamic per-row scales better (99.67 %) but need a pass over every
 * activation in the forward pass. */
#pragma once

#include "convnext-private.h"

G_BEGIN_DECLS

/* Activation ranges of one block, from calibration. */
typedef struct {
  float input_absmax;           /* max |t| of pwconv1's input (the LN output) */
  float hidden_min, hidden_max; /* range of pwconv2's input (the activation output) */
} ConvNextRange;

/* One per block, in execution order (stage 0 block 0, …). */
typedef struct {
  guint n_layers;
  ConvNextRange *layers;        /* [n_layers] */
  guint n_images;               /* how many images they were measured on */
} ConvNextRanges;

ConvNextRanges *convnext_ranges_new (const ConvNextConfig *cfg);
void convnext_ranges_free (ConvNextRanges *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextRanges, convnext_ranges_free)

/* Reads an int8_calibration.json written by convnext_ranges_save() (hostile input: size,
 * types, count and finiteness checked).  IO when missing or unreadable (the message says how
 * to make one), INVALID_CONFIG when malformed or made for another architecture. */
ConvNextRanges *convnext_ranges_load (const ConvNextConfig *cfg, const char *path,
    GError **error);
gboolean convnext_ranges_save (const ConvNextRanges *r, const ConvNextConfig *cfg,
    const char *model_name, const char *path, GError **error);

/* The int8 form of one block's pointwise layers. */
typedef struct {
  float *norm_weight, *norm_bias; /* [C] LN γ / s_t, β / s_t */
  gint8 *w1;                    /* [4C, C] as PyTorch stores W1 */
  float *w1_scale;              /* [4C] s_t · s_w1 */
  float *w1_scale_inv;          /* [4C] 1 / w1_scale (for oneDNN 2, which adds the bias first) */
  float hidden_alpha, hidden_beta;/* the eltwise linear that maps u to its u8 steps */
  gint8 *w2;                    /* [C, 4C] */
  float *w2_scale;              /* [C] s_u · s_w2 */
  float *w2_scale_inv;          /* [C] */
  float *b2;                    /* [C] b2 + min u · Σ_k W2[n, k] */
} ConvNextInt8Layer;

typedef struct {
  guint n_layers;
  ConvNextInt8Layer *layers;    /* [n_layers], in execution order */
} ConvNextInt8Weights;

/* @weight_max: 127, or 63 where the CPU has no VNNI (convnext_backend_int8_weight_max()). */
ConvNextInt8Weights *convnext_int8_weights_new (const ConvNextConfig *cfg,
    const ConvNextWeights *w, const ConvNextRanges *ranges, guint weight_max);
void convnext_int8_weights_free (ConvNextInt8Weights *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextInt8Weights, convnext_int8_weights_free)

G_END_DECLS
