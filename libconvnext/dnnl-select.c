/* Which oneDNN implementation each primitive gets: see dnnl-select.h. */
#include "dnnl-select.h"

#include <oneapi/dnnl/dnnl_debug.h>
#include <string.h>

const char *
impl_name (const_dnnl_primitive_desc_t pd)
{
  const char *impl = NULL;

  if (dnnl_primitive_desc_query (pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success
      || impl == NULL)
    return "unknown";
  return impl;
}

gboolean
impl_is_reference (const char *impl)
{
  return g_str_has_prefix (impl, "ref");
}

gboolean
choice_offer (Choice *c, guint variant, dnnl_status_t status, dnnl_primitive_desc_t pd)
{
  if (status != dnnl_success) {
    if (c->pd == NULL && c->status == dnnl_success)
      c->status = status;
    return FALSE;
  }
  if (c->pd != NULL && impl_is_reference (impl_name (pd))) {
    dnnl_primitive_desc_destroy (pd);   /* no better than the first one */
    return FALSE;
  }
  if (c->pd != NULL)
    dnnl_primitive_desc_destroy (c->pd);
  c->pd = pd;
  c->variant = variant;
  return !impl_is_reference (impl_name (pd));
}

void
choice_clear (Choice *c)
{
  g_clear_pointer (&c->pd, dnnl_primitive_desc_destroy);
}

void
impl_report (const char *name, const_dnnl_primitive_desc_t pd, const char *impl)
{
  static GMutex lock;
  static GHashTable *warned;    /* primitive kinds warned about (static strings) */
  dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
  const char *kind_str;
  gboolean first;

  dnnl_primitive_desc_query (pd, dnnl_query_primitive_kind, 0, &kind);
  kind_str = dnnl_prim_kind2str (kind);
  g_debug ("%s: %s %s", name, kind_str, impl);
  if (!impl_is_reference (impl))
    return;

  g_mutex_lock (&lock);
  if (warned == NULL)
    warned = g_hash_table_new (g_str_hash, g_str_equal);
  first = g_hash_table_add (warned, (gpointer) kind_str);
  g_mutex_unlock (&lock);
  if (first)
    g_warning ("oneDNN %d.%d has only its reference implementation (%s) of %s for %s on this CPU "
        "(%s): expect it to run 100x slower than optimised kernels (other %s layers that do "
        "the same are not reported)", dnnl_version ()->major, dnnl_version ()->minor, impl,
        kind_str, name, dnnl_cpu_isa2str (dnnl_get_effective_cpu_isa ()), kind_str);
}
