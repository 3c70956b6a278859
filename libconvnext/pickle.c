/* Safe-subset unpickler (see pickle.h): a stack machine over the opcodes below, building
 * plain values and executing nothing.
 *
 * Opcodes understood (pickletools names), which is what torch.save (protocol 2, and 4/5
 * when asked) writes for a state dict:
 *   PROTO FRAME STOP MARK
 *   EMPTY_TUPLE TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_DICT SETITEM SETITEMS
 *   NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1
 *   BINUNICODE SHORT_BINUNICODE BINUNICODE8
 *   BINPUT LONG_BINPUT MEMOIZE BINGET LONG_BINGET
 *   GLOBAL STACK_GLOBAL (allowlisted names only) REDUCE (recorded, not called)
 *   BUILD (only on an OrderedDict: the state is its attributes, e.g. _metadata; dropped)
 *   BINPERSID (recorded)
 * Any other opcode (INST, OBJ, NEWOBJ, EXT*, lists, sets, bytes, floats…) is an error.
 *
 * Bounds, so that a hostile stream cannot take unbounded memory or time: at most
 * MAX_VALUES values (each opcode makes at most one; values are shared, never copied, so a
 * BINGET of a big tuple costs nothing), MAX_MEMO memo entries in a hash table (so a
 * LONG_BINPUT of index 4e9 costs one entry), MAX_STACK stack slots, MAX_DEPTH levels of
 * nesting (checked as each container is made, so walking the result cannot recurse deeper),
 * lengths checked against the bytes left before anything is allocated, integers of at most
 * 8 bytes.  The work is one pass over the input. */
#include "checkpoint.h"
#include "pickle.h"

#include <string.h>

#define MAX_VALUES (1u << 20)
#define MAX_MEMO (1u << 20)
#define MAX_STACK (1u << 20)
#define MAX_DEPTH 32
#define MAX_NAME 128

static const struct {
  const char *module, *name;
} allowlist[] = {
  [CONVNEXT_PICKLE_ORDERED_DICT] = { "collections", "OrderedDict" },
  [CONVNEXT_PICKLE_REBUILD_TENSOR_V2] = { "torch._utils", "_rebuild_tensor_v2" },
  [CONVNEXT_PICKLE_REBUILD_PARAMETER] = { "torch._utils", "_rebuild_parameter" },
  [CONVNEXT_PICKLE_FLOAT_STORAGE] = { "torch", "FloatStorage" },
  [CONVNEXT_PICKLE_HALF_STORAGE] = { "torch", "HalfStorage" },
  [CONVNEXT_PICKLE_BFLOAT16_STORAGE] = { "torch", "BFloat16Storage" },
};

struct _ConvNextPickle {
  GPtrArray *values;            /* every value made: the arena */
  ConvNextPickleValue *root;
};

typedef struct {
  ConvNextPickle *pickle;
  const char *what;
  const guint8 *data;
  gsize size, pos;
  gsize op_pos;                 /* of the opcode being run */
  GPtrArray *stack;             /* ConvNextPickleValue* */
  GArray *marks;                /* guint: stack lengths at each MARK */
  GHashTable *memo;             /* index → value */
  GError *error;
} Machine;

const char *
convnext_pickle_global_name (ConvNextPickleGlobal global)
{
  static const char *const names[] = {
    [CONVNEXT_PICKLE_ORDERED_DICT] = "collections.OrderedDict",
    [CONVNEXT_PICKLE_REBUILD_TENSOR_V2] = "torch._utils._rebuild_tensor_v2",
    [CONVNEXT_PICKLE_REBUILD_PARAMETER] = "torch._utils._rebuild_parameter",
    [CONVNEXT_PICKLE_FLOAT_STORAGE] = "torch.FloatStorage",
    [CONVNEXT_PICKLE_HALF_STORAGE] = "torch.HalfStorage",
    [CONVNEXT_PICKLE_BFLOAT16_STORAGE] = "torch.BFloat16Storage",
  };

  return names[global];
}

static void
value_free (gpointer p)
{
  ConvNextPickleValue *v = p;

  g_free ((char *) v->s);
  g_free (v->items);
  g_free (v);
}

