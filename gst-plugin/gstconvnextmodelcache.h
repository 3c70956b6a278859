/* convnextclassify: one loaded ConvNextModel per checkpoint and precision in the process. */
#pragma once

#include <convnext.h>

G_BEGIN_DECLS

/*
 * The model cache: instances that load the same checkpoint with the same precision share one
 * ConvNextModel (weights, labels from config.json, packed oneDNN weights), each with its own
 * ConvNextContext (activations).
 *
 * Key: the canonical (symlink-resolved) directory, the precision, the int8 calibration file,
 * output_hidden_states, and the identity of every regular file in the directory (name,
 * device, inode, size, mtime to the microsecond, read with GFileInfo): a checkpoint rewritten
 * or replaced on disk gives a new key, so a later start loads it afresh instead of being
 * served the old weights (instances still running keep theirs until they stop).
 *
 * Weak: the cache counts the instances holding each entry; the last
 * gst_convnext_model_cache_release() removes the entry and drops the cache's reference, so
 * the model is freed once the last context using it is freed too.
 *
 * Locking rule: one process-wide GMutex guards the table and every entry's user count.  A
 * lookup that finds an entry and the release that would remove it both run under it, so a
 * lookup never returns an entry whose last user is leaving.  The checkpoint is loaded
 * without the lock (other keys are not held up by a slow load); when two instances load the
 * same key at once, the first to insert wins and the other frees its copy.
 * All functions are thread-safe.
 */

/**
 * gst_convnext_model_cache_acquire:
 * @model_dir: a checkpoint directory.
 * @params: passed to convnext_model_new() on a miss; n_threads is not part of the key (each
 *   caller runs its own ConvNextContext with its own thread count).
 * @shared: FALSE = a private model, never put into nor taken from the cache.
 * Returns: (transfer full): the model, to give back with gst_convnext_model_cache_release();
 *   NULL with @error set as convnext_model_new() sets it, or a G_IO_ERROR when the
 *   directory can't be listed.
 */
ConvNextModel *gst_convnext_model_cache_acquire (const gchar *model_dir,
    const ConvNextParams *params, gboolean shared, GError **error);

/** gst_convnext_model_cache_release: gives back what acquire returned; NULL is allowed. */
void gst_convnext_model_cache_release (ConvNextModel *model);

/** gst_convnext_model_cache_get_size: the number of cached models (for the tests). */
guint gst_convnext_model_cache_get_size (void);

G_END_DECLS
