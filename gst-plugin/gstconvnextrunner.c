/* GstConvNextRunner: the worker thread that runs convnextclassify's forward passes, the slot
 * that feeds it, and the sync / async / QoS decisions (see gstconvnextrunner.h).
 *
 * Locking rule.  One mutex, runner->lock, guards every field marked "under the lock"; one
 * condition, runner->cond, is broadcast whenever any of them changes.  The worker holds the
 * lock only to take a request and to hand it back, never during a forward pass; the other
 * threads (the element's streaming thread, the application's for flushes and state changes,
 * downstream's for QoS events) hold it only inside the functions of this file.  Nothing is
 * called out of this file with the lock held, and the worker calls nothing but libconvnext:
 * no GStreamer callback, no message, no buffer.  The ConvNextContext (the run state of the
 * shared, thread-safe ConvNextModel) is used by the worker alone.
 *
 * Requests move between the caller and the runner, and are owned by one side at a time:
 *   free --acquire--> caller --run------> sync_req --worker--> running --> caller (done)
 *                            --submit---> slot ----worker--> running --> finished --pop--> caller
 * The slot holds one request: a newer submission replaces an unstarted one (which goes back
 * to the free list), so a slow network always works on the newest frame and nothing queues
 * up.  A sync request goes before the slot.
 *
 * Flushes and stops bump runner->generation.  A request of an older generation is stale: the
 * worker finishes the forward pass it is in (oneDNN can't be interrupted), then recycles it
 * instead of handing it back.  So:
 *   - FLUSH_START: drops the slot and the finished requests, makes the running one stale,
 *     wakes run() and drain(); nothing waits for the worker.
 *   - EOS (drain): waits until the slot and the running request are finished: at most two
 *     forward passes; the element then pops their results.
 *   - stop(): as FLUSH_START, then joins the worker, which waits for the forward pass in
 *     progress, then frees every request.  start() spawns a new worker.
 *   - A caps change needs none of this: a request carries its own shape, and preprocessing
 *     (which depends on the caps) happens on the caller's side before submission.
 */
#include "gstconvnextrunner.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_convnext_runner_debug);
#define GST_CAT_DEFAULT gst_convnext_runner_debug

/* Test-only: this many milliseconds are slept in every forward pass of the worker, to play a
 * slow model in the element tests without loading a CPU (the tests run on shared cores). */
#define TEST_DELAY_ENV "CONVNEXT_TEST_INFERENCE_DELAY_MS"

/* How late a frame may reach a synchronised sink: GstVideoSink's default max-lateness. */
#define LIVE_LATENESS (20 * GST_MSECOND)
/* The time an inference is expected to take is the shortest of the last few (one slow pass
 * under a passing load would otherwise stop inference for good)... */
#define N_TIMES 4
/* ...and after skipping this long (running time), one frame is classified to measure again. */
#define QOS_PROBE_INTERVAL GST_SECOND

/* threads=0 ("auto"): the worker keeps two OpenMP teams of the model, one thread and all
 * cores, runs the one whose recent forward passes were faster and tries the other every
 * TRY_MIN..TRY_MAX passes.  It starts on one thread, which never degrades badly; the first try
 * of all cores comes after TRY_MIN passes, and that pass, which also builds the team's
 * primitives, counts as an upper bound of its time, so that on a loaded machine a slow team
 * costs one pass per try, and the tries back off.  Why (README, "Threads on a shared machine"): GNU OpenMP's threads
 * spin while they wait for each other, and its OMP_WAIT_POLICY / GOMP_SPINCOUNT are read once
 * when libgomp loads, so neither the element nor the library can change them.  With the
 * cores to itself a team of all cores is the fastest; as soon as another process wants a
 * core, its threads spin at every barrier for a descheduled partner and a forward pass
 * takes many times longer than on one thread. */
#define N_TEAMS 2
#define TRY_MIN 32
#define TRY_MAX 512