static gboolean
fail (Machine *m, ConvNextError code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* "cannot unpickle <what>, opcode at byte N: <reason>"; returns FALSE. */
static gboolean
fail (Machine *m, ConvNextError code, const char *fmt, ...)
{
  g_autofree char *prefix = NULL;
  va_list args;

  if (m->error != NULL)
    return FALSE;
  prefix = g_strdup_printf ("cannot unpickle %s, opcode at byte %" G_GSIZE_FORMAT, m->what,
      m->op_pos);
  va_start (args, fmt);
  convnext_set_error_valist (&m->error, code, prefix, fmt, args);
  va_end (args);
  return FALSE;
}

#define FAIL(m, ...) fail ((m), CONVNEXT_ERROR_INVALID_WEIGHTS, __VA_ARGS__)

static ConvNextPickleValue *
new_value (Machine *m, ConvNextPickleKind kind)
{
  ConvNextPickleValue *v;

  if (m->pickle->values->len >= MAX_VALUES) {
    FAIL (m, "more than %u values", MAX_VALUES);
    return NULL;
  }
  v = g_new0 (ConvNextPickleValue, 1);
  v->kind = kind;
  v->depth = 1;
  g_ptr_array_add (m->pickle->values, v);
  return v;
}

static gboolean
push (Machine *m, ConvNextPickleValue *v)
{
  if (v == NULL)
    return FALSE;
  if (m->stack->len >= MAX_STACK)
    return FAIL (m, "stack deeper than %u", MAX_STACK);
  g_ptr_array_add (m->stack, v);
  return TRUE;
}

/* The stack position of the innermost MARK (and pops it), or -1 with an error. */
static gint
pop_mark (Machine *m)
{
  guint at;

  if (m->marks->len == 0) {
    FAIL (m, "no MARK on the stack");
    return -1;
  }
  at = g_array_index (m->marks, guint, m->marks->len - 1);
  g_array_set_size (m->marks, m->marks->len - 1);
  return at;
}

/* The number of values above the innermost MARK, or above the stack bottom. */
static guint
above_mark (Machine *m)
{
  guint bottom = m->marks->len > 0 ? g_array_index (m->marks, guint, m->marks->len - 1) : 0;

  return m->stack->len - bottom;
}

static ConvNextPickleValue *
pop (Machine *m)
{
  if (above_mark (m) == 0) {
    FAIL (m, "stack underflow");
    return NULL;
  }
  return g_ptr_array_steal_index (m->stack, m->stack->len - 1);
}

static ConvNextPickleValue *
top (Machine *m)
{
  if (above_mark (m) == 0) {
    FAIL (m, "stack underflow");
    return NULL;
  }
  return m->stack->pdata[m->stack->len - 1];
}

/* Appends @item to container @v, keeping depth bounded. */
static gboolean
add_item (Machine *m, ConvNextPickleValue *v, ConvNextPickleValue *item)
{
  if (item->depth + 1 > MAX_DEPTH)
    return FAIL (m, "values nested deeper than %u", MAX_DEPTH);
  v->depth = MAX (v->depth, item->depth + 1);
  if (v->n_items == v->room) {
    v->room = MAX (4, 2 * v->room);
    v->items = g_renew (ConvNextPickleValue *, v->items, v->room);
  }
  v->items[v->n_items++] = item;
  return TRUE;
}

/* A tuple of the top @n values (n = -1: those above the innermost MARK, which goes). */
static gboolean
make_tuple (Machine *m, gint n)
{
  ConvNextPickleValue *t;
  guint from;

  if (n < 0) {
    gint at = pop_mark (m);
    if (at < 0)
      return FALSE;
    from = at;
  } else {
    if (above_mark (m) < (guint) n)
      return FAIL (m, "stack underflow");
    from = m->stack->len - n;
  }
  if ((t = new_value (m, CONVNEXT_PICKLE_TUPLE)) == NULL)
    return FALSE;
  for (guint i = from; i < m->stack->len; i++) {
    if (!add_item (m, t, m->stack->pdata[i]))
      return FALSE;
  }
  g_ptr_array_set_size (m->stack, from);
  return push (m, t);
}

/* SETITEM / SETITEMS: pairs above the innermost MARK (or the top two) into the dict below. */
static gboolean
set_items (Machine *m, gboolean many)
{
  ConvNextPickleValue *dict;
  guint from;

  if (many) {
    gint at = pop_mark (m);
    if (at < 0)
      return FALSE;
    from = at;
  } else {
    if (above_mark (m) < 2)
      return FAIL (m, "stack underflow");
    from = m->stack->len - 2;
  }
  if ((m->stack->len - from) % 2 != 0)
    return FAIL (m, "odd number of items for a dict");
  if (from == 0 || above_mark (m) < m->stack->len - from + 1)
    return FAIL (m, "no dict below the items");
  dict = m->stack->pdata[from - 1];
  if (dict->kind != CONVNEXT_PICKLE_DICT)
    return FAIL (m, "items set on something that is not a dict");
  /* A dict fetched from the memo may already sit inside other values, or be about to sit
   * inside itself: filling it now would make a cycle, or leave its containers' depth stale,
   * and walks of the result could recurse without bound.  torch.save fills each dict before
   * any BINGET of it. */
  if (dict->shared)
    return FAIL (m, "items set on a dict fetched from the memo (it could end up inside "
        "itself)");
  for (guint i = from; i < m->stack->len; i++) {
    if (!add_item (m, dict, m->stack->pdata[i]))
      return FALSE;
  }
  g_ptr_array_set_size (m->stack, from);
  return TRUE;
}

static const guint8 *
take (Machine *m, gsize n)
{
  const guint8 *p;

  if (n > m->size - m->pos) {
    FAIL (m, "truncated: %" G_GSIZE_FORMAT " bytes needed, %" G_GSIZE_FORMAT " left", n,
        m->size - m->pos);
    return NULL;
  }
  p = m->data + m->pos;
  m->pos += n;
  return p;
}

static gboolean
read_uint (Machine *m, guint n_bytes, guint64 *out)
{
  const guint8 *p = take (m, n_bytes);

  if (p == NULL)
    return FALSE;
  *out = 0;
  for (guint i = 0; i < n_bytes; i++)
    *out |= (guint64) p[i] << (8 * i);
  return TRUE;
}

static gboolean
push_int (Machine *m, ConvNextPickleKind kind, gint64 i)
{
  ConvNextPickleValue *v = new_value (m, kind);

  if (v == NULL)
    return FALSE;
  v->i = i;
  return push (m, v);
}

/* LONG1: little-endian two's complement of n ≤ 8 bytes. */
static gboolean
push_long (Machine *m)
{
  guint64 n, bits;

  if (!read_uint (m, 1, &n))
    return FALSE;
  if (n > 8)
    return FAIL (m, "integer of %" G_GUINT64_FORMAT " bytes (at most 8 supported)", n);
  if (!read_uint (m, n, &bits))
    return FALSE;
  if (n > 0 && n < 8 && (bits >> (8 * n - 1)) & 1)
    bits |= ~(guint64) 0 << (8 * n);   /* sign-extend */
  return push_int (m, CONVNEXT_PICKLE_INT, (gint64) bits);
}

static gboolean
push_string (Machine *m, guint len_bytes)
{
  guint64 len;
  const guint8 *p;
  ConvNextPickleValue *v;

  if (!read_uint (m, len_bytes, &len))
    return FALSE;
  if (len > m->size - m->pos)
    return FAIL (m, "string of %" G_GUINT64_FORMAT " bytes, only %" G_GSIZE_FORMAT " left",
        len, m->size - m->pos);
  p = take (m, len);
  if (!g_utf8_validate_len ((const char *) p, len, NULL))
    return FAIL (m, "string that is not valid UTF-8 or holds a NUL byte");
  if ((v = new_value (m, CONVNEXT_PICKLE_STRING)) == NULL)
    return FALSE;
  v->s = g_strndup ((const char *) p, len);
  return push (m, v);
}

/* A GLOBAL's "module\n" or "name\n" line. */
static char *
read_line (Machine *m)
{
  const guint8 *p = m->data + m->pos;
  gsize max = MIN (m->size - m->pos, MAX_NAME + 1);
  const guint8 *nl = memchr (p, '\n', max);

  if (nl == NULL) {
    FAIL (m, "GLOBAL name longer than %d bytes or truncated", MAX_NAME);
    return NULL;
  }
  m->pos += nl - p + 1;
  return g_strndup ((const char *) p, nl - p);
}

/* Looks @module.@name up in the allowlist; anything else is refused here, by name. */
static gboolean
push_global (Machine *m, const char *module, const char *name)
{
  ConvNextPickleValue *v;
  g_autofree char *shown = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (allowlist); i++) {
    if (g_str_equal (module, allowlist[i].module) && g_str_equal (name, allowlist[i].name)) {
      if ((v = new_value (m, CONVNEXT_PICKLE_GLOBAL)) == NULL)
        return FALSE;
      v->global = i;
      return push (m, v);
    }
  }
  {
    g_autofree char *mod = g_strescape (module, NULL);
    g_autofree char *nam = g_strescape (name, NULL);
    shown = g_strdup_printf ("%s.%s", mod, nam);
  }
  if (g_str_equal (module, "torch") && g_str_has_suffix (name, "Storage"))
    return fail (m, CONVNEXT_ERROR_UNSUPPORTED, "tensor storage type %s: only float32, "
        "float16 and bfloat16 tensors (torch.FloatStorage, HalfStorage, BFloat16Storage) are "
        "supported", shown);
  return FAIL (m, "forbidden global %s: a state dict only needs collections.OrderedDict, "
      "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and "
      "torch.FloatStorage/HalfStorage/BFloat16Storage (nothing was executed)", shown);
}

