/* dnnl-select.h: which oneDNN implementation each primitive of a network gets.  Private to
 * the files that see oneDNN (network*.c).
 *
 * oneDNN answers a primitive descriptor request with the first implementation on its list that
 * accepts the request, and the last one on every list is a reference kernel (its name starts
 * with "ref"), 100-700x slower than the optimised ones.  Which requests the optimised kernels
 * accept depends on the ISA and the oneDNN version (NOTES.md: under ONEDNN_MAX_CPU_ISA=AVX2 a
 * convolution with an "any" source and an NHWC destination, or a matmul with a binary post-op
 * before a sum, get ref:any on 2.6).  So each layer lists its candidate requests, best first,
 * and the first one that is not a reference kernel wins:
 *
 *   g_auto (Choice) c = CHOICE_INIT;
 *   for (guint v = 0; v < N_VARIANTS; v++)
 *     if (choice_offer (&c, v, make_pd (v, &pd), pd))
 *       break;
 *   // c.pd, c.variant: the pick (or, if every candidate was a reference kernel, the first
 *   // one that could be created); c.pd NULL: none could, c.status says why
 *
 * impl_report() then logs the implementation of every primitive at debug level (GLib
 * structured logging, domain "convnext": G_MESSAGES_DEBUG=convnext shows it) and warns once
 * per primitive kind when a reference kernel is all that oneDNN has. */
#pragma once

#include "dnnl-compat.h"

/* The implementation oneDNN chose for @pd, e.g. "brg:avx512_core", "jit:uni", "ref:any". */
const char *impl_name (const_dnnl_primitive_desc_t pd);

/* TRUE for oneDNN's reference kernels ("ref:any", "ref:bf16", …). */
gboolean impl_is_reference (const char *impl);

typedef struct {
  dnnl_primitive_desc_t pd;     /* the pick so far (owned); NULL while none was created */
  guint variant;                /* its index among the candidates */
  dnnl_status_t status;         /* the first failure, while none was created */
} Choice;

#define CHOICE_INIT { NULL, 0, dnnl_success }

/* Offers candidate @variant: the @status of its *_pd_create() and, on success, its @pd (owned
 * by @c from now on).  Returns TRUE when the search is over: @pd is not a reference kernel. */
gboolean choice_offer (Choice *c, guint variant, dnnl_status_t status, dnnl_primitive_desc_t pd);

void choice_clear (Choice *c);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Choice, choice_clear)

/* Logs "<name>: <kind> <impl>" at debug level; for a reference kernel, also a warning naming
 * the primitive, once per primitive kind and process. */
void impl_report (const char *name, const_dnnl_primitive_desc_t pd, const char *impl);
