/* The "convnext" plugin: convnextclassify (classification) and convnextoverlay (drawing it). */
#include <gst/gst.h>

#include "gstconvnextclassify.h"
#include "gstconvnextoverlay.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (convnextclassify, plugin);
  ret |= GST_ELEMENT_REGISTER (convnextoverlay, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, convnext,
    "ConvNeXt image classification (Hugging Face checkpoints on oneDNN) for video streams",
    plugin_init, VERSION, "LGPL", PACKAGE, "Unknown package origin")