static gboolean
memo_put (Machine *m, guint64 index)
{
  ConvNextPickleValue *v = top (m);

  if (v == NULL)
    return FALSE;
  if (g_hash_table_size (m->memo) >= MAX_MEMO
      && !g_hash_table_contains (m->memo, GSIZE_TO_POINTER (index)))
    return FAIL (m, "more than %u memo entries", MAX_MEMO);
  g_hash_table_insert (m->memo, GSIZE_TO_POINTER (index), v);
  return TRUE;
}

static gboolean
memo_get (Machine *m, guint64 index)
{
  ConvNextPickleValue *v = g_hash_table_lookup (m->memo, GSIZE_TO_POINTER (index));

  if (v == NULL)
    return FAIL (m, "memo entry %" G_GUINT64_FORMAT " was never stored", index);
  /* from now on it may sit inside other values: see set_items */
  v->shared = TRUE;
  return push (m, v);
}

/* REDUCE: an OrderedDict () becomes an empty dict; anything else allowlisted is recorded
 * as a call for the caller to interpret. */
static gboolean
reduce (Machine *m)
{
  ConvNextPickleValue *args = pop (m), *func = args ? pop (m) : NULL, *call;

  if (func == NULL)
    return FALSE;
  if (func->kind != CONVNEXT_PICKLE_GLOBAL || args->kind != CONVNEXT_PICKLE_TUPLE)
    return FAIL (m, "REDUCE needs a global and an argument tuple");
  if (func->global == CONVNEXT_PICKLE_ORDERED_DICT) {
    if (args->n_items != 0)
      return FAIL (m, "collections.OrderedDict called with arguments");
    return push (m, new_value (m, CONVNEXT_PICKLE_DICT));
  }
  if ((call = new_value (m, CONVNEXT_PICKLE_CALL)) == NULL)
    return FALSE;
  return add_item (m, call, func) && add_item (m, call, args) && push (m, call);
}

