/* Access to tests/fixtures/ (made by tests/reference/make_fixtures.py) for the library tests. */
#pragma once

#include <json-glib/json-glib.h>

#include "npy.h"  /* libconvnext/tools/npy.h, shared with convnext-classify */

/* The bar: max |engine - ref| <= PARITY_REL_TOL * max (1, max |ref|) per tensor. */
#define PARITY_REL_TOL 1e-4

/* The fixtures directory: $CONVNEXT_FIXTURES_DIR, else the source tree's tests/fixtures. */
const char *fixtures_dir (void);

/* Absolute path of @relative inside the fixtures directory (free with g_free). */
char *fixtures_path (const char *relative);

/* manifest.json, parsed once; aborts the test program if it cannot be read. */
JsonObject *fixtures_manifest (void);
JsonArray *fixtures_cases (void);
/* The manifest entry of model @name, or NULL. */
JsonObject *fixtures_model (const char *name);
/* Absolute directory of model @name (free with g_free). */
char *fixtures_model_dir (const char *name);

/* Reads fixtures-relative .npy @relative; fails the test if it cannot. */
void fixtures_load_npy (const char *relative, NpyArray *array);

/* max |got - ref| over @n values; NaN anywhere gives +inf. */
double max_abs_diff (const float *got, const float *ref, gsize n);
double max_abs (const float *values, gsize n);

/* Logs "<what>: max|Δ| = …, max|ref| = …, bound = …" and fails the test (without aborting)
 * unless max|Δ| <= PARITY_REL_TOL * max (1, max|ref|).  Returns whether it passed. */
gboolean check_close (const char *what, const float *got, const float *ref, gsize n);

/* A fresh g_dir_make_tmp directory holding a copy of model @name's config.json and weights
 * files (the manifest's "files") (free with fixtures_remove_tree + g_free). */
char *fixtures_copy_model (const char *name);
void fixtures_remove_tree (const char *path);
/* Copies file @from to @to (fails the test if it cannot). */
void fixtures_copy_file (const char *from, const char *to);
