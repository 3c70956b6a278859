/* ConvNextCalibrator: the activation ranges of the pointwise layers over sample images, for
 * the int8 precision (int8.h says how they are used).  The f32 network is built with
 * observer steps after each block's layer norm and activation. */
#include "context-private.h"

struct _ConvNextCalibrator {
  ConvNextModel *model;
  ConvNextRanges *ranges;
  ConvNextNetwork *net;         /* for the last input shape */
};

ConvNextCalibrator *
convnext_calibrator_new (ConvNextModel *model)
{
  ConvNextCalibrator *cal;

  g_return_val_if_fail (model != NULL, NULL);
  cal = g_new0 (ConvNextCalibrator, 1);
  cal->model = convnext_model_ref (model);
  cal->ranges = convnext_ranges_new (convnext_model_get_config (model));
  return cal;
}

void
convnext_calibrator_free (ConvNextCalibrator *cal)
{
  if (cal == NULL)
    return;
  g_clear_pointer (&cal->net, convnext_network_free);   /* before the model's backend */
  convnext_ranges_free (cal->ranges);
  convnext_model_unref (cal->model);
  g_free (cal);
}

gboolean
convnext_calibrator_add (ConvNextCalibrator *cal, const float *pixel_values, guint batch,
    guint height, guint width, GError **error)
{
  const ConvNextParams *params;

  g_return_val_if_fail (cal != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  params = convnext_model_get_params (cal->model);
  if (params->precision != CONVNEXT_PRECISION_F32) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT, "calibrating model %s: "
        "load it with precision F32 (the ranges are those of the f32 network)",
        convnext_model_get_name (cal->model));
    return FALSE;
  }
  if (pixel_values == NULL || batch == 0 || height == 0 || width == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "calibrating model %s needs pixel_values and non-zero sizes (got batch %u, %ux%u)",
        convnext_model_get_name (cal->model), batch, width, height);
    return FALSE;
  }
  if (cal->net != NULL && !convnext_network_matches (cal->net, batch, height, width, FALSE))
    g_clear_pointer (&cal->net, convnext_network_free);
  if (cal->net == NULL)
    cal->net = convnext_network_new (convnext_model_get_backend (cal->model), batch, height,
        width, FALSE, params->n_threads, cal->ranges, error);
  if (cal->net == NULL
      || !convnext_network_forward (cal->net, pixel_values, NULL, NULL, NULL, error))
    return FALSE;
  cal->ranges->n_images += batch;
  return TRUE;
}

gboolean
convnext_calibrator_save (ConvNextCalibrator *cal, const char *path, GError **error)
{
  g_return_val_if_fail (cal != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (cal->ranges->n_images == 0) {
    g_set_error (error, CONVNEXT_ERROR, CONVNEXT_ERROR_INVALID_INPUT,
        "no images were added to the calibration of model %s",
        convnext_model_get_name (cal->model));
    return FALSE;
  }
  return convnext_ranges_save (cal->ranges, convnext_model_get_config (cal->model),
      convnext_model_get_name (cal->model), path, error);
}
