/* convnextclassify: classifies every video frame with a Hugging Face ConvNeXt checkpoint
 * (libconvnext) and attaches the result as metadata; the pixels pass through untouched. */
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_CONVNEXT_CLASSIFY (gst_convnext_classify_get_type ())
G_DECLARE_FINAL_TYPE (GstConvNextClassify, gst_convnext_classify, GST, CONVNEXT_CLASSIFY,
    GstBaseTransform)

/**
 * GstConvNextPrecision:
 * @GST_CONVNEXT_PRECISION_F32: float32 inference (the default).
 * @GST_CONVNEXT_PRECISION_BF16: bfloat16 weights and activations with f32 accumulation
 *   (needs a CPU with avx512_core_bf16).
 * @GST_CONVNEXT_PRECISION_INT8: int8 pointwise layers (VNNI/AMX where the CPU has them), the
 *   rest in float32; needs the model directory's int8_calibration.json (made with
 *   `convnext-classify --model DIR --calibrate DIR/int8_calibration.json IMAGE…`; the
 *   embedded default model ships one), else the element fails to start.
 */
typedef enum {
  GST_CONVNEXT_PRECISION_F32,
  GST_CONVNEXT_PRECISION_BF16,
  GST_CONVNEXT_PRECISION_INT8,
} GstConvNextPrecision;

#define GST_TYPE_CONVNEXT_PRECISION (gst_convnext_precision_get_type ())
GType gst_convnext_precision_get_type (void);

/**
 * GstConvNextInferenceRegion:
 * @GST_CONVNEXT_INFERENCE_REGION_FULL_FRAME: classify the whole frame (the default).
 * @GST_CONVNEXT_INFERENCE_REGION_ROI_LIST: classify each region a detector attached
 *   (GstVideoRegionOfInterestMeta; GstAnalyticsODMtd on GStreamer >= 1.24).
 */
typedef enum {
  GST_CONVNEXT_INFERENCE_REGION_FULL_FRAME,
  GST_CONVNEXT_INFERENCE_REGION_ROI_LIST,
} GstConvNextInferenceRegion;

#define GST_TYPE_CONVNEXT_INFERENCE_REGION (gst_convnext_inference_region_get_type ())
GType gst_convnext_inference_region_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (convnextclassify);

G_END_DECLS
