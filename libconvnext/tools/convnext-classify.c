/* convnext-classify: run a Hugging Face ConvNeXt checkpoint on images or on a pixel_values
 * tensor, and print one JSON object per line and input:
 *
 *   {"input": "cat.jpg", "top": [{"id": 3, "label": "cat", "score": 0.93}, …],
 *    "logits": […], "pooler_output": […]}          (the last two with --logits)
 *
 * The model directory holds config.json, preprocessor_config.json and the weights: the first
 * of model.safetensors, model.safetensors.index.json, pytorch_model.bin (read natively, no
 * Python) and pytorch_model.bin.index.json, as transformers picks them.
 *
 * Images are decoded as transformers users decode them with PIL: gdk-pixbuf drives the same
 * libjpeg/libpng to RGB (bit-identical on the CIFAR-10 JPEGs; GStreamer 1.22's jpegdec only
 * outputs YUV for them, and videoconvert's chroma upsampling differs from libjpeg's by up to 9
 * levels).  Files gdk-pixbuf cannot read go through GStreamer (uridecodebin ! videoconvert !
 * RGB appsink: its first video frame).  Then libconvnext preprocesses as
 * ConvNextImageProcessor would.  A backbone checkpoint (ConvNextBackbone,
 * ConvNextV2Backbone) prints its feature maps' shapes instead of classes:
 *
 *   {"input": "cat.jpg", "feature_maps": [{"stage": "stage2", "shape": [192, 28, 28]}, …]}
 *
 * and --features FILE.npy writes them (see --help).  --repeat N times the
 * forward pass instead and prints one JSON line with median/min/max milliseconds; with
 * --end-to-end it times the whole path of one image, from its file to its top-k classes
 * (what one call of transformers' pipeline("image-classification") does).
 * --calibrate FILE measures the activation ranges that --precision int8 needs on the images
 * (or the tensor) instead, and writes them to FILE (by default the model directory's
 * int8_calibration.json is where --precision int8 looks).
 * Any error: a one-line message on stderr and exit status 1.  An image that cannot be read
 * or decoded is reported that way and skipped; the others are still classified.
 *
 * NaN and infinity never reach the output (JSON has no such numbers): a tensor holding any
 * is refused, naming the file and the element; a checkpoint holding any fails to load,
 * naming the tensor; an input on which the network overflows float32 is named on stderr
 * and gets no line; the exit status is then 1. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convnext.h"
#include "npy.h"

/* How long a single image may take to decode before we give up. */
#define DECODE_TIMEOUT (30 * GST_SECOND)
/* Images of the same size classified in one forward call. */
#define MAX_BATCH 16

static char *opt_model = NULL;
static int opt_top_k = 5;
static int opt_threads = 0;
static char *opt_precision = NULL;
static gboolean opt_logits = FALSE;
static char *opt_input_tensor = NULL;
static char *opt_dump = NULL;
static char *opt_features = NULL;
static int opt_repeat = 0;
static gboolean opt_end_to_end = FALSE;
static char *opt_calibrate = NULL;
static char *opt_calibration = NULL;
static char **opt_images = NULL;

