/* What context.c and model.c share: a model's parts that contexts run, and the model's own
 * context (which, being owned by the model, holds no reference to it). */
#pragma once

#include "convnext-private.h"
#include "network.h"

G_BEGIN_DECLS

ConvNextBackend *convnext_model_get_backend (const ConvNextModel *model);
const ConvNextConfig *convnext_model_get_config (const ConvNextModel *model);
const ConvNextParams *convnext_model_get_params (const ConvNextModel *model);
/* FALSE for a backbone checkpoint (no final layernorm). */
gboolean convnext_model_has_pooler (const ConvNextModel *model);

/* A context that does not reference @model: for the model's own, freed with it. */
ConvNextContext *convnext_context_new_owned (ConvNextModel *model, const ConvNextParams *params);

G_END_DECLS
