/*
 * scanNodes: src/tree/scan.ts's scanRun in C. Reads the nodes of a tree's text as encodeTree
 * writes them, straight from their bytes, recording the values an incremental snapshot
 * compares with a directory's listing. The same strict subset of JSON is accepted (one object
 * each, no whitespace, known keys each once, values of the format's types, strings without
 * escapes or control characters, UTF-8 only where a name may need it and well-formed there),
 * the same values recorded at the same places; the TypeScript scanner is the reference, and
 * the tests hold the two to each other on mutated and crafted nodes. A tree is input from the
 * repository, which may have been crafted: every read is bounded by `limit`, every write by
 * the arrays' lengths.
 */
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <string.h>

#include "tree-scan.h"

/* scan.ts's slots. */
enum { S_NAME, S_TYPE, S_USER, S_GROUP, S_MTIME, S_CTIME, S_INODE, S_DEV, S_CONTENT, STRINGS };
enum { N_MODE, N_UID, N_GID, N_SIZE, N_LINKS, N_IDS, N_MTIME_S, N_MTIME_NS, N_CTIME_S, N_CTIME_NS, N_INODE, N_DEV, NUMBERS };
enum { V_STR, V_NUM, V_IDS, V_ATTRS, V_NO };
#define MAX_DIGITS 15

typedef struct {
  const char *text;
  uint8_t len, value;
  int8_t slot, digits; /* digits: the number slot of a decimal string, or -1 */
  uint8_t utf8, time;
} key_t_;

static const key_t_ KEYS[] = {
    {"name", 4, V_STR, S_NAME, -1, 1, 0},
    {"nameRaw", 7, V_NO, -1, -1, 0, 0},
    {"type", 4, V_STR, S_TYPE, -1, 0, 0},
    {"mode", 4, V_NUM, N_MODE, -1, 0, 0},
    {"uid", 3, V_NUM, N_UID, -1, 0, 0},
    {"gid", 3, V_NUM, N_GID, -1, 0, 0},
    {"user", 4, V_STR, S_USER, -1, 1, 0},
    {"group", 5, V_STR, S_GROUP, -1, 1, 0},
    {"mtimeNs", 7, V_STR, S_MTIME, N_MTIME_S, 0, 1},
    {"size", 4, V_NUM, N_SIZE, -1, 0, 0},
    {"inode", 5, V_STR, S_INODE, N_INODE, 0, 0},
    {"dev", 3, V_STR, S_DEV, N_DEV, 0, 0},
    {"links", 5, V_NUM, N_LINKS, -1, 0, 0},
    {"ctimeNs", 7, V_STR, S_CTIME, N_CTIME_S, 0, 1},
    {"content", 7, V_IDS, S_CONTENT, -1, 0, 0},
    {"subtree", 7, V_STR, -1, -1, 0, 0},
    {"target", 6, V_STR, -1, -1, 1, 0},
    {"targetRaw", 9, V_NO, -1, -1, 0, 0},
    {"linkTo", 6, V_STR, -1, -1, 0, 0},
    {"rdev", 4, V_STR, -1, -1, 0, 0},
    {"xattrs", 6, V_ATTRS, -1, -1, 0, 0},
};
#define NKEYS ((int)(sizeof(KEYS) / sizeof(KEYS[0])))

/* Whether a byte is a hex digit (either case, as Buffer's hex decoding takes them). */
static int is_hex(uint8_t c) {
  uint8_t l = (uint8_t)(c | 0x20);
  return (c >= '0' && c <= '9') || (l >= 'a' && l <= 'f');
}

/* Well-formed UTF-8 (Unicode's Table 3-7): what Buffer's isUtf8 accepts. */
static int utf8_ok(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) len = 3, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec) len = 3;
    else if (c == 0xed) len = 3, hi = 0x9f;
    else if (c >= 0xee && c <= 0xef) len = 3;
    else if (c == 0xf0) len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) len = 4, hi = 0x8f;
    else return 0;
    if (n - i < len) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t j = 2; j < len; j++)
      if (s[i + j] < 0x80 || s[i + j] > 0xbf) return 0;
    i += len;
  }
  return 1;
}

