/* GstConvNextRunner: where convnextclassify's inferences run — the plugin's only thread and
 * only queue, and its sync / async / QoS decisions.  See gstconvnextrunner.c for the locking
 * rule.
 *
 * A request is one forward call: a batch of preprocessed inputs, pixel_values
 * [n_items, 3, height, width] (NCHW float32, as convnext_preprocessor_process() writes them),
 * with one tag per item saying where the item came from, and after it ran one top-k per item.
 * The caller (the element's streaming thread) acquires a request, preprocesses into it, then
 * either runs it (sync: waits for the result) or submits it (async: returns at once; the
 * request goes to a one-request slot where a newer submission replaces an unstarted older
 * one, and comes back through pop_finished()).  Either way the forward pass runs on the
 * runner's one worker thread, on a ConvNextContext of its own (the model itself is shared
 * and thread-safe), so that context — and oneDNN's OpenMP team, which belongs to the thread
 * that calls it — is only ever used by that thread.  The worker copies nothing from
 * GStreamer and holds no buffer: a request owns its pixel_values.
 *
 *   runner = gst_convnext_runner_new ();                      // element init
 *   gst_convnext_runner_start (runner, model, &params, &error); // start(): spawns the worker
 *   req = gst_convnext_runner_acquire (runner, 1, h, w);
 *   preprocess into req->pixel_values; req->items[0].tag = (GstConvNextTag) { n, pts, dur };
 *   gst_convnext_runner_run (runner, req, &error);            // or _submit (runner, req, &error)
 *   ... req->items[0].classes[0 .. n_classes) ...
 *   gst_convnext_runner_release (runner, req);
 *   gst_convnext_runner_stop (runner);                        // stop(): the worker is joined
 *   gst_convnext_runner_free (runner);                        // element finalize
 *
 * Thread safety: every function may be called from any thread, but a request belongs to one
 * thread at a time: the caller's between acquire and run/submit and after run or pop_finished,
 * the runner's in between.
 */
#pragma once

#include <convnext.h>
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstConvNextRunner GstConvNextRunner;

/**
 * GstConvNextTag: where one item of a request came from; the runner copies it through
 * untouched, so that a result (async: frames later) is matched to what it was computed for.
 * @frame_number: index of the source frame since the element started.
 * @pts: that frame's PTS (GST_CLOCK_TIME_NONE if none).
 * @duration: that frame's duration (GST_CLOCK_TIME_NONE if none).
 * @is_region: FALSE: the whole frame; TRUE: the region below (inference-region=roi-list).
 * @roi_id, @od_id: the region's GstVideoRegionOfInterestMeta / GstAnalyticsODMtd ids on
 *   that frame, or -1.
 * @has_key, @key: its tracking key (gstconvnextregions.h), which matches the result to the
 *   object on later frames.
 * @box: the region, clipped to the frame, in frame pixels.
 */
typedef struct {
  guint64 frame_number;
  GstClockTime pts;
  GstClockTime duration;
  gboolean is_region;
  gint roi_id, od_id;
  gboolean has_key;
  guint64 key;
  ConvNextRect box;
} GstConvNextTag;

/**
 * GstConvNextItem: one input of a request and its result.
 * @tag: set by the caller.
 * @n_classes: set by the runner: min (top_k, num_labels).
 * @classes: [num_labels] room; the runner writes the top @n_classes by descending softmax
 *   score (convnext_model_top_k(); labels borrowed from the model).
 */
typedef struct {
  GstConvNextTag tag;
  guint n_classes;
  ConvNextClass *classes;
} GstConvNextItem;

/**
 * GstConvNextRequest:
 * @n_items: items in the batch, as acquired.
 * @height, @width: pixel_values spatial size, as acquired.
 * @pixel_values: [n_items, 3, height, width] float32, filled by the caller.
 * @items: [n_items].
 * @top_k: how many classes to rank per item (set by the caller).
 * @preprocess_time: ns the caller spent preprocessing; included in @inference_time.
 * @inference_time: set by the runner: @preprocess_time + forward pass + top-k, in ns.
 */
typedef struct {
  guint n_items;
  guint height, width;
  float *pixel_values;
  GstConvNextItem *items;
  guint top_k;
  GstClockTime preprocess_time;
  GstClockTime inference_time;
  /*< private >*/
  gsize capacity;               /* floats in pixel_values */
  guint items_capacity;
  guint generation;             /* of the runner when submitted: a flush makes it stale */
} GstConvNextRequest;

/**
 * GstConvNextQos: what gst_convnext_runner_qos_skip() decided, with the values of the
 * GST_MESSAGE_QOS the element posts when it skips.
 * @jitter: how late the frame is or would be after an inference (> 0 when skipped), ns.
 * @proportion: the latest GST_EVENT_QOS proportion (1.0 before any).
 * @processed: frames whose inference ran since start or the last flush.
 * @dropped: frames whose inference was skipped for QoS since then.
 */