typedef struct {
  ConvNextContext *ctx;
  guint n_threads;
  GstClockTime average;         /* of its timed forward passes (moving, 1/4), 0 before one */
  guint n_items, height, width; /* its last shape: a new shape's first pass builds primitives */
} Team;

typedef struct {
  GstConvNextRequest public;
  gboolean sync;                /* from run(): its caller waits for it */
  gboolean done;                /* sync: the worker has finished it */
  GError *error;                /* sync: why it failed */
} Request;

struct _GstConvNextRunner {
  GMutex lock;
  GCond cond;

  /* Under the lock. */
  GThread *worker;
  Team teams[N_TEAMS];          /* from start() to stop(); the worker's */
  guint n_teams;
  guint num_labels;
  gboolean stopping;
  gboolean flushing;
  guint generation;
  Request *sync_req;            /* run(): waiting for the worker */
  Request *slot;                /* submit(): waiting for the worker */
  Request *running;             /* in the worker's forward pass */
  GQueue finished;              /* async requests done, oldest first */
  GQueue free;                  /* recycled requests */
  GError *error;                /* of a failed async forward pass, for the next submit/drain */
  guint64 replaced;             /* submissions replaced in the slot before they started */

  /* QoS and timing, under the lock. */
  gdouble proportion;           /* of the latest GST_EVENT_QOS */
  GstClockTime earliest_time;   /* running time before which frames are late downstream */
  gboolean live;
  GstClockTime latency;         /* the pipeline's, from GST_EVENT_LATENCY */
  GstClockTime times[N_TIMES];  /* wall time of the last run()s: preprocessing to result */
  guint n_times;
  GstClockTime last_classified; /* running time of the last frame qos_skip() let through */
  guint64 processed, dropped;

  /* The worker's own. */
  float *logits;                /* [n_items, num_labels] */
  gsize logits_capacity;
  gulong test_delay_us;
  const gchar *const *labels;   /* the instance's labels-file, or NULL (set while stopped) */
  guint best;                   /* the faster team */
  guint since_try, try_every;   /* passes since the other team was last tried, and how often */
};

void
gst_convnext_runner_set_labels (GstConvNextRunner *runner, const gchar *const *labels)
{
  runner->labels = labels;
}

GstConvNextRunner *
gst_convnext_runner_new (void)
{
  GstConvNextRunner *runner = g_new0 (GstConvNextRunner, 1);

  if (g_once_init_enter (&gst_convnext_runner_debug)) {
    GstDebugCategory *cat = NULL;
    GST_DEBUG_CATEGORY_INIT (cat, "convnextrunner", 0, "convnextclassify inference worker");
    g_once_init_leave (&gst_convnext_runner_debug, cat);
  }
  g_mutex_init (&runner->lock);
  g_cond_init (&runner->cond);
  g_queue_init (&runner->finished);
  g_queue_init (&runner->free);
  runner->proportion = 1.0;
  runner->earliest_time = GST_CLOCK_TIME_NONE;
  runner->latency = GST_CLOCK_TIME_NONE;
  return runner;
}

static void
request_free (Request *req)
{
  for (guint i = 0; i < req->public.items_capacity; i++)
    g_free (req->public.items[i].classes);
  g_free (req->public.items);
  g_free (req->public.pixel_values);
  g_clear_error (&req->error);
  g_free (req);
}

void
gst_convnext_runner_free (GstConvNextRunner *runner)
{
  if (runner == NULL)
    return;
  gst_convnext_runner_stop (runner);
  g_mutex_clear (&runner->lock);
  g_cond_clear (&runner->cond);
  g_free (runner);
}

/* Under the lock. */
static void
recycle (GstConvNextRunner *runner, Request *req)
{
  g_clear_error (&req->error);
  req->sync = req->done = FALSE;
  g_queue_push_tail (&runner->free, req);
}

/* ------------------------------------------------------------------------------------------
 * The worker
 * ------------------------------------------------------------------------------------------ */

/* The team for the next forward pass: the first until it is measured, then the faster one,
 * and the other now and then.  Worker thread. */
