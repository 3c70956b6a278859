/* Zip container via minizip (zlib's contrib/minizip), reading from memory.
 *
 * minizip parses the central directory, the local headers and deflate streams; it reads
 * through the memory callbacks below, which are bounds-checked, so a truncated or lying
 * archive is an error rather than a read outside the mapping.  Stored entries are handed
 * out as views: unzGetCurrentFileZStreamPos64 gives where their data begins once minizip
 * has checked the local header against the central directory. */
#include "checkpoint.h"
#include "zipfile.h"

#include <string.h>
#include <unzip.h>
#include <zlib.h>

/* A pytorch_model.bin holds one entry per storage plus three; far below this. */
#define MAX_ENTRIES 1000000
#define MAX_NAME 4096
/* Deflate cannot expand data by more than about 1032:1; a larger claim is a lie. */
#define MAX_DEFLATE_RATIO 1032

typedef struct {
  ConvNextZipEntry entry;
  unz64_file_pos pos;
} Entry;

struct _ConvNextZip {
  char *path;
  const guint8 *data;           /* the archive (borrowed) */
  guint64 size;
  unzFile unz;
  GArray *entries;              /* Entry */
  GHashTable *by_name;          /* name → index + 1 */
};

/* The archive's bytes as a minizip stream. */
typedef struct {
  const guint8 *data;
  guint64 size;
  guint64 pos;
} MemStream;

static voidpf ZCALLBACK
mem_open (voidpf opaque, const void *filename, int mode)
{
  const ConvNextZip *zip = opaque;
  MemStream *s;

  if ((mode & ZLIB_FILEFUNC_MODE_READWRITEFILTER) != ZLIB_FILEFUNC_MODE_READ)
    return NULL;
  s = g_new (MemStream, 1);
  *s = (MemStream) { zip->data, zip->size, 0 };
  return s;
}

static uLong ZCALLBACK
mem_read (voidpf opaque, voidpf stream, void *buf, uLong size)
{
  MemStream *s = stream;
  guint64 n = MIN ((guint64) size, s->size - s->pos);

  memcpy (buf, s->data + s->pos, n);
  s->pos += n;
  return n;
}

static uLong ZCALLBACK
mem_write (voidpf opaque, voidpf stream, const void *buf, uLong size)
{
  return 0;
}

static ZPOS64_T ZCALLBACK
mem_tell (voidpf opaque, voidpf stream)
{
  return ((MemStream *) stream)->pos;
}

static long ZCALLBACK
mem_seek (voidpf opaque, voidpf stream, ZPOS64_T offset, int origin)
{
  MemStream *s = stream;
  guint64 base;

  switch (origin) {
    case ZLIB_FILEFUNC_SEEK_SET: base = 0; break;
    case ZLIB_FILEFUNC_SEEK_CUR: base = s->pos; break;
    case ZLIB_FILEFUNC_SEEK_END: base = s->size; break;
    default: return -1;
  }
  if (offset > s->size || base > s->size - offset)
    return -1;
  s->pos = base + offset;
  return 0;
}

static int ZCALLBACK
mem_close (voidpf opaque, voidpf stream)
{
  g_free (stream);
  return 0;
}

static int ZCALLBACK
mem_error (voidpf opaque, voidpf stream)
{
  return 0;
}