/* Where the string at `at` (its quote) ends, after its closing quote; -1 as scan.ts's stringEnd. */
static int64_t string_end(const uint8_t *d, int64_t at, int64_t limit, int utf8) {
  if (at >= limit || d[at] != '"') return -1;
  int high = 0;
  for (int64_t p = at + 1; p < limit; p++) {
    uint8_t c = d[p];
    if (c == '"') {
      if (high && (!utf8 || !utf8_ok(d + at + 1, (size_t)(p - at - 1)))) return -1;
      return p + 1;
    }
    if (c < 0x20 || c == '\\') return -1;
    if (c > 0x7f) high = 1;
  }
  return -1;
}

static double digits_value(const uint8_t *d, int64_t a, int64_t b) {
  uint64_t v = 0;
  for (int64_t p = a; p < b; p++) v = v * 10 + (uint64_t)(d[p] - '0');
  return (double)v;
}

/* scan.ts's decimal. */
static void decimal(const uint8_t *d, int64_t from, int64_t to, int time, double *numbers) {
  int64_t len = to - from;
  if (len == 0 || (d[from] == '0' && len > 1)) return;
  for (int64_t p = from; p < to; p++)
    if (d[p] < '0' || d[p] > '9') return;
  if (!time) {
    if (len <= MAX_DIGITS) numbers[0] = digits_value(d, from, to);
  } else if (len <= 9) {
    numbers[0] = 0;
    numbers[1] = digits_value(d, from, to);
  } else if (len - 9 <= MAX_DIGITS) {
    numbers[0] = digits_value(d, from, to - 9);
    numbers[1] = digits_value(d, to - 9, to);
  }
}

static int key_at(const uint8_t *d, int64_t from, int64_t to) {
  int64_t len = to - from;
  for (int id = 0; id < NKEYS; id++)
    if (KEYS[id].len == len && memcmp(d + from, KEYS[id].text, (size_t)len) == 0) return id;
  return -1;
}

/* scan.ts's scanNode: node k's values into strings/numbers; where its text ends, or -1. */
static int64_t scan_node(const uint8_t *d, int64_t at, int64_t limit, uint32_t *strings, double *numbers) {
  memset(strings, 0, STRINGS * 2 * sizeof(uint32_t));
  for (int i = 0; i < NUMBERS; i++) numbers[i] = NAN;
  if (at >= limit || d[at] != '{') return -1;
  int64_t p = at + 1;
  uint32_t seen = 0;
  for (;;) {
    if (p >= limit || d[p] != '"') return -1;
    int64_t key_start = p + 1, q = key_start;
    while (q < limit && d[q] != '"') q++;
    if (q + 1 >= limit || d[q + 1] != ':') return -1;
    int id = key_at(d, key_start, q);
    if (id < 0 || (seen & (1u << id))) return -1;
    seen |= 1u << id;
    const key_t_ *key = &KEYS[id];
    p = q + 2;
    switch (key->value) {
      case V_STR: {
        int64_t e = string_end(d, p, limit, key->utf8);
        if (e < 0) return -1;
        if (key->slot >= 0) {
          strings[key->slot * 2] = (uint32_t)(p + 1);
          strings[key->slot * 2 + 1] = (uint32_t)(e - 1);
        }
        if (key->digits >= 0) decimal(d, p + 1, e - 1, key->time, numbers + key->digits);
        p = e;
        break;
      }
      case V_NUM: {
        uint64_t v = 0;
        int64_t e = p;
        while (e < limit && d[e] >= '0' && d[e] <= '9' && e - p <= MAX_DIGITS) v = v * 10 + (uint64_t)(d[e++] - '0');
        if (e == p || e - p > MAX_DIGITS || (e < limit && d[e] >= '0' && d[e] <= '9') || (d[p] == '0' && e - p > 1)) return -1;
        numbers[key->slot] = (double)v;
        p = e;
        break;
      }
      case V_IDS: {
        if (p >= limit || d[p] != '[') return -1;
        int64_t e = p + 1;
        double count = 0;
        if (e < limit && d[e] == ']') e++;
        else
          for (;;) {
            if (e + 66 > limit || d[e] != '"' || d[e + 65] != '"') return -1;
            for (int64_t h = e + 1; h <= e + 64; h++)
              if (!is_hex(d[h])) return -1;
            count++;
            e += 66;
            if (e < limit && d[e] == ',') e++;
            else if (e < limit && d[e] == ']') {
              e++;
              break;
            } else
              return -1;
          }
        strings[key->slot * 2] = (uint32_t)(p + 1);
        strings[key->slot * 2 + 1] = (uint32_t)(e - 1);
        numbers[N_IDS] = count;
        p = e;
        break;
      }
      case V_ATTRS: {
        if (p >= limit || d[p] != '{') return -1;
        int64_t e = p + 1;
        if (e < limit && d[e] == '}') e++;
        else
          for (;;) {
            e = string_end(d, e, limit, 0);
            if (e < 0 || e >= limit || d[e] != ':') return -1;
            e = string_end(d, e + 1, limit, 0);
            if (e < 0 || e >= limit) return -1;
            if (d[e] == ',') e++;
            else if (d[e] == '}') {
              e++;
              break;
            } else
              return -1;
          }
        p = e;
        break;
      }
      default:
        return -1;
    }
    if (p >= limit) return -1;
    if (d[p] == ',') {
      p++;
      continue;
    }
    if (d[p] == '}') return (seen & 1u) == 0 ? -1 : p + 1;
    return -1;
  }
}

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, &ab, &offset) != napi_ok) return 0;
  return type == want;
}