static GOptionEntry entries[] = {
  { "model", 'm', 0, G_OPTION_ARG_FILENAME, &opt_model,
    "Hugging Face checkpoint directory: config.json, preprocessor_config.json and model.safetensors "
    "or pytorch_model.bin (or their sharded *.index.json); default: the embedded CIFAR-10 model",
    "DIR" },
  { "top-k", 'k', 0, G_OPTION_ARG_INT, &opt_top_k, "Classes to print per input (default 5)", "K" },
  { "threads", 't', 0, G_OPTION_ARG_INT, &opt_threads, "Inference threads, 0 = all cores (default)",
    "N" },
  { "precision", 'p', 0, G_OPTION_ARG_STRING, &opt_precision,
    "f32 (default), bf16 (needs avx512_core_bf16) or int8 (needs a calibration file, see "
    "--calibrate)", "f32|bf16|int8" },
  { "calibrate", 0, 0, G_OPTION_ARG_FILENAME, &opt_calibrate,
    "Measure the activation ranges for --precision int8 on the images (a few hundred like those "
    "the model will see) and write them to FILE, e.g. DIR/int8_calibration.json", "FILE" },
  { "calibration", 0, 0, G_OPTION_ARG_FILENAME, &opt_calibration,
    "The calibration file for --precision int8 (default: int8_calibration.json in the model "
    "directory)", "FILE" },
  { "logits", 'l', 0, G_OPTION_ARG_NONE, &opt_logits, "Also print logits and pooler_output", NULL },
  { "input-tensor", 'i', 0, G_OPTION_ARG_FILENAME, &opt_input_tensor,
    "float32 pixel_values [N, C, H, W] (.npy) instead of images", "FILE.npy" },
  { "dump-pixel-values", 'd', 0, G_OPTION_ARG_FILENAME, &opt_dump,
    "Write the preprocessed pixel_values [N, 3, H, W] of the images to a .npy file", "FILE.npy" },
  { "features", 'f', 0, G_OPTION_ARG_FILENAME, &opt_features,
    "Backbone checkpoints: write the feature maps of all inputs (one batch) as float32 "
    ".npy [N, C, H, W] (NCHW, C order): to FILE.npy when one stage is selected, else to "
    "FILE-<stage>.npy for each (stem, stage1...)", "FILE.npy" },
  { "repeat", 'r', 0, G_OPTION_ARG_INT, &opt_repeat,
    "Time the forward pass: one warm-up, then N runs; print median/min/max ms", "N" },
  { "end-to-end", 'e', 0, G_OPTION_ARG_NONE, &opt_end_to_end,
    "With --repeat and one image: time decode + preprocess + forward + top-k of the image", NULL },
  { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_images, NULL, "[IMAGE…]" },
  { NULL }
};

/* One forward's worth of input: a decoded image (n = 1) or the whole --input-tensor. */
typedef struct {
  char *name;
  gboolean is_tensor;
  guint n, c, h, w;
  float *pixel_values;          /* [n, c, h, w] */
} Input;

static void
input_free (gpointer p)
{
  Input *in = p;

  g_free (in->name);
  g_free (in->pixel_values);
  g_free (in);
}

static gboolean
load_tensor (const char *path, guint num_channels, GPtrArray *inputs, GError **error)
{
  NpyArray array;
  Input *in;

  if (!npy_load (path, &array, error))
    return FALSE;
  if (array.n_dims != 4 || array.shape[1] != num_channels || array.n_elements == 0
      || array.shape[0] > G_MAXUINT || array.shape[2] > G_MAXUINT || array.shape[3] > G_MAXUINT) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s: expected pixel_values of shape [N, %u, H, W] with N, H, W > 0", path, num_channels);
    npy_clear (&array);
    return FALSE;
  }
  in = g_new0 (Input, 1);
  in->name = g_strdup (path);
  in->is_tensor = TRUE;
  in->n = array.shape[0];
  in->c = array.shape[1];
  in->h = array.shape[2];
  in->w = array.shape[3];
  in->pixel_values = g_steal_pointer (&array.data);
  g_ptr_array_add (inputs, in);
  return TRUE;
}

/* One decoding pipeline, reused for every image: uridecodebin ! videoconvert ! appsink
 * with caps video/x-raw,format=RGB. */
typedef struct {
  GstElement *pipeline;
  GstElement *src;
  GstElement *sink;
  GstBus *bus;
} Decoder;

/* uridecodebin exposes its pads as it finds streams: link the first video one. */
static void
on_pad_added (GstElement *src, GstPad *pad, GstElement *convert)
{
  g_autoptr (GstPad) sink_pad = gst_element_get_static_pad (convert, "sink");
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const GstStructure *s;

  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  s = gst_caps_is_empty (caps) ? NULL : gst_caps_get_structure (caps, 0);
  if (s != NULL && g_str_has_prefix (gst_structure_get_name (s), "video/")
      && !gst_pad_is_linked (sink_pad))
    gst_pad_link (pad, sink_pad);
}

static void
decoder_clear (Decoder *dec)
{
  if (dec->pipeline != NULL)
    gst_element_set_state (dec->pipeline, GST_STATE_NULL);
  g_clear_object (&dec->bus);
  g_clear_object (&dec->pipeline);
}

