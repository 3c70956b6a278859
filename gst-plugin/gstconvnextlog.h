/* libconvnext's log records in GST_DEBUG (gstconvnextlog.c). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

void gst_convnext_log_forward_to (GstDebugCategory *category);

G_END_DECLS