static Team *
pick_team (GstConvNextRunner *runner)
{
  if (runner->teams[0].average == 0)
    return &runner->teams[0];
  if (runner->n_teams > 1 && ++runner->since_try >= runner->try_every) {
    runner->since_try = 0;
    return &runner->teams[1 - runner->best];
  }
  return &runner->teams[runner->best];
}

/* Records that @team ran a forward pass of @req's shape in @elapsed.  Worker thread. */
static void
time_team (GstConvNextRunner *runner, Team *team, const GstConvNextRequest *req,
    GstClockTime elapsed)
{
  gboolean built = team->n_items == req->n_items && team->height == req->height
      && team->width == req->width;
  guint index = team - runner->teams, was_best = runner->best;

  team->n_items = req->n_items;
  team->height = req->height;
  team->width = req->width;
  if (!built && (index == 0 || team->average != 0))
    return;                     /* this pass built the shape's primitives: not its speed */
  team->average = team->average ? (3 * team->average + elapsed) / 4 : MAX (elapsed, 1);
  if (runner->n_teams < 2 || runner->teams[1].average == 0)
    return;
  runner->best = runner->teams[0].average <= runner->teams[1].average ? 0 : 1;
  if (index != was_best) {
    /* A try: a clear loss makes the next one wait longer, a win resets the wait. */
    if (runner->best != was_best)
      runner->try_every = TRY_MIN;
    else if (team->average > runner->teams[was_best].average * 3 / 2)
      runner->try_every = MIN (runner->try_every * 2, TRY_MAX);
  }
  if (runner->best != was_best)
    GST_INFO ("now on %u thread(s): %.1f ms a pass against %.1f ms on %u",
        runner->teams[runner->best].n_threads, runner->teams[runner->best].average / 1e6,
        runner->teams[was_best].average / 1e6, runner->teams[was_best].n_threads);
}

/* Forward pass and top-k for every item of @req.  Worker thread, without the lock. */
static gboolean
infer (GstConvNextRunner *runner, guint num_labels, Request *r, GError **error)
{
  Team *team = pick_team (runner);
  const ConvNextModel *model = convnext_context_get_model (team->ctx);
  GstConvNextRequest *req = &r->public;
  gint64 start = g_get_monotonic_time ();
  gsize need = (gsize) req->n_items * num_labels;

  if (need > runner->logits_capacity) {
    g_free (runner->logits);
    runner->logits = g_new (float, need);
    runner->logits_capacity = need;
  }
  if (!convnext_context_forward (team->ctx, req->pixel_values, req->n_items, req->height,
          req->width, runner->logits, NULL, error))
    return FALSE;
  time_team (runner, team, req, (g_get_monotonic_time () - start) * GST_USECOND);
  if (runner->test_delay_us > 0)
    g_usleep (runner->test_delay_us);
  for (guint i = 0; i < req->n_items; i++)
    req->items[i].n_classes = convnext_model_top_k (model, runner->logits + (gsize) i * num_labels,
        req->top_k, req->items[i].classes);
  if (runner->labels != NULL)
    for (guint i = 0; i < req->n_items; i++)
      for (guint j = 0; j < req->items[i].n_classes; j++)
        req->items[i].classes[j].label = runner->labels[req->items[i].classes[j].id];
  req->inference_time = req->preprocess_time + (g_get_monotonic_time () - start) * GST_USECOND;
  return TRUE;
}