static gpointer
fail (GError **error, const ConvNextZip *zip, const char *entry, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

/* "invalid zip archive <path>[, entry <name>]: <reason>"; returns NULL. */
static gpointer
fail (GError **error, const ConvNextZip *zip, const char *entry, const char *fmt, ...)
{
  g_autofree char *prefix = g_strdup_printf ("invalid zip archive %s%s%s", zip->path,
      entry ? ", entry " : "", entry ? entry : "");
  va_list args;

  va_start (args, fmt);
  convnext_set_error_valist (error, CONVNEXT_ERROR_INVALID_WEIGHTS, prefix, fmt, args);
  va_end (args);
  return NULL;
}

static const char *
unz_error_string (int status)
{
  switch (status) {
    case UNZ_ERRNO: return "read error (truncated archive?)";
    case UNZ_EOF: return "unexpected end of data";
    case UNZ_PARAMERROR: return "bad parameter";
    case UNZ_BADZIPFILE: return "corrupt archive structure";
    case UNZ_INTERNALERROR: return "internal error";
    case UNZ_CRCERROR: return "CRC-32 mismatch";
    case Z_DATA_ERROR: return "corrupt deflate data";
    case Z_MEM_ERROR: return "out of memory while inflating";
    default: return "error";
  }
}

ConvNextZip *
convnext_zip_open (const char *path, const guint8 *data, gsize size, GError **error)
{
  g_autoptr (ConvNextZip) zip = g_new0 (ConvNextZip, 1);
  zlib_filefunc64_def io = {
    mem_open, mem_read, mem_write, mem_tell, mem_seek, mem_close, mem_error, zip,
  };
  unz_global_info64 global;
  int status;

  zip->path = g_strdup (path);
  zip->data = data;
  zip->size = size;
  zip->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  zip->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* minizip copies the callbacks and opens its one stream here */
  zip->unz = unzOpen2_64 (path, &io);
  if (zip->unz == NULL)
    return fail (error, zip, NULL, "no valid end of central directory record (truncated, or "
        "not a zip file)");
  if ((status = unzGetGlobalInfo64 (zip->unz, &global)) != UNZ_OK)
    return fail (error, zip, NULL, "%s", unz_error_string (status));
  if (global.number_entry > MAX_ENTRIES)
    return fail (error, zip, NULL, "%" G_GUINT64_FORMAT " entries, more than the %d allowed",
        (guint64) global.number_entry, MAX_ENTRIES);

  for (status = unzGoToFirstFile (zip->unz); status == UNZ_OK;
       status = unzGoToNextFile (zip->unz)) {
    unz_file_info64 info;
    char name[MAX_NAME + 1];
    Entry e;

    memset (&e, 0, sizeof e);
    status = unzGetCurrentFileInfo64 (zip->unz, &info, name, sizeof name, NULL, 0, NULL, 0);
    if (status != UNZ_OK)
      return fail (error, zip, NULL, "central directory entry %u: %s", zip->entries->len,
          unz_error_string (status));
    if (info.size_filename > MAX_NAME || strlen (name) != info.size_filename)
      return fail (error, zip, NULL, "central directory entry %u: name too long or with a NUL "
          "byte", zip->entries->len);
    if (info.flag & 1)
      return fail (error, zip, name, "encrypted");
    if (info.compression_method != 0 && info.compression_method != Z_DEFLATED)
      return fail (error, zip, name, "compression method %lu (only stored and deflated are "
          "supported)", info.compression_method);
    if (g_hash_table_contains (zip->by_name, name))
      return fail (error, zip, name, "appears twice");
    if (unzGetFilePos64 (zip->unz, &e.pos) != UNZ_OK)
      return fail (error, zip, name, "cannot locate");
    e.entry.size = info.uncompressed_size;
    e.entry.compressed_size = info.compressed_size;
    e.entry.crc = info.crc;
    e.entry.stored = info.compression_method == 0;
    if (e.entry.stored && e.entry.size != e.entry.compressed_size)
      return fail (error, zip, name, "stored, but its sizes differ (%" G_GUINT64_FORMAT
          " and %" G_GUINT64_FORMAT ")", e.entry.size, e.entry.compressed_size);
    if (e.entry.compressed_size > size)
      return fail (error, zip, name, "%" G_GUINT64_FORMAT " bytes of data, more than the "
          "%" G_GSIZE_FORMAT "-byte archive", e.entry.compressed_size, size);
    g_array_append_val (zip->entries, e);
    g_hash_table_insert (zip->by_name, g_strdup (name), GUINT_TO_POINTER (zip->entries->len));
  }
  if (status != UNZ_END_OF_LIST_OF_FILE)
    return fail (error, zip, NULL, "central directory entry %u: %s", zip->entries->len,
        unz_error_string (status));
  /* names point into the hash table's keys, stable from here on */
  {
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init (&iter, zip->by_name);
    while (g_hash_table_iter_next (&iter, &key, &value))
      g_array_index (zip->entries, Entry, GPOINTER_TO_UINT (value) - 1).entry.name = key;
  }
  return g_steal_pointer (&zip);
}

void
convnext_zip_free (ConvNextZip *zip)
{
  if (zip == NULL)
    return;
  if (zip->unz != NULL)
    unzClose (zip->unz);
  g_clear_pointer (&zip->entries, g_array_unref);
  g_clear_pointer (&zip->by_name, g_hash_table_unref);
  g_free (zip->path);
  g_free (zip);
}

guint
convnext_zip_get_n_entries (const ConvNextZip *zip)
{
  return zip->entries->len;
}

const ConvNextZipEntry *
convnext_zip_get_entry (const ConvNextZip *zip, guint index)
{
  return index < zip->entries->len ? &g_array_index (zip->entries, Entry, index).entry : NULL;
}

const ConvNextZipEntry *
convnext_zip_lookup (const ConvNextZip *zip, const char *name)
{
  guint i = GPOINTER_TO_UINT (g_hash_table_lookup (zip->by_name, name));

  return i > 0 ? &g_array_index (zip->entries, Entry, i - 1).entry : NULL;
}

/* Makes @entry minizip's current file and opens it (raw: no inflating). */
static gboolean
open_entry (ConvNextZip *zip, const ConvNextZipEntry *entry, gboolean raw, GError **error)
{
  const Entry *e = (const Entry *) entry;
  int status;

  if ((status = unzGoToFilePos64 (zip->unz, &e->pos)) != UNZ_OK
      || (status = unzOpenCurrentFile2 (zip->unz, NULL, NULL, raw)) != UNZ_OK) {
    fail (error, zip, entry->name, "local header: %s", unz_error_string (status));
    return FALSE;
  }
  return TRUE;
}

const guint8 *
convnext_zip_map_entry (ConvNextZip *zip, const ConvNextZipEntry *entry, GError **error)
{
  guint64 offset;
  guint32 crc;

  if (!entry->stored)
    return fail (error, zip, entry->name, "compressed, so it cannot be mapped");
  if (!open_entry (zip, entry, TRUE, error))
    return NULL;
  offset = unzGetCurrentFileZStreamPos64 (zip->unz);
  unzCloseCurrentFile (zip->unz);
  /* offsets are from the start of the stream, which is @data */
  if (offset > zip->size || entry->size > zip->size - offset)
    return fail (error, zip, entry->name, "its %" G_GUINT64_FORMAT " bytes at offset %"
        G_GUINT64_FORMAT " run past the end of the %" G_GUINT64_FORMAT "-byte archive "
        "(truncated?)", entry->size, offset, zip->size);
  crc = crc32_z (0, zip->data + offset, entry->size);
  if (crc != entry->crc)
    return fail (error, zip, entry->name, "CRC-32 mismatch (the directory says %08x, the data "
        "gives %08x)", entry->crc, crc);
  return zip->data + offset;
}

guint8 *
convnext_zip_read_entry (ConvNextZip *zip, const ConvNextZipEntry *entry, guint64 max_size,
    GError **error)
{
  g_autofree guint8 *buf = NULL;
  guint64 done = 0;
  int status;

  if (entry->size > max_size)
    return fail (error, zip, entry->name, "%" G_GUINT64_FORMAT " bytes, more than the %"
        G_GUINT64_FORMAT " allowed", entry->size, max_size);
  if (!entry->stored && entry->size / MAX_DEFLATE_RATIO > entry->compressed_size + 1)
    return fail (error, zip, entry->name, "claims %" G_GUINT64_FORMAT " bytes from %"
        G_GUINT64_FORMAT " compressed ones, more than deflate can give", entry->size,
        entry->compressed_size);
  buf = g_try_malloc (MAX (entry->size, 1));
  if (buf == NULL)
    return fail (error, zip, entry->name, "cannot allocate %" G_GUINT64_FORMAT " bytes",
        entry->size);
  if (!open_entry (zip, entry, FALSE, error))
    return NULL;
  while (done < entry->size) {
    int n = unzReadCurrentFile (zip->unz, buf + done, MIN (entry->size - done, 1u << 30));
    if (n <= 0) {
      unzCloseCurrentFile (zip->unz);
      return fail (error, zip, entry->name, "after %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
          " bytes: %s", done, entry->size, n == 0 ? "unexpected end of data (truncated?)"
          : unz_error_string (n));
    }
    done += n;
  }
  /* minizip compares the CRC once the whole entry has been read */
  status = unzCloseCurrentFile (zip->unz);
  if (status == UNZ_CRCERROR)
    return fail (error, zip, entry->name, "CRC-32 mismatch (the directory says %08x)",
        entry->crc);
  if (status != UNZ_OK)
    return fail (error, zip, entry->name, "%s", unz_error_string (status));
  return g_steal_pointer (&buf);
}
