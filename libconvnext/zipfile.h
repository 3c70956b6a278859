/* A zip archive held in memory (the mapping of a pytorch_model.bin), read with minizip.
 *
 * Only reading: the central directory is indexed once, and an entry is either mapped (a
 * stored entry's bytes are a view into the caller's memory) or extracted (a copy, any
 * method).  Both check the entry's CRC-32.  Errors are CONVNEXT_ERROR_INVALID_WEIGHTS and
 * name the archive and the entry. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *name;
  guint64 size;                 /* uncompressed */
  guint64 compressed_size;
  guint32 crc;
  gboolean stored;              /* method 0: mappable */
} ConvNextZipEntry;

typedef struct _ConvNextZip ConvNextZip;

/* Indexes the archive @data[0, @size) (borrowed: it must outlive the ConvNextZip); @path
 * is for messages.  Refuses duplicate names, names with NUL bytes, encrypted entries and
 * more than 1,000,000 entries. */
ConvNextZip *convnext_zip_open (const char *path, const guint8 *data, gsize size,
    GError **error);
void convnext_zip_free (ConvNextZip *zip);

guint convnext_zip_get_n_entries (const ConvNextZip *zip);
const ConvNextZipEntry *convnext_zip_get_entry (const ConvNextZip *zip, guint index);
/* Returns: (nullable): the entry called @name. */
const ConvNextZipEntry *convnext_zip_lookup (const ConvNextZip *zip, const char *name);

/* The bytes of stored entry @entry inside the archive's memory, after checking that its
 * local header agrees with the central directory, that it lies inside the archive and that
 * its CRC-32 matches.  NULL with an error otherwise (also for a compressed entry). */
const guint8 *convnext_zip_map_entry (ConvNextZip *zip, const ConvNextZipEntry *entry,
    GError **error);

/* A copy of @entry's uncompressed bytes (g_free), at most @max_size of them (else an
 * error), CRC-checked.  Works for stored and deflated entries. */
guint8 *convnext_zip_read_entry (ConvNextZip *zip, const ConvNextZipEntry *entry,
    guint64 max_size, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConvNextZip, convnext_zip_free)

G_END_DECLS