static gpointer
worker_main (gpointer data)
{
  GstConvNextRunner *runner = data;

  g_mutex_lock (&runner->lock);
  for (;;) {
    Request *req;
    guint num_labels = runner->num_labels;
    g_autoptr (GError) error = NULL;
    gboolean ok;

    while (!runner->stopping && runner->sync_req == NULL && runner->slot == NULL)
      g_cond_wait (&runner->cond, &runner->lock);
    if (runner->stopping)
      break;
    if (runner->sync_req != NULL) {
      req = runner->sync_req;
      runner->sync_req = NULL;
    } else {
      req = runner->slot;
      runner->slot = NULL;
    }
    runner->running = req;
    g_mutex_unlock (&runner->lock);

    ok = infer (runner, num_labels, req, &error);

    g_mutex_lock (&runner->lock);
    runner->running = NULL;
    if (req->public.generation != runner->generation) {
      GST_DEBUG ("dropping the result of frame %" G_GUINT64_FORMAT " (flushed)",
          req->public.items[0].tag.frame_number);
      recycle (runner, req);
    } else if (req->sync) {
      req->done = TRUE;
      req->error = g_steal_pointer (&error);
    } else if (!ok) {
      if (runner->error == NULL)
        runner->error = g_steal_pointer (&error);
      recycle (runner, req);
    } else {
      g_queue_push_tail (&runner->finished, req);
    }
    g_cond_broadcast (&runner->cond);
  }
  g_mutex_unlock (&runner->lock);
  g_free (runner->logits);
  runner->logits = NULL;
  runner->logits_capacity = 0;
  return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Start, stop, flush
 * ------------------------------------------------------------------------------------------ */

static void
reset_qos (GstConvNextRunner *runner)
{
  runner->proportion = 1.0;
  runner->earliest_time = GST_CLOCK_TIME_NONE;
  runner->last_classified = GST_CLOCK_TIME_NONE;
  runner->processed = runner->dropped = 0;
}

/* Under the lock. */
static GstClockTime
expected_time (GstConvNextRunner *runner)
{
  GstClockTime t = runner->n_times > 0 ? runner->times[0] : 0;

  for (guint i = 1; i < MIN (runner->n_times, N_TIMES); i++)
    t = MIN (t, runner->times[i]);
  return t;
}

/* One team of params->n_threads; for 0 (auto), one of one thread and one of all cores. */
static void
start_teams (GstConvNextRunner *runner, ConvNextModel *model, const ConvNextParams *params)
{
  ConvNextParams p;
  guint cores = g_get_num_processors ();

  if (params != NULL)
    p = *params;
  else
    convnext_params_init (&p);
  runner->n_teams = p.n_threads == 0 && cores > 1 ? 2 : 1;
  for (guint i = 0; i < runner->n_teams; i++) {
    Team *team = &runner->teams[i];

    p.n_threads = runner->n_teams == 1 ? p.n_threads : i == 0 ? 1 : cores;
    team->ctx = convnext_context_new (model, &p);
    team->n_threads = p.n_threads ? p.n_threads : cores;
    team->average = 0;
    team->n_items = team->height = team->width = 0;
  }
  runner->best = 0;
  runner->since_try = 0;
  runner->try_every = TRY_MIN;
}

static void
stop_teams (GstConvNextRunner *runner)
{
  for (guint i = 0; i < runner->n_teams; i++)
    g_clear_pointer (&runner->teams[i].ctx, convnext_context_free);
  runner->n_teams = 0;
}

gboolean
gst_convnext_runner_start (GstConvNextRunner *runner, ConvNextModel *model,
    const ConvNextParams *params, GError **error)
{
  const gchar *delay = g_getenv (TEST_DELAY_ENV);

  g_return_val_if_fail (runner->worker == NULL, FALSE);
  g_mutex_lock (&runner->lock);
  start_teams (runner, model, params);
  runner->num_labels = convnext_model_get_num_labels (model);
  runner->stopping = runner->flushing = FALSE;
  runner->generation++;
  runner->n_times = 0;
  runner->replaced = 0;
  reset_qos (runner);
  runner->test_delay_us = delay ? g_ascii_strtoull (delay, NULL, 10) * 1000 : 0;
  g_mutex_unlock (&runner->lock);

  /* The worker reads the teams and the fields above under the lock: no race with its
   * creation. */
  runner->worker = g_thread_try_new ("convnext-infer", worker_main, runner, error);
  if (runner->worker == NULL) {
    g_prefix_error (error, "convnextclassify: no inference thread: ");
    stop_teams (runner);
    return FALSE;
  }
  return TRUE;
}

/* Under the lock: drop what waits, make what runs stale, wake every waiter. */
static void
flush_locked (GstConvNextRunner *runner)
{
  Request *req;

  runner->generation++;
  if (runner->slot != NULL) {
    recycle (runner, runner->slot);
    runner->slot = NULL;
  }
  /* sync_req is recycled by its own run() call, which wakes up with a new generation. */
  while ((req = g_queue_pop_head (&runner->finished)))
    recycle (runner, req);
  g_cond_broadcast (&runner->cond);
}

void
gst_convnext_runner_stop (GstConvNextRunner *runner)
{
  GThread *worker;
  Request *req;

  g_mutex_lock (&runner->lock);
  runner->stopping = TRUE;
  runner->flushing = TRUE;
  flush_locked (runner);
  worker = runner->worker;
  runner->worker = NULL;
  /* A run() caller still waiting must leave before the requests are freed below; it can't:
   * stop() is called once the streaming thread has left the element. */
  g_warn_if_fail (runner->sync_req == NULL);
  g_mutex_unlock (&runner->lock);

  if (worker != NULL)
    g_thread_join (worker);

  g_mutex_lock (&runner->lock);
  if (runner->error != NULL)
    GST_INFO ("stopped with an unreported error: %s", runner->error->message);
  g_clear_error (&runner->error);
  while ((req = g_queue_pop_head (&runner->free)))
    request_free (req);
  if (runner->replaced > 0)
    GST_DEBUG ("%" G_GUINT64_FORMAT " submissions were replaced before they started",
        runner->replaced);
  stop_teams (runner);
  g_mutex_unlock (&runner->lock);
}

void
gst_convnext_runner_set_flushing (GstConvNextRunner *runner, gboolean flushing)
{
  g_mutex_lock (&runner->lock);
  runner->flushing = flushing;
  if (flushing)
    flush_locked (runner);
  else
    reset_qos (runner);
  g_mutex_unlock (&runner->lock);
}

/* ------------------------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------------------------ */

GstConvNextRequest *
gst_convnext_runner_acquire (GstConvNextRunner *runner, guint n_items, guint height,
    guint width)
{
  gsize need = (gsize) n_items * 3 * height * width;
  guint num_labels;
  Request *r;
  GstConvNextRequest *req;

  g_mutex_lock (&runner->lock);
  r = g_queue_pop_head (&runner->free);
  num_labels = runner->num_labels;
  g_mutex_unlock (&runner->lock);
  if (r == NULL)
    r = g_new0 (Request, 1);
  req = &r->public;

  if (need > req->capacity) {
    g_free (req->pixel_values);
    req->pixel_values = g_new (float, need);
    req->capacity = need;
  }
  if (n_items > req->items_capacity) {
    req->items = g_renew (GstConvNextItem, req->items, n_items);
    for (guint i = req->items_capacity; i < n_items; i++)
      req->items[i].classes = g_new (ConvNextClass, MAX (num_labels, 1));
    req->items_capacity = n_items;
  }
  req->n_items = n_items;
  req->height = height;
  req->width = width;
  req->top_k = num_labels;
  req->preprocess_time = req->inference_time = 0;
  for (guint i = 0; i < n_items; i++) {
    req->items[i].tag = (GstConvNextTag) { .pts = GST_CLOCK_TIME_NONE,
      .duration = GST_CLOCK_TIME_NONE, .roi_id = -1, .od_id = -1 };
    req->items[i].n_classes = 0;
  }
  return req;
}

void
gst_convnext_runner_release (GstConvNextRunner *runner, GstConvNextRequest *req)
{
  if (req == NULL)
    return;
  g_mutex_lock (&runner->lock);
  recycle (runner, (Request *) req);
  g_mutex_unlock (&runner->lock);
}

/* run() and warm_up(): hands @req to the worker and waits for it.  A warm-up is not a frame:
 * it is not counted for QoS. */
static GstFlowReturn
run_and_wait (GstConvNextRunner *runner, Request *req, gboolean frame, GError **error)
{
  GstConvNextRequest *public = &req->public;
  gint64 start = g_get_monotonic_time ();

  g_mutex_lock (&runner->lock);
  if (runner->flushing || runner->worker == NULL) {
    recycle (runner, req);
    g_mutex_unlock (&runner->lock);
    return GST_FLOW_FLUSHING;
  }
  req->sync = TRUE;
  req->done = FALSE;
  public->generation = runner->generation;
  runner->sync_req = req;
  g_cond_broadcast (&runner->cond);
  while (!req->done && public->generation == runner->generation)
    g_cond_wait (&runner->cond, &runner->lock);

  if (!req->done) {
    /* Flushed: if the worker has it, the worker recycles it (it is stale now). */
    if (runner->sync_req == req) {
      runner->sync_req = NULL;
      recycle (runner, req);
    }
    g_mutex_unlock (&runner->lock);
    return GST_FLOW_FLUSHING;
  }
  if (req->error != NULL) {
    g_propagate_error (error, g_steal_pointer (&req->error));
    recycle (runner, req);
    g_mutex_unlock (&runner->lock);
    return GST_FLOW_ERROR;
  }
  if (frame)
    runner->processed++;
  runner->times[runner->n_times++ % N_TIMES] = public->preprocess_time
      + (g_get_monotonic_time () - start) * GST_USECOND;
  g_mutex_unlock (&runner->lock);
  return GST_FLOW_OK;
}

GstFlowReturn
gst_convnext_runner_run (GstConvNextRunner *runner, GstConvNextRequest *req, GError **error)
{
  return run_and_wait (runner, (Request *) req, TRUE, error);
}

GstFlowReturn
gst_convnext_runner_warm_up (GstConvNextRunner *runner, guint n_items, guint height,
    guint width, GstClockTime *elapsed, GError **error)
{
  GstConvNextRequest *req = gst_convnext_runner_acquire (runner, n_items, height, width);
  GstFlowReturn ret;

  memset (req->pixel_values, 0, sizeof (float) * n_items * 3 * height * width);
  /* A pass that builds the primitives, then two timed ones: the shorter keeps a busy
   * machine's late hand-over out of it.  (With threads=0 these run on the one-thread team:
   * pick_team().) */
  *elapsed = GST_CLOCK_TIME_NONE;
  for (guint i = 0; i < 3; i++) {
    gint64 start = g_get_monotonic_time ();

    ret = run_and_wait (runner, (Request *) req, FALSE, error);
    if (ret != GST_FLOW_OK)
      return ret;
    *elapsed = MIN (*elapsed, (GstClockTime) (g_get_monotonic_time () - start) * GST_USECOND);
  }
  gst_convnext_runner_release (runner, req);
  return GST_FLOW_OK;
}

/* Under the lock: the pending async error, if any, for the caller. */
static gboolean
take_error (GstConvNextRunner *runner, GError **error)
{
  if (runner->error == NULL)
    return FALSE;
  g_propagate_error (error, g_steal_pointer (&runner->error));
  return TRUE;
}

GstFlowReturn
gst_convnext_runner_submit (GstConvNextRunner *runner, GstConvNextRequest *public,
    GError **error)
{
  Request *req = (Request *) public;
  GstFlowReturn ret = GST_FLOW_OK;

  g_mutex_lock (&runner->lock);
  if (take_error (runner, error)) {
    recycle (runner, req);
    ret = GST_FLOW_ERROR;
  } else if (runner->flushing || runner->worker == NULL) {
    recycle (runner, req);
    ret = GST_FLOW_FLUSHING;
  } else {
    if (runner->slot != NULL) {
      GST_LOG ("frame %" G_GUINT64_FORMAT " replaces frame %" G_GUINT64_FORMAT " in the slot",
          public->items[0].tag.frame_number, runner->slot->public.items[0].tag.frame_number);
      recycle (runner, runner->slot);
      runner->replaced++;
    }
    req->sync = FALSE;
    public->generation = runner->generation;
    runner->slot = req;
    g_cond_broadcast (&runner->cond);
  }
  g_mutex_unlock (&runner->lock);
  return ret;
}

GstConvNextRequest *
gst_convnext_runner_pop_finished (GstConvNextRunner *runner)
{
  Request *req;

  g_mutex_lock (&runner->lock);
  req = g_queue_pop_head (&runner->finished);
  g_mutex_unlock (&runner->lock);
  return req ? &req->public : NULL;
}

GstFlowReturn
gst_convnext_runner_drain (GstConvNextRunner *runner, GError **error)
{
  GstFlowReturn ret = GST_FLOW_OK;
  guint generation;

  g_mutex_lock (&runner->lock);
  generation = runner->generation;
  while (generation == runner->generation && (runner->slot != NULL
          || (runner->running != NULL && !runner->running->sync)))
    g_cond_wait (&runner->cond, &runner->lock);
  if (generation != runner->generation)
    ret = GST_FLOW_FLUSHING;
  else if (take_error (runner, error))
    ret = GST_FLOW_ERROR;
  g_mutex_unlock (&runner->lock);
  return ret;
}

/* ------------------------------------------------------------------------------------------
 * QoS
 * ------------------------------------------------------------------------------------------ */

void
gst_convnext_runner_qos_event (GstConvNextRunner *runner, gdouble proportion,
    GstClockTimeDiff diff, GstClockTime timestamp)
{
  g_mutex_lock (&runner->lock);
  runner->proportion = proportion;
  /* As GstBaseTransform: frames before timestamp + diff are late downstream. */
  if (GST_CLOCK_TIME_IS_VALID (timestamp))
    runner->earliest_time = diff < 0 && (GstClockTime) -diff > timestamp ? 0 : timestamp + diff;
  g_mutex_unlock (&runner->lock);
}

void
gst_convnext_runner_set_latency (GstConvNextRunner *runner, gboolean live, GstClockTime latency)
{
  g_mutex_lock (&runner->lock);
  runner->live = live;
  runner->latency = latency;
  g_mutex_unlock (&runner->lock);
}

gboolean
gst_convnext_runner_qos_skip (GstConvNextRunner *runner, GstClockTime running_time,
    GstClockTime now, GstConvNextQos *qos)
{
  GstClockTimeDiff jitter = G_MININT64;
  gboolean skip = FALSE;

  if (!GST_CLOCK_TIME_IS_VALID (running_time))
    return FALSE;
  g_mutex_lock (&runner->lock);
  /* Downstream said so: a frame before the earliest time is late there (GST_EVENT_QOS). */
  if (GST_CLOCK_TIME_IS_VALID (runner->earliest_time) && running_time <= runner->earliest_time) {
    jitter = GST_CLOCK_DIFF (running_time, runner->earliest_time);
    skip = TRUE;
  }
  /* Our own clock says so: in a live pipeline the sinks render a frame at its running time
   * plus the pipeline latency; after one more inference it would arrive later than a video
   * sink tolerates.  (Sinks without qos=true, like fakesink by default, send no QoS events.
   * And without a queue between the classifier and a synchronised sink, the sink holds the
   * streaming thread until each frame's time, so frames reach the classifier only one frame
   * period before theirs, whatever the latency.) */
  if (runner->live && GST_CLOCK_TIME_IS_VALID (runner->latency) && GST_CLOCK_TIME_IS_VALID (now)
      && now + expected_time (runner) > running_time + runner->latency + LIVE_LATENESS) {
    jitter = MAX (jitter, GST_CLOCK_DIFF (running_time + runner->latency,
            now + expected_time (runner)));
    skip = TRUE;
  }
  /* Measure again now and then: the machine may have become faster. */
  if (skip && GST_CLOCK_TIME_IS_VALID (runner->last_classified)
      && running_time >= runner->last_classified + QOS_PROBE_INTERVAL)
    skip = FALSE;
  if (!skip)
    runner->last_classified = running_time;
  if (skip) {
    runner->dropped++;
    qos->jitter = jitter;
    qos->proportion = runner->proportion;
    qos->processed = runner->processed;
    qos->dropped = runner->dropped;
  }
  g_mutex_unlock (&runner->lock);
  return skip;
}
