/* libconvnext logs with g_log() in the "convnext" domain (libconvnext/convnext.h, "Logging"):
 * debug messages name the oneDNN implementation of each layer, a warning names a layer that only
 * has a reference kernel on this CPU.  Inside a GStreamer application those belong in GST_DEBUG
 * next to the element's own messages, so the plugin installs a GLib log handler for that domain
 * that writes each record into a GstDebugCategory as well.
 *
 * Nothing is swallowed: every record also goes on to g_log_default_handler(), as it would
 * without the plugin (warnings and messages to stderr or the application's log writer,
 * debug/info when G_MESSAGES_DEBUG names the domain).  The library's warnings concern the CPU and
 * oneDNN, once per process and primitive kind, not a model or an element (models are shared
 * between elements, and the handler does not know which element's call logged), so they stay
 * warnings of the process rather than GST_ELEMENT_WARNINGs.  Errors and criticals are left to
 * GLib (not handled here): their fatality rules stay as the application set them.
 *
 * Thread-safety: GLib's log handlers are process-wide and called from whichever thread logs (the
 * inference threads, the streaming threads, the application's): installed once (g_once), from
 * plugin_init(); the handler only reads its category, and GStreamer's logging is thread-safe.
 * A plugin is never unloaded, so the handler stays valid for the life of the process.  An
 * application's own handler for "convnext" set before the plugin loads is shadowed (GLib calls
 * the newest handler of a domain); one set after it takes over. */
#include "gstconvnextlog.h"

#define LIBRARY_LOG_DOMAIN "convnext"

static void
forward (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user_data)
{
  GstDebugCategory *category = user_data;
  GstDebugLevel gst_level = (level & G_LOG_LEVEL_WARNING) ? GST_LEVEL_WARNING
      : (level & G_LOG_LEVEL_DEBUG) ? GST_LEVEL_DEBUG : GST_LEVEL_INFO;

  GST_CAT_LEVEL_LOG (category, gst_level, NULL, "%s", message);
  g_log_default_handler (domain, level, message, NULL);
}

static gpointer
install (gpointer category)
{
  g_log_set_handler (LIBRARY_LOG_DOMAIN, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE
      | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION, forward,
      category);
  return NULL;
}

/**
 * gst_convnext_log_forward_to:
 * @category: where libconvnext's debug (GST_LEVEL_DEBUG), info and message (GST_LEVEL_INFO) and
 *   warning (GST_LEVEL_WARNING) records go; lives as long as the process (a registered category)
 *
 * Installs the "convnext" log handler (above).  The first call's @category is kept; later calls
 * do nothing.  Thread-safe.
 */
void
gst_convnext_log_forward_to (GstDebugCategory *category)
{
  static GOnce once = G_ONCE_INIT;

  g_once (&once, install, category);
}