/* BUILD: the state of an OrderedDict is its __dict__ (state_dict()'s _metadata); it does
 * not change the mapping, so it is dropped. */
static gboolean
build (Machine *m)
{
  ConvNextPickleValue *state = pop (m), *obj = state ? top (m) : NULL;

  if (obj == NULL)
    return FALSE;
  if (obj->kind != CONVNEXT_PICKLE_DICT)
    return FAIL (m, "BUILD on something that is not an OrderedDict");
  return TRUE;
}

static gboolean
step (Machine *m, guint8 op)
{
  guint64 n;
  ConvNextPickleValue *v, *w;

  switch (op) {
    case 0x80:                  /* PROTO */
      if (!read_uint (m, 1, &n))
        return FALSE;
      if (n < 2 || n > 5)
        return FAIL (m, "pickle protocol %" G_GUINT64_FORMAT " (2 to 5 supported)", n);
      return TRUE;
    case 0x95:                  /* FRAME: a read-ahead hint */
      if (!read_uint (m, 8, &n))
        return FALSE;
      if (n > m->size - m->pos)
        return FAIL (m, "FRAME of %" G_GUINT64_FORMAT " bytes past the end", n);
      return TRUE;
    case '(':                   /* MARK */
      if (m->marks->len >= MAX_DEPTH)
        return FAIL (m, "MARKs nested deeper than %u", MAX_DEPTH);
      g_array_append_val (m->marks, m->stack->len);
      return TRUE;
    case ')': return make_tuple (m, 0);          /* EMPTY_TUPLE */
    case 't': return make_tuple (m, -1);         /* TUPLE */
    case 0x85: return make_tuple (m, 1);         /* TUPLE1 */
    case 0x86: return make_tuple (m, 2);         /* TUPLE2 */
    case 0x87: return make_tuple (m, 3);         /* TUPLE3 */
    case '}': return push (m, new_value (m, CONVNEXT_PICKLE_DICT));  /* EMPTY_DICT */
    case 's': return set_items (m, FALSE);       /* SETITEM */
    case 'u': return set_items (m, TRUE);        /* SETITEMS */
    case 'N': return push (m, new_value (m, CONVNEXT_PICKLE_NONE));  /* NONE */
    case 0x88: return push_int (m, CONVNEXT_PICKLE_BOOL, 1);        /* NEWTRUE */
    case 0x89: return push_int (m, CONVNEXT_PICKLE_BOOL, 0);        /* NEWFALSE */
    case 'J':                   /* BININT: signed 4 bytes */
      return read_uint (m, 4, &n) && push_int (m, CONVNEXT_PICKLE_INT, (gint32) (guint32) n);
    case 'K':                   /* BININT1 */
      return read_uint (m, 1, &n) && push_int (m, CONVNEXT_PICKLE_INT, n);
    case 'M':                   /* BININT2 */
      return read_uint (m, 2, &n) && push_int (m, CONVNEXT_PICKLE_INT, n);
    case 0x8a: return push_long (m);             /* LONG1 */
    case 'X': return push_string (m, 4);         /* BINUNICODE */
    case 0x8c: return push_string (m, 1);        /* SHORT_BINUNICODE */
    case 0x8d: return push_string (m, 8);        /* BINUNICODE8 */
    case 'q': return read_uint (m, 1, &n) && memo_put (m, n);        /* BINPUT */
    case 'r': return read_uint (m, 4, &n) && memo_put (m, n);        /* LONG_BINPUT */
    case 0x94: return memo_put (m, g_hash_table_size (m->memo));     /* MEMOIZE */
    case 'h': return read_uint (m, 1, &n) && memo_get (m, n);        /* BINGET */
    case 'j': return read_uint (m, 4, &n) && memo_get (m, n);        /* LONG_BINGET */
    case 'c': {                 /* GLOBAL "module\nname\n" */
      g_autofree char *module = read_line (m);
      g_autofree char *name = module ? read_line (m) : NULL;
      return name != NULL && push_global (m, module, name);
    }
    case 0x93:                  /* STACK_GLOBAL */
      if ((w = pop (m)) == NULL || (v = pop (m)) == NULL)
        return FALSE;
      if (v->kind != CONVNEXT_PICKLE_STRING || w->kind != CONVNEXT_PICKLE_STRING)
        return FAIL (m, "STACK_GLOBAL needs two strings");
      return push_global (m, v->s, w->s);
    case 'R': return reduce (m);                 /* REDUCE */
    case 'b': return build (m);                  /* BUILD */
    case 'Q':                   /* BINPERSID */
      if ((v = pop (m)) == NULL || (w = new_value (m, CONVNEXT_PICKLE_PERSID)) == NULL)
        return FALSE;
      return add_item (m, w, v) && push (m, w);
    default:
      if (g_ascii_isprint (op))
        return FAIL (m, "unsupported opcode 0x%02x ('%c')", op, op);
      return FAIL (m, "unsupported opcode 0x%02x", op);
  }
}