static gboolean
decoder_init (Decoder *dec, GError **error)
{
  GstElement *convert = gst_element_factory_make ("videoconvert", NULL);
  g_autoptr (GstCaps) rgb = gst_caps_from_string ("video/x-raw,format=RGB");

  dec->src = gst_element_factory_make ("uridecodebin", NULL);
  dec->sink = gst_element_factory_make ("appsink", NULL);
  if (dec->src == NULL || convert == NULL || dec->sink == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "cannot decode images: GStreamer "
        "elements uridecodebin, videoconvert or appsink are missing");
    gst_clear_object (&dec->src);
    gst_clear_object (&convert);
    gst_clear_object (&dec->sink);
    return FALSE;
  }
  g_object_set (dec->sink, "caps", rgb, "sync", FALSE, "max-buffers", 1, NULL);
  dec->pipeline = gst_pipeline_new (NULL);
  gst_bin_add_many (GST_BIN (dec->pipeline), dec->src, convert, dec->sink, NULL);
  gst_element_link (convert, dec->sink);
  g_signal_connect (dec->src, "pad-added", G_CALLBACK (on_pad_added), convert);
  dec->bus = gst_element_get_bus (dec->pipeline);
  return TRUE;
}

/* The first video frame of @path as RGB. */
static GstSample *
decode_image (Decoder *dec, const char *path, GError **error)
{
  g_autofree char *uri = NULL;
  GstSample *sample = NULL;
  GstClockTime waited = 0;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    gboolean exists = g_file_test (path, G_FILE_TEST_EXISTS);
    g_set_error (error, G_FILE_ERROR, exists ? G_FILE_ERROR_INVAL : G_FILE_ERROR_NOENT,
        "cannot read %s: %s", path, exists ? "not a regular file" : "no such file");
    return NULL;
  }
  uri = gst_filename_to_uri (path, error);
  if (uri == NULL)
    return NULL;
  g_object_set (dec->src, "uri", uri, NULL);
  gst_element_set_state (dec->pipeline, GST_STATE_PLAYING);

  while (sample == NULL) {
    g_autoptr (GstMessage) msg = NULL;

    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (dec->sink), 20 * GST_MSECOND);
    if (sample != NULL)
      break;
    msg = gst_bus_pop_filtered (dec->bus, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
    if (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) gst_error = NULL;
      gst_message_parse_error (msg, &gst_error, NULL);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot decode %s: %s", path,
          gst_error->message);
      break;
    }
    if (msg != NULL || (waited += 20 * GST_MSECOND) >= DECODE_TIMEOUT) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot decode %s: %s", path,
          msg != NULL ? "no video frame in it" : "timed out");
      break;
    }
  }
  /* back to NULL for the next image; what this one left on the bus goes too */
  gst_element_set_state (dec->pipeline, GST_STATE_NULL);
  gst_bus_set_flushing (dec->bus, TRUE);
  gst_bus_set_flushing (dec->bus, FALSE);
  return sample;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Decoder, decoder_clear)

/* Preprocesses @image (decoded from @path) and appends it to @inputs. */
static gboolean
add_image (const char *path, const ConvNextImage *image, ConvNextPreprocessor *pre,
    GPtrArray *inputs, GError **error)
{
  Input *in = g_new0 (Input, 1);

  in->name = g_strdup (path);
  in->n = 1;
  in->c = 3;
  convnext_preprocessor_get_output_size (pre, image->width, image->height, &in->w, &in->h);
  in->pixel_values = g_new (float, (gsize) 3 * in->h * in->w);
  if (!convnext_preprocessor_process (pre, image, NULL, in->pixel_values, error)) {
    input_free (in);
    return FALSE;
  }
  g_ptr_array_add (inputs, in);
  return TRUE;
}

static gboolean
load_image (Decoder *dec, const char *path, ConvNextPreprocessor *pre, GPtrArray *inputs,
    GError **error)
{
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new_from_file (path, NULL);
  g_autoptr (GstSample) sample = NULL;
  GstVideoInfo info;
  GstVideoFrame frame;
  ConvNextImage image;
  gboolean ok;

  /* 8-bit RGB or RGBA (alpha dropped, as PIL's convert ("RGB") does); gray files come as RGB. */
  if (pixbuf != NULL && gdk_pixbuf_get_bits_per_sample (pixbuf) == 8) {
    image = (ConvNextImage) {
      .format = gdk_pixbuf_get_has_alpha (pixbuf) ? CONVNEXT_PIXEL_FORMAT_RGBA
          : CONVNEXT_PIXEL_FORMAT_RGB,
      .width = gdk_pixbuf_get_width (pixbuf),
      .height = gdk_pixbuf_get_height (pixbuf),
      .data = { gdk_pixbuf_read_pixels (pixbuf) },
      .stride = { gdk_pixbuf_get_rowstride (pixbuf) },
    };
    return add_image (path, &image, pre, inputs, error);
  }

  sample = decode_image (dec, path, error);
  if (sample == NULL)
    return FALSE;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample))
      || !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot map the decoded frame of %s", path);
    return FALSE;
  }
  image = (ConvNextImage) {
    .format = CONVNEXT_PIXEL_FORMAT_RGB,
    .width = GST_VIDEO_FRAME_WIDTH (&frame),
    .height = GST_VIDEO_FRAME_HEIGHT (&frame),
    .data = { GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) },
    .stride = { GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0) },
  };
  ok = add_image (path, &image, pre, inputs, error);
  gst_video_frame_unmap (&frame);
  return ok;
}

