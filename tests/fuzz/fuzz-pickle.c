/* libFuzzer target: the safe-subset unpickler (convnext_pickle_load) on raw data.pkl streams,
 * then a walk over the value tree it returns. */
#include "fuzz.h"

#include "pickle.h"

/* Every node reachable, with the depth it claims. */
static guint
walk (const ConvNextPickleValue *v)
{
  guint deepest = 0;

  if (v == NULL)
    abort ();
  if (v->kind == CONVNEXT_PICKLE_STRING && (v->s == NULL || !g_utf8_validate (v->s, -1, NULL)))
    abort ();
  for (guint i = 0; i < v->n_items; i++) {
    guint d = walk (v->items[i]);       /* not inside MAX (), which would walk twice */
    deepest = MAX (deepest, d);
  }
  if (v->depth != deepest + 1)
    abort ();
  return v->depth;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConvNextPickle) pickle = convnext_pickle_load (data, size, "data.pkl", &error);

  fuzz_check (pickle != NULL, error);
  if (pickle != NULL)
    walk (convnext_pickle_get_root (pickle));
  return 0;
}
