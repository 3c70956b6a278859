/* Several threads running one shared ConvNextModel: each thread has its own ConvNextContext
 * and runs the tiny-f32 fixture cases (three input shapes, so that networks, and the model's
 * packed-weights cache, are built concurrently) several times, in a different order per
 * thread.  Every result must match the PyTorch reference within the parity bar; so must
 * convnext_model_forward() called from all threads at once (serialised on the model's own
 * context).  The model's last reference may be dropped while contexts still run it.
 *
 * Run it once under -Db_sanitize=thread to look for races:
 *   meson setup build-tsan -Db_sanitize=thread && meson test -C build-tsan test-concurrency */
#include "convnext.h"
#include "fixtures.h"

#define N_THREADS 4
#define N_ROUNDS 3
#define MODEL "tiny-f32"

typedef struct {
  const char *name;
  NpyArray input, logits, pooled;
} Case;

typedef struct {
  ConvNextModel *model;         /* when the worker calls convnext_model_forward()… */
  ConvNextContext *ctx;         /* …or its own context (owned) */
  Case *cases;
  guint n_cases;
  guint index;                  /* the thread's number: its case order */
  GString *failures;            /* filled by the thread, checked by the main thread */
} Worker;

static guint
load_cases (Case **out)
{
  JsonArray *cases = fixtures_cases ();
  GArray *found = g_array_new (FALSE, TRUE, sizeof (Case));

  for (guint i = 0; i < json_array_get_length (cases); i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    Case k = { .name = json_object_get_string_member (c, "name") };
    if (!g_str_equal (json_object_get_string_member (c, "model"), MODEL))
      continue;
    fixtures_load_npy (json_object_get_string_member (c, "input"), &k.input);
    fixtures_load_npy (json_object_get_string_member (c, "logits"), &k.logits);
    fixtures_load_npy (json_object_get_string_member (c, "pooler_output"), &k.pooled);
    g_array_append_val (found, k);
  }
  guint n = found->len;

  g_assert_cmpuint (n, >=, 3);
  *out = (Case *) g_array_free (found, FALSE);
  return n;
}

static gboolean
close_enough (const float *got, const NpyArray *ref)
{
  return max_abs_diff (got, ref->data, ref->n_elements)
      <= PARITY_REL_TOL * MAX (1.0, max_abs (ref->data, ref->n_elements));
}

static gpointer
run_worker (gpointer data)
{
  Worker *w = data;
  g_autoptr (ConvNextContext) ctx = g_steal_pointer (&w->ctx);

  for (guint r = 0; r < N_ROUNDS; r++) {
    for (guint j = 0; j < w->n_cases; j++) {
      const Case *c = &w->cases[(j + w->index + r) % w->n_cases];
      g_autofree float *logits = g_new0 (float, c->logits.n_elements);
      g_autofree float *pooled = g_new0 (float, c->pooled.n_elements);
      g_autoptr (GError) error = NULL;
      guint n = c->input.shape[0], h = c->input.shape[2], wd = c->input.shape[3];
      gboolean ok = ctx != NULL
          ? convnext_context_forward (ctx, c->input.data, n, h, wd, logits, pooled, &error)
          : convnext_model_forward (w->model, c->input.data, n, h, wd, logits, pooled, &error);

      if (!ok)
        g_string_append_printf (w->failures, "thread %u, %s: %s\n", w->index, c->name,
            error->message);
      else if (!close_enough (logits, &c->logits) || !close_enough (pooled, &c->pooled))
        g_string_append_printf (w->failures, "thread %u, %s: differs from the reference\n",
            w->index, c->name);
    }
  }
  return NULL;
}

/* N_THREADS threads on one model; @drop_model_early drops the caller's reference as soon as
 * the contexts exist (they keep the model alive). */
static void
run_threads (gboolean use_model_forward, gboolean drop_model_early)
{
  g_autofree char *dir = fixtures_model_dir (MODEL);
  g_autoptr (GError) error = NULL;
  Case *cases = NULL;
  guint n_cases = load_cases (&cases);
  ConvNextModel *model = convnext_model_new (dir, NULL, &error);
  Worker workers[N_THREADS];
  GThread *threads[N_THREADS];
  ConvNextParams params;

  g_assert_no_error (error);
  convnext_params_init (&params);
  params.n_threads = 1;
  for (guint i = 0; i < N_THREADS; i++) {
    workers[i] = (Worker) { use_model_forward ? model : NULL, NULL, cases, n_cases, i, g_string_new (NULL) };
    if (!use_model_forward)
      workers[i].ctx = convnext_context_new (model, &params);
  }
  if (drop_model_early)
    g_clear_pointer (&model, convnext_model_unref);
  for (guint i = 0; i < N_THREADS; i++) {
    threads[i] = g_thread_new ("forward", run_worker, &workers[i]);
  }
  for (guint i = 0; i < N_THREADS; i++) {
    g_thread_join (threads[i]);
    if (workers[i].failures->len > 0)
      g_test_fail_printf ("%s", workers[i].failures->str);
    g_string_free (workers[i].failures, TRUE);
  }
  convnext_model_unref (model);
  for (guint i = 0; i < n_cases; i++) {
    npy_clear (&cases[i].input);
    npy_clear (&cases[i].logits);
    npy_clear (&cases[i].pooled);
  }
  g_free (cases);
}

static void
test_contexts (void)
{
  run_threads (FALSE, FALSE);
}

static void
test_contexts_outlive_model (void)
{
  run_threads (FALSE, TRUE);
}

static void
test_model_forward_serialised (void)
{
  run_threads (TRUE, FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/concurrency/contexts", test_contexts);
  g_test_add_func ("/concurrency/contexts-outlive-model", test_contexts_outlive_model);
  g_test_add_func ("/concurrency/model-forward-serialised", test_model_forward_serialised);
  return g_test_run ();
}