/* All inputs as one [N, C, H, W] batch; they must share C, H and W. */
static float *
concat_inputs (GPtrArray *inputs, guint *n, GError **error)
{
  const Input *first = inputs->pdata[0];
  gsize item = (gsize) first->c * first->h * first->w;
  float *all;

  *n = 0;
  for (guint i = 0; i < inputs->len; i++) {
    const Input *in = inputs->pdata[i];
    if (in->c != first->c || in->h != first->h || in->w != first->w) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "%s gives %ux%u pixel_values but %s gives %ux%u: cannot make one batch", in->name,
          in->w, in->h, first->name, first->w, first->h);
      return NULL;
    }
    *n += in->n;
  }
  all = g_new (float, *n * item);
  for (guint i = 0, at = 0; i < inputs->len; i++) {
    const Input *in = inputs->pdata[i];
    memcpy (all + at * item, in->pixel_values, in->n * item * sizeof (float));
    at += in->n;
  }
  return all;
}

static void
add_floats (JsonBuilder *b, const char *name, const float *values, guint n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_double_value (b, values[i]);
  json_builder_end_array (b);
}

static void
print_json (JsonBuilder *b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
}

/* Opens an input's line: {"input": name[, "index": i] */
static void
begin_line (JsonBuilder *b, const Input *in, guint index)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "input");
  json_builder_add_string_value (b, in->name);
  if (in->is_tensor) {
    json_builder_set_member_name (b, "index");
    json_builder_add_int_value (b, index);
  }
}

static gboolean
all_finite (const float *values, guint n)
{
  for (guint i = 0; i < n; i++)
    if (!isfinite (values[i]))
      return FALSE;
  return TRUE;
}

/* Prints the JSON line of one input, or, when the network overflowed float32 on it (NaN or
 * inf outputs, which JSON cannot hold), names it on stderr and returns FALSE. */
static gboolean
print_result (ConvNextModel *model, const Input *in, guint index, const float *logits,
    const float *pooler)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint num_labels = convnext_model_get_num_labels (model);

  if (!all_finite (logits, num_labels)
      || !all_finite (pooler, convnext_model_get_hidden_size (model))) {
    g_autofree char *item = in->is_tensor ? g_strdup_printf (" [%u]", index) : NULL;
    g_printerr ("convnext-classify: %s%s: no result: the %s not finite (the network "
        "overflowed float32 on this input)\n", in->name, item ? item : "",
        num_labels > 0 ? "logits are" : "pooler_output is");
    return FALSE;
  }
  begin_line (b, in, index);
  if (num_labels > 0) {
    guint room = MAX (1, MIN ((guint) opt_top_k, num_labels));
    g_autofree ConvNextClass *top = g_new (ConvNextClass, room);
    guint n_top = convnext_model_top_k (model, logits, opt_top_k, top);

    json_builder_set_member_name (b, "top");
    json_builder_begin_array (b);
    for (guint i = 0; i < n_top; i++) {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, top[i].id);
      json_builder_set_member_name (b, "label");
      json_builder_add_string_value (b, top[i].label);
      json_builder_set_member_name (b, "score");
      json_builder_add_double_value (b, top[i].score);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    if (opt_logits)
      add_floats (b, "logits", logits, num_labels);
  }
  /* a bare ConvNextModel has nothing else to show */
  if (opt_logits || num_labels == 0)
    add_floats (b, "pooler_output", pooler, convnext_model_get_hidden_size (model));
  json_builder_end_object (b);
  print_json (b);
  return TRUE;
}

/* transformers' stage_names */
static char *
stage_name (guint index)
{
  return index == 0 ? g_strdup ("stem") : g_strdup_printf ("stage%u", index);
}