typedef struct {
  GstClockTimeDiff jitter;
  gdouble proportion;
  guint64 processed;
  guint64 dropped;
} GstConvNextQos;

GstConvNextRunner *gst_convnext_runner_new (void);
void gst_convnext_runner_free (GstConvNextRunner *runner);

/* Spawns the worker, running @model on contexts of its own made with @params (NULL: the
 * model's), and resets the QoS state.  n_threads is the size of the worker's OpenMP team;
 * 0 (auto) keeps two teams, all cores and one thread, and runs the one that has been faster
 * lately (see gstconvnextrunner.c).  FALSE with @error set if the thread can't be created. */
gboolean gst_convnext_runner_start (GstConvNextRunner *runner, ConvNextModel *model,
    const ConvNextParams *params, GError **error);

/* Labels for the class ids in the results instead of the model's (a labels-file): the model
 * may be shared by instances with other labels, so they are the runner's, not the model's.
 * @labels: (nullable): num_labels strings, borrowed until the next call or stop; NULL = the
 * model's.  Call while stopped (before start). */
void gst_convnext_runner_set_labels (GstConvNextRunner *runner, const gchar *const *labels);

/* Drops every queued or finished request, waits for the forward pass in progress (if any),
 * joins the worker and frees its context (and so its model reference).  Safe when not
 * started. */
void gst_convnext_runner_stop (GstConvNextRunner *runner);

/* A request for @n_items inputs of @height × @width (recycled when one is free). */
GstConvNextRequest *gst_convnext_runner_acquire (GstConvNextRunner *runner, guint n_items,
    guint height, guint width);
void gst_convnext_runner_release (GstConvNextRunner *runner, GstConvNextRequest *req);

/* Sync: runs @req on the worker and waits for it.  GST_FLOW_OK: the items have their
 * results; GST_FLOW_FLUSHING: a flush (or stop) came first, @req is left unrun;
 * GST_FLOW_ERROR: @error is set.  The caller keeps @req either way. */
GstFlowReturn gst_convnext_runner_run (GstConvNextRunner *runner, GstConvNextRequest *req,
    GError **error);

/* Sync: builds the network for @n_items × @height × @width (the first forward pass of a
 * shape builds its oneDNN primitives) and times two more passes, from hand-over to result:
 * @elapsed is the shorter, in ns.  Not counted as a frame for QoS.  Returns as run(). */
GstFlowReturn gst_convnext_runner_warm_up (GstConvNextRunner *runner, guint n_items,
    guint height, guint width, GstClockTime *elapsed, GError **error);

/* Async: hands @req over and returns at once.  It waits in the slot until the worker is
 * free; a later submission replaces it (and it is recycled) if it has not started by then.
 * GST_FLOW_FLUSHING: flushing, @req recycled; GST_FLOW_ERROR: an earlier async forward
 * pass failed, @error says how (@req recycled). */
GstFlowReturn gst_convnext_runner_submit (GstConvNextRunner *runner, GstConvNextRequest *req,
    GError **error);

/* Async: the oldest finished request, or NULL.  The caller releases it.  At most two are
 * ever waiting when the caller pops before each submit (the one running at that pop and
 * the one it submitted). */
GstConvNextRequest *gst_convnext_runner_pop_finished (GstConvNextRunner *runner);

/* Async, at EOS: waits until the submitted request and the one in progress have finished
 * (at most two forward passes), so that pop_finished() returns the last results.
 * GST_FLOW_FLUSHING if a flush interrupts the wait; GST_FLOW_ERROR with @error. */
GstFlowReturn gst_convnext_runner_drain (GstConvNextRunner *runner, GError **error);

/* FLUSH_START (@flushing TRUE): drops the unstarted request and the finished ones, marks the
 * one in progress stale (its result will be dropped), wakes run() and drain() (they return
 * GST_FLOW_FLUSHING) and refuses run/submit until FLUSH_STOP (@flushing FALSE), which also
 * resets the QoS state.  Never waits for the worker. */
void gst_convnext_runner_set_flushing (GstConvNextRunner *runner, gboolean flushing);

/* QoS (sync mode with qos=true).  qos_event: a GST_EVENT_QOS from downstream.
 * set_latency: the pipeline latency of a GST_EVENT_LATENCY (GST_CLOCK_TIME_NONE: none).
 * qos_skip: for a frame of @running_time arriving at @now (the element's clock time minus
 * its base time, GST_CLOCK_TIME_NONE without a clock): TRUE if its inference should be
 * skipped (@qos filled for the QoS message), FALSE if it should run (count it with
 * run()). */
void gst_convnext_runner_qos_event (GstConvNextRunner *runner, gdouble proportion,
    GstClockTimeDiff diff, GstClockTime timestamp);
void gst_convnext_runner_set_latency (GstConvNextRunner *runner, gboolean live,
    GstClockTime latency);
gboolean gst_convnext_runner_qos_skip (GstConvNextRunner *runner, GstClockTime running_time,
    GstClockTime now, GstConvNextQos *qos);

G_END_DECLS