/*
 * scanNodes(data, from, limit, strings, numbers, ranges, k) → how many nodes it scanned, as
 * scan.ts's scanRun: from `from` on, as nodes k, k + 1, …, while each is accepted and followed
 * by `limit` or by a comma and another node, and the arrays have room.
 */
napi_value js_scan_nodes(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  void *data, *strings, *numbers, *ranges;
  size_t len, slen, nlen, rlen;
  int64_t from, limit, k;
  if (argc < 7 || !typed(env, argv[0], napi_uint8_array, &data, &len) || napi_get_value_int64(env, argv[1], &from) != napi_ok || napi_get_value_int64(env, argv[2], &limit) != napi_ok ||
      !typed(env, argv[3], napi_uint32_array, &strings, &slen) || !typed(env, argv[4], napi_float64_array, &numbers, &nlen) || !typed(env, argv[5], napi_uint32_array, &ranges, &rlen) ||
      napi_get_value_int64(env, argv[6], &k) != napi_ok || from < 0 || limit < from || (uint64_t)limit > len || len > UINT32_MAX || k < 0) {
    napi_throw_type_error(env, NULL, "native core: scanNodes(data, from, limit, strings, numbers, ranges, k) with 0 <= from <= limit <= data.length");
    return NULL;
  }
  const uint8_t *d = data;
  /* Room: the fewest nodes any of the three arrays has room for. */
  uint64_t room = nlen / NUMBERS;
  if (slen / (STRINGS * 2) < room) room = slen / (STRINGS * 2);
  if (rlen / 2 < room) room = rlen / 2;
  int64_t got = 0;
  for (int64_t at = from; at < limit && (uint64_t)(k + got) < room;) {
    uint64_t n = (uint64_t)(k + got);
    int64_t stop = scan_node(d, at, limit, (uint32_t *)strings + n * STRINGS * 2, (double *)numbers + n * NUMBERS);
    if (stop < 0 || (stop != limit && (d[stop] != ',' || stop + 1 >= limit))) break;
    ((uint32_t *)ranges)[2 * n] = (uint32_t)at;
    ((uint32_t *)ranges)[2 * n + 1] = (uint32_t)stop;
    got++;
    at = stop + 1;
  }
  napi_value out;
  if (napi_create_int64(env, got, &out) != napi_ok) return NULL;
  return out;
}