/* --features: map k to FILE.npy (one map) or FILE-<stage>.npy. */
static char *
features_path (ConvNextModel *model, guint k)
{
  guint n_idx;
  const guint *idx = convnext_model_get_out_indices (model, &n_idx);
  g_autofree char *stage = stage_name (idx[k]);
  g_autofree char *stem = g_str_has_suffix (opt_features, ".npy")
      ? g_strndup (opt_features, strlen (opt_features) - 4) : g_strdup (opt_features);

  if (convnext_model_get_num_feature_maps (model) == 1)
    return g_strdup (opt_features);
  return g_strdup_printf ("%s-%s.npy", stem, stage);
}

/* One forward: a backbone's feature maps (into @maps, entries may be NULL), else logits and
 * pooler_output. */
static gboolean
forward (ConvNextModel *model, const float *pixel_values, guint n, guint h, guint w,
    float *logits, float *pooler, float **maps, GError **error)
{
  if (convnext_model_get_num_feature_maps (model) > 0)
    return convnext_model_forward_features (model, pixel_values, n, h, w, maps, error);
  return convnext_model_forward (model, pixel_values, n, h, w,
      convnext_model_get_num_labels (model) > 0 ? logits : NULL, pooler, error);
}

/* A backbone's line: the shapes of its feature maps for this input. */
static void
print_feature_maps (ConvNextModel *model, const Input *in, guint index)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint n_idx;
  const guint *idx = convnext_model_get_out_indices (model, &n_idx);

  begin_line (b, in, index);
  json_builder_set_member_name (b, "feature_maps");
  json_builder_begin_array (b);
  for (guint k = 0; k < convnext_model_get_num_feature_maps (model); k++) {
    g_autofree char *stage = stage_name (idx[k]);
    guint shape[4];
    convnext_model_get_feature_map_shape (model, k, 1, in->h, in->w, shape);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "stage");
    json_builder_add_string_value (b, stage);
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (guint d = 1; d < 4; d++)
      json_builder_add_int_value (b, shape[d]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  print_json (b);
}

/* Runs @inputs (same size) as one batch and prints a line per input, in order. */
static gboolean
classify (ConvNextModel *model, GPtrArray *inputs, guint *n_bad, GError **error)
{
  const Input *first = inputs->pdata[0];
  guint num_labels = convnext_model_get_num_labels (model);
  guint hidden = convnext_model_get_hidden_size (model);
  g_autofree float *pixel_values = NULL;
  guint n_maps = convnext_model_get_num_feature_maps (model);
  g_autofree float *logits = NULL;
  g_autofree float *pooler = NULL;
  g_autofree float **maps = g_new0 (float *, MAX (n_maps, 1));
  gsize shapes[8][4];
  gboolean ok;
  guint n;

  pixel_values = inputs->len == 1 ? NULL : concat_inputs (inputs, &n, error);
  if (inputs->len == 1)
    n = first->n;
  else if (pixel_values == NULL)
    return FALSE;
  logits = g_new (float, (gsize) n * MAX (num_labels, 1));
  pooler = g_new (float, (gsize) n * hidden);
  for (guint k = 0; opt_features != NULL && k < n_maps && k < G_N_ELEMENTS (shapes); k++) {
    guint shape[4];
    convnext_model_get_feature_map_shape (model, k, n, first->h, first->w, shape);
    for (guint d = 0; d < 4; d++)
      shapes[k][d] = shape[d];
    maps[k] = g_new (float, shapes[k][0] * shapes[k][1] * shapes[k][2] * shapes[k][3]);
  }
  ok = forward (model, pixel_values != NULL ? pixel_values : first->pixel_values, n, first->h,
      first->w, logits, pooler, maps, error);
  for (guint k = 0; ok && k < n_maps && maps[k] != NULL; k++) {
    g_autofree char *path = features_path (model, k);
    ok = npy_save (path, 4, shapes[k], maps[k], error);
  }
  for (guint k = 0; k < n_maps; k++)
    g_free (maps[k]);
  if (!ok) {
    /* e.g. NaN in the tensor: name the file */
    if (inputs->len == 1)
      g_prefix_error (error, "%s: ", first->name);
    return FALSE;
  }
  for (guint i = 0, at = 0; i < inputs->len; i++) {
    const Input *in = inputs->pdata[i];
    for (guint j = 0; j < in->n; j++, at++) {
      if (n_maps > 0)
        print_feature_maps (model, in, j);
      else
        *n_bad += !print_result (model, in, j, logits + (gsize) at * num_labels,
            pooler + (gsize) at * hidden);
    }
  }
  return TRUE;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The --repeat JSON line: median/min/max of @ms (sorted here), what was timed. */
static void
print_timing (ConvNextModel *model, guint n, guint h, guint w, double *ms)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  double median;

  qsort (ms, opt_repeat, sizeof (double), compare_doubles);
  median = opt_repeat % 2 ? ms[opt_repeat / 2] : (ms[opt_repeat / 2 - 1] + ms[opt_repeat / 2]) / 2;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, convnext_model_get_name (model));
  json_builder_set_member_name (b, "precision");
  json_builder_add_string_value (b, opt_precision != NULL ? opt_precision : "f32");
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, opt_threads);
  json_builder_set_member_name (b, "batch");
  json_builder_add_int_value (b, n);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, h);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, w);
  json_builder_set_member_name (b, "timed");
  json_builder_add_string_value (b, opt_end_to_end ? "decode+preprocess+forward+top-k" : "forward");
  json_builder_set_member_name (b, "repeat");
  json_builder_add_int_value (b, opt_repeat);
  json_builder_set_member_name (b, "median_ms");
  json_builder_add_double_value (b, median);
  json_builder_set_member_name (b, "min_ms");
  json_builder_add_double_value (b, ms[0]);
  json_builder_set_member_name (b, "max_ms");
  json_builder_add_double_value (b, ms[opt_repeat - 1]);
  json_builder_end_object (b);
  print_json (b);
}

