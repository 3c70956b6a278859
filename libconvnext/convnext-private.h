/* Private declarations shared by the libconvnext sources: the parsed config.json and the
 * checkpoint's weights.  The oneDNN network is behind network.h, the file format behind
 * safetensors.h. */
#pragma once

#include "convnext.h"
#include "safetensors.h"

G_BEGIN_DECLS

/* Activation of pwconv1 (config hidden_act), as transformers' ACT2FN. */
typedef enum {
  CONVNEXT_ACT_GELU,        /* "gelu", "gelu_python": exact 0.5·x·(1 + erf(x/√2)) */
  CONVNEXT_ACT_GELU_TANH,   /* "gelu_new", "gelu_pytorch_tanh": tanh approximation */
  CONVNEXT_ACT_RELU,        /* "relu" */
  CONVNEXT_ACT_SELU,        /* "selu": λ·elu(x, α), α = 1.6732632…, λ = 1.0507009… */
} ConvNextAct;

/* config.json, as transformers' ConvNextConfig. */
typedef struct {
  char *path;                   /* the config.json path, for messages */
  guint num_channels;
  guint patch_size;
  guint num_stages;
  guint *hidden_sizes;          /* [num_stages] */
  guint *depths;                /* [num_stages] */
  ConvNextAct hidden_act;
  double layer_norm_eps;        /* final pooled LayerNorm only; the others use 1e-6 */
  double layer_scale_init_value;/* ≤ 0: the layers have no layer_scale_parameter */
  guint image_size;
  char **labels;                /* id2label as an array (NULL-terminated), or LABEL_<i> */
  guint n_labels;               /* num_labels: the size of id2label */
  guint *out_indices;           /* hidden-state indices from out_features/out_indices */
  guint n_out_indices;
} ConvNextConfig;

/* LayerNorm eps of the embeddings, downsampling and block norms (fixed in transformers). */
#define CONVNEXT_LN_EPS 1e-6f
/* Depthwise convolution of each block: 7x7, padding 3 (fixed in transformers). */
#define CONVNEXT_DW_KERNEL 7

ConvNextConfig *convnext_config_load (const char *path, GError **error);
void convnext_config_free (ConvNextConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextConfig, convnext_config_free)

/* The weights, as float32: either views into the mapped model.safetensors (F32 tensors)
 * or converted copies (F16/BF16, or unaligned F32).  Shapes as PyTorch stores them. */
typedef struct {
  const float *dwconv_weight;   /* [C, 1, 7, 7] */
  const float *dwconv_bias;     /* [C] */
  const float *norm_weight;     /* [C] layernorm */
  const float *norm_bias;       /* [C] */
  const float *pwconv1_weight;  /* [4C, C] */
  const float *pwconv1_bias;    /* [4C] */
  const float *pwconv2_weight;  /* [C, 4C] */
  const float *pwconv2_bias;    /* [C] */
  const float *layer_scale;     /* [C]; NULL when layer_scale_init_value ≤ 0 */
} ConvNextLayerWeights;

typedef struct {
  const float *down_norm_weight;/* [C_{s-1}] downsampling_layer.0 (stages s ≥ 1) */
  const float *down_norm_bias;  /* [C_{s-1}] */
  const float *down_conv_weight;/* [C_s, C_{s-1}, 2, 2] downsampling_layer.1 */
  const float *down_conv_bias;  /* [C_s] */
  ConvNextLayerWeights *layers; /* [depths[s]] */
} ConvNextStageWeights;

typedef struct {
  const float *patch_weight;    /* [C_0, num_channels, patch_size, patch_size] */
  const float *patch_bias;      /* [C_0] */
  const float *embed_norm_weight;/* [C_0] */
  const float *embed_norm_bias; /* [C_0] */
  guint n_stages;
  ConvNextStageWeights *stages; /* [num_stages] */
  const float *final_norm_weight;/* [C_last] */
  const float *final_norm_bias; /* [C_last] */
  const float *classifier_weight;/* [num_labels, C_last]; NULL for a bare ConvNextModel */
  const float *classifier_bias; /* [num_labels] */
  guint num_labels;             /* 0 for a bare ConvNextModel */
  /*< private >*/
  ConvNextSafetensors *file;    /* keeps the mapping alive for the views */
  GPtrArray *copies;            /* converted tensors */
} ConvNextWeights;

ConvNextWeights *convnext_weights_load (const ConvNextConfig *cfg, const char *path,
    GError **error);
void convnext_weights_free (ConvNextWeights *w);
/* Called once a tensor has been copied into oneDNN's layout: drops its file pages from
 * the resident set, so that loading does not hold the weights twice.  Harmless for
 * converted copies and for data that is still used (it is re-read on access). */
void convnext_weights_release_pages (const ConvNextWeights *w, const float *data,
    gsize n_elements);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextWeights, convnext_weights_free)

G_END_DECLS