static gboolean
run (Machine *m)
{
  while (m->error == NULL) {
    guint8 op;

    m->op_pos = m->pos;
    if (m->pos >= m->size)
      return FAIL (m, "truncated: no STOP opcode");
    op = m->data[m->pos++];
    if (op == '.') {            /* STOP */
      if (m->marks->len != 0 || m->stack->len != 1)
        return FAIL (m, "STOP with %u values and %u MARKs on the stack (expected one value)",
            m->stack->len, m->marks->len);
      m->pickle->root = m->stack->pdata[0];
      return TRUE;
    }
    step (m, op);
  }
  return FALSE;
}

ConvNextPickle *
convnext_pickle_load (const guint8 *data, gsize size, const char *what, GError **error)
{
  g_autoptr (ConvNextPickle) pickle = g_new0 (ConvNextPickle, 1);
  Machine m = {
    .pickle = pickle, .what = what, .data = data, .size = size,
    .stack = g_ptr_array_new (),
    .marks = g_array_new (FALSE, FALSE, sizeof (guint)),
    .memo = g_hash_table_new (g_direct_hash, g_direct_equal),
  };
  gboolean ok;

  G_STATIC_ASSERT (sizeof (gsize) >= sizeof (guint32));
  pickle->values = g_ptr_array_new_with_free_func (value_free);
  ok = run (&m);
  g_ptr_array_unref (m.stack);
  g_array_unref (m.marks);
  g_hash_table_unref (m.memo);
  if (!ok) {
    g_propagate_error (error, m.error);
    return NULL;
  }
  return g_steal_pointer (&pickle);
}

void
convnext_pickle_free (ConvNextPickle *pickle)
{
  if (pickle == NULL)
    return;
  g_clear_pointer (&pickle->values, g_ptr_array_unref);
  g_free (pickle);
}

const ConvNextPickleValue *
convnext_pickle_get_root (const ConvNextPickle *pickle)
{
  return pickle->root;
}