/* One warm-up forward (it builds the network), then @repeat timed ones. */
static gboolean
benchmark (ConvNextModel *model, GPtrArray *inputs, GError **error)
{
  g_autofree float *pixel_values = NULL;
  g_autofree float *logits = NULL;
  g_autofree float *pooler = NULL;
  g_autofree double *ms = g_new (double, opt_repeat);
  const Input *first = inputs->pdata[0];
  guint num_labels = convnext_model_get_num_labels (model);
  guint n;

  pixel_values = concat_inputs (inputs, &n, error);
  if (pixel_values == NULL)
    return FALSE;
  logits = g_new (float, (gsize) n * MAX (num_labels, 1));
  pooler = g_new (float, (gsize) n * convnext_model_get_hidden_size (model));
  for (int i = -1; i < opt_repeat; i++) {
    gint64 start = g_get_monotonic_time ();
    float *no_maps[8] = { NULL };
    if (!forward (model, pixel_values, n, first->h, first->w, logits, pooler, no_maps, error))
      return FALSE;
    if (i >= 0)
      ms[i] = (g_get_monotonic_time () - start) / 1000.0;
  }
  print_timing (model, n, first->h, first->w, ms);
  return TRUE;
}

/* --end-to-end: one warm-up, then @repeat timings of the image's whole path as the
 * classification prints it (decode, preprocess, forward, top-k), the result not printed. */
static gboolean
benchmark_end_to_end (ConvNextModel *model, ConvNextPreprocessor *pre, Decoder *dec,
    const char *path, GError **error)
{
  g_autofree double *ms = g_new (double, opt_repeat);
  guint num_labels = convnext_model_get_num_labels (model);
  g_autofree float *logits = g_new (float, MAX (num_labels, 1));
  g_autofree float *pooler = g_new (float, convnext_model_get_hidden_size (model));
  g_autofree ConvNextClass *top = g_new (ConvNextClass, MAX (1, MIN ((guint) opt_top_k, num_labels)));
  guint h = 0, w = 0;

  for (int i = -1; i < opt_repeat; i++) {
    g_autoptr (GPtrArray) one = g_ptr_array_new_with_free_func (input_free);
    gint64 start = g_get_monotonic_time ();
    float *no_maps[8] = { NULL };
    const Input *in;

    if (!load_image (dec, path, pre, one, error))
      return FALSE;
    in = one->pdata[0];
    if (!forward (model, in->pixel_values, 1, in->h, in->w, logits, pooler, no_maps, error))
      return FALSE;
    if (num_labels > 0)
      convnext_model_top_k (model, logits, opt_top_k, top);
    if (i >= 0)
      ms[i] = (g_get_monotonic_time () - start) / 1000.0;
    h = in->h;
    w = in->w;
  }
  print_timing (model, 1, h, w, ms);
  return TRUE;
}

static gboolean
dump_pixel_values (GPtrArray *inputs, GError **error)
{
  const Input *first = inputs->pdata[0];
  g_autofree float *all = NULL;
  gsize shape[4];
  guint n;

  all = concat_inputs (inputs, &n, error);
  if (all == NULL)
    return FALSE;
  shape[0] = n;
  shape[1] = first->c;
  shape[2] = first->h;
  shape[3] = first->w;
  return npy_save (opt_dump, 4, shape, all, error);
}

