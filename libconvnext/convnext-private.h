/* Private declarations shared by the libconvnext sources: the parsed config.json and the
 * checkpoint's weights.  The oneDNN network is behind network.h, the file formats behind
 * checkpoint.h. */
#pragma once

#include "convnext.h"
#include "checkpoint.h"

G_BEGIN_DECLS

/* Activation of pwconv1 (config hidden_act), as transformers' ACT2FN. */
typedef enum {
  CONVNEXT_ACT_GELU,        /* "gelu", "gelu_python": exact 0.5·x·(1 + erf(x/√2)) */
  CONVNEXT_ACT_GELU_TANH,   /* "gelu_new", "gelu_pytorch_tanh": tanh approximation */
  CONVNEXT_ACT_RELU,        /* "relu" */
} ConvNextAct;

/* config.json, as transformers' ConvNextConfig / ConvNextV2Config. */
typedef struct {
  char *path;                   /* the config.json path, for messages */
  guint version;                /* 1: model_type "convnext", 2: "convnextv2" */
  guint num_channels;
  guint patch_size;
  guint num_stages;
  guint *hidden_sizes;          /* [num_stages] */
  guint *depths;                /* [num_stages] */
  ConvNextAct hidden_act;
  double layer_norm_eps;        /* final pooled LayerNorm only; the others use 1e-6 */
  double layer_scale_init_value;/* ≤ 0: the layers have no layer_scale_parameter (V2: 0) */
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
/* The same on @length bytes of @text already read from @path (which only names it in
 * messages); what the config.json fuzzer calls. */
ConvNextConfig *convnext_config_parse (const char *path, const char *text, gsize length,
    GError **error);
void convnext_config_free (ConvNextConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextConfig, convnext_config_free)

/* The weights, as float32: either views into the mapped checkpoint (contiguous, aligned
 * F32 tensors) or converted copies (F16/BF16, unaligned or strided F32).  Shapes as
 * PyTorch stores them. */
typedef struct {
  const float *dwconv_weight;   /* [C, 1, 7, 7] */
  const float *dwconv_bias;     /* [C] */
  const float *norm_weight;     /* [C] layernorm */
  const float *norm_bias;       /* [C] */
  const float *pwconv1_weight;  /* [4C, C] */
  const float *pwconv1_bias;    /* [4C] */
  const float *pwconv2_weight;  /* [C, 4C] */
  const float *pwconv2_bias;    /* [C] */
  const float *layer_scale;     /* [C]; NULL when layer_scale_init_value ≤ 0, and in V2 */
  const float *grn_weight;      /* [1, 1, 1, 4C] V2 only (grn.weight, formerly grn.gamma) */
  const float *grn_bias;        /* [1, 1, 1, 4C] V2 only (grn.bias, formerly grn.beta) */
} ConvNextLayerWeights;

typedef struct {
  const float *down_norm_weight;/* [C_{s-1}] downsampling_layer.0 (stages s ≥ 1) */
  const float *down_norm_bias;  /* [C_{s-1}] */
  const float *down_conv_weight;/* [C_s, C_{s-1}, 2, 2] downsampling_layer.1 */
  const float *down_conv_bias;  /* [C_s] */
  ConvNextLayerWeights *layers; /* [depths[s]] */
} ConvNextStageWeights;

/* Which transformers class the tensor names come from. */
typedef enum {
  CONVNEXT_HEAD_CLASSIFIER,     /* ConvNext(V2)ForImageClassification: prefix, classifier.* */
  CONVNEXT_HEAD_NONE,           /* ConvNext(V2)Model: no prefix, no classifier */
  CONVNEXT_HEAD_BACKBONE,       /* ConvNext(V2)Backbone: no prefix, hidden_states_norms.* */
} ConvNextHead;

typedef struct {
  ConvNextHead head;
  const float *patch_weight;    /* [C_0, num_channels, patch_size, patch_size] */
  const float *patch_bias;      /* [C_0] */
  const float *embed_norm_weight;/* [C_0] */
  const float *embed_norm_bias; /* [C_0] */
  guint n_stages;
  ConvNextStageWeights *stages; /* [num_stages] */
  const float *final_norm_weight;/* [C_last]; NULL for a backbone (no pooler) */
  const float *final_norm_bias; /* [C_last] */
  const float *classifier_weight;/* [num_labels, C_last]; NULL for a bare ConvNextModel */
  const float *classifier_bias; /* [num_labels] */
  guint num_labels;             /* 0 for a bare ConvNextModel or a backbone */
  /* Backbone: hidden_states_norms.<stage> of hidden state i (channels-first LayerNorm, eps
   * 1e-6) for each i in cfg->out_indices, [C] each; NULL elsewhere.  [num_stages + 1] */
  const float **feature_norm_weight;
  const float **feature_norm_bias;
  char **unused;                /* tensors nothing reads, sorted (transformers warns) */
  /*< private >*/
  ConvNextCheckpoint *file;     /* keeps the mappings alive for the views */
  GPtrArray *copies;            /* converted tensors */
} ConvNextWeights;

/* The weights of model directory @dir (see convnext_checkpoint_open_dir for the files). */
ConvNextWeights *convnext_weights_load (const ConvNextConfig *cfg, const char *dir,
    GError **error);
void convnext_weights_free (ConvNextWeights *w);
/* Called once a tensor has been copied into oneDNN's layout: drops its file pages from
 * the resident set, so that loading does not hold the weights twice.  Harmless for
 * converted copies and for data that is still used (it is re-read on access). */
void convnext_weights_release_pages (const ConvNextWeights *w, const float *data,
    gsize n_elements);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextWeights, convnext_weights_free)

G_END_DECLS
