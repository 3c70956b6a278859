/* For the library's own tests only (not installed, not API): what oneDNN chose. */
#pragma once

#include "convnext.h"

G_BEGIN_DECLS

/* "<name>\t<implementation>" for every oneDNN primitive of the network that ran @ctx's last
 * successful forward call, in execution order; names as transformers' modules
 * ("encoder.stages.1.layers.0.pwconv2"), implementations as oneDNN's
 * dnnl_query_impl_info_str ("brg:avx512_core", "ref:any").  NULL before such a call.
 * Free with g_strfreev(). */
char **convnext_context_dup_primitives (ConvNextContext *ctx);

/* The CPU ISA oneDNN runs on (dnnl_cpu_isa2str), capped by ONEDNN_MAX_CPU_ISA.  g_free(). */
char *convnext_testing_cpu_isa (void);

G_END_DECLS