/* --calibrate: the tensor, then the images one by one, into one calibration file. */
static gboolean
calibrate (ConvNextModel *model, Decoder *dec, ConvNextPreprocessor *pre, GPtrArray *inputs,
    guint n_images, GError **error)
{
  g_autoptr (ConvNextCalibrator) cal = convnext_calibrator_new (model);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint n = 0;

  for (guint i = 0; i < inputs->len; i++) {        /* the tensor */
    const Input *in = inputs->pdata[i];
    if (!convnext_calibrator_add (cal, in->pixel_values, in->n, in->h, in->w, error))
      return FALSE;
    n += in->n;
  }
  for (guint i = 0; i < n_images; i++) {
    g_autoptr (GPtrArray) one = g_ptr_array_new_with_free_func (input_free);
    const Input *in;
    if (!load_image (dec, opt_images[i], pre, one, error))
      return FALSE;
    in = one->pdata[0];
    if (!convnext_calibrator_add (cal, in->pixel_values, in->n, in->h, in->w, error))
      return FALSE;
    n += in->n;
  }
  if (!convnext_calibrator_save (cal, opt_calibrate, error))
    return FALSE;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "calibration");
  json_builder_add_string_value (b, opt_calibrate);
  json_builder_set_member_name (b, "images");
  json_builder_add_int_value (b, n);
  json_builder_end_object (b);
  print_json (b);
  return TRUE;
}

static gboolean
no_bad_results (guint n_bad, GError **error)
{
  if (n_bad == 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%u input%s gave no finite result", n_bad,
      n_bad > 1 ? "s" : "");
  return FALSE;
}

static gboolean
run (GError **error)
{
  g_autoptr (ConvNextModel) model = NULL;
  g_autoptr (ConvNextPreprocessor) pre = NULL;
  g_autoptr (GPtrArray) inputs = g_ptr_array_new_with_free_func (input_free);
  g_auto (Decoder) dec = { NULL };
  const char *model_dir = opt_model != NULL ? opt_model : convnext_default_model_dir ();
  guint n_images = opt_images != NULL ? g_strv_length (opt_images) : 0, n_failed = 0;
  guint n_bad = 0;
  const char *const *unused;
  ConvNextParams params;

  convnext_params_init (&params);
  if (opt_top_k < 0 || opt_threads < 0 || opt_repeat < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--top-k, --threads and --repeat take numbers >= 0");
    return FALSE;
  }
  params.n_threads = opt_threads;
  if (opt_precision == NULL || g_str_equal (opt_precision, "f32"))
    params.precision = CONVNEXT_PRECISION_F32;
  else if (g_str_equal (opt_precision, "bf16"))
    params.precision = CONVNEXT_PRECISION_BF16;
  else if (g_str_equal (opt_precision, "int8"))
    params.precision = CONVNEXT_PRECISION_INT8;
  else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--precision: expected f32, bf16 or int8, got \"%s\"", opt_precision);
    return FALSE;
  }
  params.int8_calibration = opt_calibration;
  if (opt_calibrate != NULL && params.precision != CONVNEXT_PRECISION_F32) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--calibrate measures the f32 network: leave out --precision");
    return FALSE;
  }
  if (opt_end_to_end && (opt_repeat == 0 || n_images != 1 || opt_input_tensor != NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--end-to-end times one image: give --repeat N and exactly one image file");
    return FALSE;
  }
  if (n_images == 0 && opt_input_tensor == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "nothing to classify: give image files or --input-tensor FILE.npy (see --help)");
    return FALSE;
  }

  model = convnext_model_new (model_dir, &params, error);
  if (model == NULL)
    return FALSE;
  /* as transformers' "Some weights of the model checkpoint were not used" */
  unused = convnext_model_get_unused_tensors (model);
  if (unused[0] != NULL) {
    g_autofree char *list = g_strjoinv (", ", (char **) unused);
    g_printerr ("convnext-classify: warning: %u tensors of %s are not used by the model: %s\n",
        g_strv_length ((char **) unused), model_dir, list);
  }

  if (opt_input_tensor != NULL
      && !load_tensor (opt_input_tensor, convnext_model_get_num_channels (model), inputs, error))
    return FALSE;
  if (n_images > 0) {
    if (convnext_model_get_num_channels (model) != 3) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
          "model %s takes %u-channel input, images give RGB: use --input-tensor",
          convnext_model_get_name (model), convnext_model_get_num_channels (model));
      return FALSE;
    }
    if (!gst_init_check (NULL, NULL, error) || !decoder_init (&dec, error))
      return FALSE;
    pre = convnext_preprocessor_new (model_dir, error);
    if (pre == NULL)
      return FALSE;
    if (convnext_preprocessor_uses_defaults (pre))
      g_printerr ("convnext-classify: warning: %s has no preprocessor_config.json: images are "
          "preprocessed with ConvNextImageProcessor's defaults (384 px, mean/std 0.5)\n", model_dir);
  }
  if (opt_end_to_end)
    return benchmark_end_to_end (model, pre, &dec, opt_images[0], error);
  if (opt_calibrate != NULL)
    return calibrate (model, &dec, pre, inputs, n_images, error);
  /* Timing and dumping need every input at once; classification streams the images in
   * batches of up to MAX_BATCH consecutive ones of the same size. */
  if (opt_features != NULL && convnext_model_get_num_feature_maps (model) == 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--features: %s is not a backbone "
        "checkpoint (ConvNextBackbone / ConvNextV2Backbone, with hidden_states_norms.* tensors)",
        model_dir);
    return FALSE;
  }
  if (opt_features != NULL && convnext_model_get_num_feature_maps (model) > 8) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--features: at most 8 stages");
    return FALSE;
  }
  /* --features writes all inputs as one batch */
  if (opt_features != NULL && opt_repeat == 0) {
    for (guint i = 0; i < n_images; i++) {
      if (!load_image (&dec, opt_images[i], pre, inputs, error))
        return FALSE;
    }
    return inputs->len == 0 || classify (model, inputs, &n_bad, error);
  }
  if (opt_repeat > 0 || opt_dump != NULL) {
    for (guint i = 0; i < n_images; i++) {
      if (!load_image (&dec, opt_images[i], pre, inputs, error))
        return FALSE;
    }
    if (opt_dump != NULL && !dump_pixel_values (inputs, error))
      return FALSE;
    if (opt_repeat > 0)
      return benchmark (model, inputs, error);
    for (guint i = 0; i < inputs->len; i++) {
      g_autoptr (GPtrArray) one = g_ptr_array_new ();
      g_ptr_array_add (one, inputs->pdata[i]);
      if (!classify (model, one, &n_bad, error))
        return FALSE;
    }
    return no_bad_results (n_bad, error);
  }
  if (inputs->len > 0 && !classify (model, inputs, &n_bad, error))     /* the tensor */
    return FALSE;
  g_ptr_array_set_size (inputs, 0);
  for (guint i = 0; i < n_images; i++) {
    g_autoptr (GError) image_error = NULL;

    /* An image that cannot be read or decoded is reported and skipped, like a bad file
     * among many; the exit status says so at the end. */
    if (!load_image (&dec, opt_images[i], pre, inputs, &image_error)) {
      g_printerr ("convnext-classify: %s\n", image_error->message);
      n_failed++;
    } else {
      const Input *first = inputs->pdata[0], *last = inputs->pdata[inputs->len - 1];
      if (last->h != first->h || last->w != first->w) {
        Input *next = g_ptr_array_steal_index (inputs, inputs->len - 1);
        if (!classify (model, inputs, &n_bad, error)) {
          input_free (next);
          return FALSE;
        }
        g_ptr_array_set_size (inputs, 0);
        g_ptr_array_add (inputs, next);
      }
    }
    if (inputs->len == MAX_BATCH || (i + 1 == n_images && inputs->len > 0)) {
      if (!classify (model, inputs, &n_bad, error))
        return FALSE;
      g_ptr_array_set_size (inputs, 0);
    }
  }
  if (n_failed > 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%u of %u images could not be classified",
        n_failed, n_images);
    return FALSE;
  }
  return no_bad_results (n_bad, error);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  g_option_context_set_summary (context, "Classify images (decoded as PIL does, else with GStreamer) or a "
      "pixel_values tensor with a Hugging Face ConvNeXt checkpoint.\nPrints one JSON object per "
      "line and input.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || !run (&error)) {
    /* one line, whatever the message */
    g_strdelimit (error->message, "\r\n", ' ');
    g_printerr ("convnext-classify: %s\n", error->message);
    return 1;
  }
  return 0;
}
