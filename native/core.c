/*
 * Strongbox's native chunk core: the hot loop of a backup and a restore in C.
 *
 *   cut     FastCDC (normalized chunking, level 2) with the repository's gear table
 *   id      HMAC-SHA-256 under the repository's id key (precomputed inner/outer states)
 *   encode  zstd (worth-it probes as in the TypeScript codec) + AES-256-GCM, written once
 *           into one output buffer (a new one, or the caller's: encodeInto): nonce ‖
 *           ciphertext(encoding byte ‖ payload) ‖ tag
 *   decode  AES-256-GCM open (the tag checked before anything is decompressed), the
 *           declared size bounded, zstd into a buffer of exactly that size, id verified
 *
 * The TypeScript implementations (src/repo/chunker/fastcdc.ts, src/repo/format/blob.ts)
 * are the reference: tests compare cut points, ids and both directions of encode/decode,
 * and the format is the same byte for byte apart from the random nonces. OpenSSL's
 * libcrypto is the one inside Node (its symbols are exported to addons), libzstd is
 * Debian's. docs/PERFORMANCE.md says what this buys and how it was measured.
 *
 * Everything here is per codec handle: each worker thread makes its own.
 */
#define _GNU_SOURCE 1
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <zstd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NONCE_LEN 12
#define TAG_LEN 16
#define SEAL_OVERHEAD (NONCE_LEN + 1 + TAG_LEN)
#define NONCE_BLOCK 341
#define ENC_RAW 0
#define ENC_ZSTD 1
#define SAMPLE (64 * 1024)
#define MAX_BLOB_BYTES (512u * 1024u * 1024u)
#define ZERO_BLOCK 4096
#define ZERO_IDS 64

typedef struct {
  uint32_t len;
  uint8_t id[32];
} zero_id_t;

typedef struct {
  SHA256_CTX mac_inner;
  SHA256_CTX mac_outer;
  EVP_CIPHER_CTX *seal;
  EVP_CIPHER_CTX *open;
  ZSTD_CCtx *cctx;
  ZSTD_DCtx *dctx;
  int level;
  uint32_t gear[256];
  uint32_t min, avg, max;
  uint32_t mask_s, mask_l, fixed;
  int skip_s, skip_l;
  uint8_t *scratch;
  size_t scratch_cap;
  uint8_t nonces[NONCE_LEN * NONCE_BLOCK];
  size_t nonce_at;
  zero_id_t zero_ids[ZERO_IDS];
  int zero_count;
  /* Set while work on libuv's threads uses this codec (only the JavaScript thread reads or writes it). */
  int busy;
} codec_t;

static const uint8_t ZEROS[ZERO_BLOCK];

/* ---------------------------------------------------------------- helpers */

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "INTERNAL", "native core: " #call " failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_corrupt(napi_env env, const char *message) {
  napi_throw_error(env, "CORRUPT", message);
  return NULL;
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = (uint8_t *)ptr;
  *len = length;
  return 1;
}

static int u32_of(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static void finalize_codec(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  codec_t *c = (codec_t *)data;
  EVP_CIPHER_CTX_free(c->seal);
  EVP_CIPHER_CTX_free(c->open);
  ZSTD_freeCCtx(c->cctx);
  ZSTD_freeDCtx(c->dctx);
  free(c->scratch);
  OPENSSL_cleanse(c, sizeof(*c));
  free(c);
}

static codec_t *codec_of(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "native core: not a codec");
    return NULL;
  }
  if (((codec_t *)p)->busy) {
    napi_throw_error(env, "INTERNAL", "native core: the codec is in use by work not yet done");
    return NULL;
  }
  return (codec_t *)p;
}

static uint8_t *scratch(codec_t *c, size_t need) {
  if (c->scratch_cap < need) {
    free(c->scratch);
    c->scratch_cap = need;
    c->scratch = (uint8_t *)malloc(need);
    if (!c->scratch) c->scratch_cap = 0;
  }
  return c->scratch;
}

/* A scratch buffer grown for one huge blob is not kept. */
static void trim_scratch(codec_t *c) {
  if (c->scratch_cap > 24u * 1024 * 1024) {
    free(c->scratch);
    c->scratch = NULL;
    c->scratch_cap = 0;
  }
}

static int next_nonce(codec_t *c, uint8_t *into) {
  if (c->nonce_at == sizeof(c->nonces)) {
    if (RAND_bytes(c->nonces, sizeof(c->nonces)) != 1) return 0;
    c->nonce_at = 0;
  }
  memcpy(into, c->nonces + c->nonce_at, NONCE_LEN);
  /* Each nonce is used once: its bytes are wiped as they are taken. */
  memset(c->nonces + c->nonce_at, 0, NONCE_LEN);
  c->nonce_at += NONCE_LEN;
  return 1;
}

/* ------------------------------------------------------------------- ids */

static void mac(codec_t *c, const uint8_t *data, size_t len, uint8_t out[32]) {
  SHA256_CTX ctx = c->mac_inner;
  uint8_t inner[32];
  SHA256_Update(&ctx, data, len);
  SHA256_Final(inner, &ctx);
  ctx = c->mac_outer;
  SHA256_Update(&ctx, inner, 32);
  SHA256_Final(out, &ctx);
}

static int is_zero(const uint8_t *b, size_t len) {
  size_t o = 0;
  for (; o + ZERO_BLOCK <= len; o += ZERO_BLOCK)
    if (memcmp(b + o, ZEROS, ZERO_BLOCK) != 0) return 0;
  return memcmp(b + o, ZEROS, len - o) == 0;
}

/* Ids of all-zero chunks by length: disk images and sparse files repeat them endlessly. */
static void chunk_id(codec_t *c, const uint8_t *data, size_t len, uint8_t out[32]) {
  if (len < 64 * 1024 || data[0] != 0 || !is_zero(data, len)) {
    mac(c, data, len, out);
    return;
  }
  for (int i = 0; i < c->zero_count; i++) {
    if (c->zero_ids[i].len == len) {
      memcpy(out, c->zero_ids[i].id, 32);
      return;
    }
  }
  mac(c, data, len, out);
  if (c->zero_count < ZERO_IDS) {
    c->zero_ids[c->zero_count].len = (uint32_t)len;
    memcpy(c->zero_ids[c->zero_count].id, out, 32);
    c->zero_count++;
  }
}

/* ------------------------------------------------------------------- cut */

static size_t zero_run_end(const uint8_t *buf, size_t i, size_t limit) {
  while (i + ZERO_BLOCK <= limit && memcmp(buf + i, ZEROS, ZERO_BLOCK) == 0) i += ZERO_BLOCK;
  return i;
}

/*
 * Rolls the gear hash over buf[*at, stop) against one mask, two bytes a step; returns the index
 * just past the cut, or 0 when there is none (the hash and position are left for the next range).
 */
static inline size_t roll(const codec_t *c, const uint8_t *buf, size_t *at, size_t stop, uint32_t *hash, uint32_t mask, int skip) {
  const uint32_t *gear = c->gear;
  uint32_t h = *hash;
  size_t i = *at;
  for (; i + 1 < stop; i += 2) {
    if (h == c->fixed && skip && buf[i] == 0) {
      size_t j = zero_run_end(buf, i, stop);
      if (j > i) {
        i = j - 2;
        continue;
      }
    }
    h = (h << 1) + gear[buf[i]];
    if ((h & mask) == 0) return i + 1;
    h = (h << 1) + gear[buf[i + 1]];
    if ((h & mask) == 0) return i + 2;
  }
  for (; i < stop; i++) {
    h = (h << 1) + gear[buf[i]];
    if ((h & mask) == 0) return i + 1;
  }
  *at = i;
  *hash = h;
  return 0;
}

/* The same cut points as createChunker().cut in fastcdc.ts (its comments explain the zero-run skip). */
static size_t cut(const codec_t *c, const uint8_t *buf, size_t start, size_t end) {
  size_t n = end - start;
  if (n <= c->min) return n;
  if (n > c->max) n = c->max;
  const size_t normal = start + (n < c->avg ? n : c->avg);
  uint32_t h = 0;
  size_t i = start + c->min;
  size_t past = roll(c, buf, &i, normal, &h, c->mask_s, c->skip_s);
  if (!past) past = roll(c, buf, &i, start + n, &h, c->mask_l, c->skip_l);
  return past ? past - start : n;
}

/* The final chunks of buf[0, filled) (see scan): lengths into lens, ids into ids; how many. */
static size_t scan_chunks(codec_t *c, const uint8_t *buf, size_t filled, int eof, uint8_t *ids, size_t ids_len, uint32_t *lens, size_t lens_count) {
  size_t count = 0, start = 0;
  while (start < filled && count < lens_count && (count + 1) * 32 <= ids_len) {
    size_t n = cut(c, buf, start, filled);
    if (!eof && start + n == filled && n < c->max) break;
    chunk_id(c, buf + start, n, ids + count * 32);
    lens[count++] = (uint32_t)n;
    start += n;
  }
  return count;
}

/* topMask in fastcdc.ts; the shift count taken mod 32 as JavaScript's << does (defined for any bits). */
static uint32_t top_mask(int bits) { return ~((1u << ((unsigned)(32 - bits) & 31u)) - 1u); }

/* ---------------------------------------------------------------- N-API */

/* codec(encKey: 32 bytes, macKey: 32 bytes, level, gear: Uint8Array(1024) of u32 LE, min, avg, max) */
static napi_value js_codec(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *enc_key, *mac_key, *gear;
  size_t enc_len, mac_len, gear_len;
  int32_t level;
  uint32_t min, avg, max;
  if (argc < 7 || !bytes_of(env, argv[0], &enc_key, &enc_len) || enc_len != 32 || !bytes_of(env, argv[1], &mac_key, &mac_len) ||
      mac_len != 32 || napi_get_value_int32(env, argv[2], &level) != napi_ok || !bytes_of(env, argv[3], &gear, &gear_len) ||
      gear_len != 1024 || !u32_of(env, argv[4], &min) || !u32_of(env, argv[5], &avg) || !u32_of(env, argv[6], &max) || min == 0 ||
      min > avg || avg > max) {
    napi_throw_type_error(env, NULL, "native core: codec(encKey, macKey, level, gear, min, avg, max)");
    return NULL;
  }
  codec_t *c = (codec_t *)calloc(1, sizeof(codec_t));
  if (!c) {
    napi_throw_error(env, "INTERNAL", "native core: out of memory");
    return NULL;
  }
  uint8_t pad[64];
  memset(pad, 0x36, 64);
  for (int i = 0; i < 32; i++) pad[i] ^= mac_key[i];
  SHA256_Init(&c->mac_inner);
  SHA256_Update(&c->mac_inner, pad, 64);
  memset(pad, 0x5c, 64);
  for (int i = 0; i < 32; i++) pad[i] ^= mac_key[i];
  SHA256_Init(&c->mac_outer);
  SHA256_Update(&c->mac_outer, pad, 64);
  OPENSSL_cleanse(pad, sizeof(pad));
  c->seal = EVP_CIPHER_CTX_new();
  c->open = EVP_CIPHER_CTX_new();
  c->cctx = ZSTD_createCCtx();
  c->dctx = ZSTD_createDCtx();
  int ok = c->seal && c->open && c->cctx && c->dctx &&
           EVP_EncryptInit_ex(c->seal, EVP_aes_256_gcm(), NULL, enc_key, NULL) == 1 &&
           EVP_DecryptInit_ex(c->open, EVP_aes_256_gcm(), NULL, enc_key, NULL) == 1 &&
           !ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level)) &&
           !ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1));
  if (!ok) {
    finalize_codec(env, c, NULL);
    napi_throw_error(env, "INTERNAL", "native core: could not set up AES-256-GCM or zstd");
    return NULL;
  }
  c->level = level;
  for (int i = 0; i < 256; i++)
    c->gear[i] = (uint32_t)gear[4 * i] | ((uint32_t)gear[4 * i + 1] << 8) | ((uint32_t)gear[4 * i + 2] << 16) | ((uint32_t)gear[4 * i + 3] << 24);
  c->min = min;
  c->avg = avg;
  c->max = max;
  int bits = 0;
  /* Math.round(Math.log2(avg)) */
  {
    double l = 0;
    uint32_t v = avg;
    while (v > 1) {
      v >>= 1;
      bits++;
    }
    /* round: compare avg with 2^(bits + 0.5) */
    l = (double)(1u << bits) * 1.4142135623730951;
    if ((double)avg >= l) bits++;
  }
  c->mask_s = top_mask(bits + 2);
  c->mask_l = top_mask(bits - 2);
  c->fixed = (uint32_t)(0u - c->gear[0]);
  c->skip_s = (c->fixed & c->mask_s) != 0;
  c->skip_l = (c->fixed & c->mask_l) != 0;
  c->nonce_at = sizeof(c->nonces);
  napi_value result;
  if (napi_create_external(env, c, finalize_codec, NULL, &result) != napi_ok) {
    finalize_codec(env, c, NULL);
    napi_throw_error(env, "INTERNAL", "native core: napi_create_external failed");
    return NULL;
  }
  return result;
}

/* cut(codec, buf, start, end) → length of the next chunk */
static napi_value js_cut(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c = codec_of(env, argv[0]);
  if (!c) return NULL;
  uint8_t *buf;
  size_t len;
  uint32_t start, end;
  if (argc < 4 || !bytes_of(env, argv[1], &buf, &len) || !u32_of(env, argv[2], &start) || !u32_of(env, argv[3], &end) || start > end ||
      end > len) {
    napi_throw_range_error(env, NULL, "native core: cut(codec, buf, start, end) out of range");
    return NULL;
  }
  napi_value result;
  CHECK(napi_create_uint32(env, (uint32_t)cut(c, buf, start, end), &result));
  return result;
}

/*
 * Work on a codec that runs either at once (scan, encodeInto) or on libuv's threads
 * (scanAsync, encodeIntoAsync: a promise of the same number), so that one JavaScript thread
 * keeps every core busy without a V8 isolate per core. Arguments are checked on the calling
 * thread; the work touches no JavaScript value; the buffers and the codec are kept alive by
 * references until it is done, and the codec is marked busy meanwhile (any other call on it
 * throws: its contexts and scratch buffer are one thread's at a time).
 */
typedef enum { JOB_SCAN, JOB_ENCODE_INTO, JOB_READ_SMALL, JOB_SEAL_MANY } job_kind_t;
#define JOB_ARGS 8
typedef struct {
  job_kind_t kind;
  codec_t *c;
  const uint8_t *in;
  size_t in_len;
  uint8_t *out;
  size_t out_len;
  uint32_t *lens;
  size_t lens_count;
  int eof;
  /* readSmall: the largest file, the content's buffer, each file's length, ids, attribute flags;
     sealMany: where the first blob goes in `out` (limit) and the sealed lengths (at). */
  size_t limit;
  uint8_t *data;
  size_t data_len;
  int32_t *sizes;
  uint32_t *at;
  uint8_t *ids;
  uint8_t *attrs;
  size_t result;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref keep[JOB_ARGS];
  int kept;
} job_t;

/*
 * scan(codec, buf, filled, eof, ids, lens) → count: every chunk of buf[0, filled) that is final
 * (a cut at the very end is final only at end of input or at the maximum size), its length into
 * lens (Uint32Array) and its id into ids (32 bytes each). The caller keeps the rest for later.
 */
static int scan_job(napi_env env, size_t argc, napi_value *argv, job_t *j) {
  uint8_t *buf;
  size_t len;
  uint32_t filled;
  bool eof;
  napi_typedarray_type type;
  size_t offset;
  void *lens_ptr;
  napi_value ab;
  j->kind = JOB_SCAN;
  if (argc < 6 || !(j->c = codec_of(env, argv[0]))) return 0;
  if (!bytes_of(env, argv[1], &buf, &len) || !u32_of(env, argv[2], &filled) || filled > len || napi_get_value_bool(env, argv[3], &eof) != napi_ok ||
      !bytes_of(env, argv[4], &j->out, &j->out_len) ||
      napi_get_typedarray_info(env, argv[5], &type, &j->lens_count, &lens_ptr, &ab, &offset) != napi_ok || type != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "native core: scan(codec, buf, filled, eof, ids, lens)");
    return 0;
  }
  j->in = buf;
  j->in_len = filled;
  j->eof = eof;
  j->lens = (uint32_t *)lens_ptr;
  return 1;
}

/* encodeInto(codec, raw, out, offset): see encode below. */
static int encode_into_job(napi_env env, size_t argc, napi_value *argv, job_t *j) {
  uint8_t *raw, *into;
  size_t len, into_len;
  uint32_t offset;
  j->kind = JOB_ENCODE_INTO;
  if (argc < 4 || !(j->c = codec_of(env, argv[0]))) return 0;
  if (!bytes_of(env, argv[1], &raw, &len) || !bytes_of(env, argv[2], &into, &into_len) || !u32_of(env, argv[3], &offset)) {
    napi_throw_type_error(env, NULL, "native core: encodeInto(codec, raw, out, offset)");
    return 0;
  }
  if (offset > into_len || into_len - offset < len + SEAL_OVERHEAD) {
    napi_throw_range_error(env, NULL, "native core: encodeInto: no room for the sealed blob");
    return 0;
  }
  j->in = raw;
  j->in_len = len;
  j->out = into + offset;
  j->out_len = into_len - offset;
  return 1;
}

static int typed_of(napi_env env, napi_value v, napi_typedarray_type want, void **ptr, size_t *count) {
  napi_typedarray_type type;
  size_t offset;
  napi_value ab;
  return napi_get_typedarray_info(env, v, &type, count, ptr, &ab, &offset) == napi_ok && type == want;
}

/*
 * readSmall(codec, paths, ends, limit, data, sizes, ids, attrs) → how many files: a batch of
 * small files (each one chunk) read and identified in one call. File i's path is
 * paths[ends[i-1], ends[i]); it is read whole into `data`, the files back to back in order;
 * sizes[i] is its length, its keyed id goes to ids[32i…] and attrs[i] is 1 when it may have
 * extended attributes (0: it has none). sizes[i] = -1 when the caller must read the file
 * itself: it could not be opened or read (the caller reports why), it is longer than `limit`
 * (it grew since it was listed), or `data` has no room left for it.
 */
static int read_small_job(napi_env env, size_t argc, napi_value *argv, job_t *j) {
  uint8_t *paths;
  size_t paths_len, ends_count, sizes_count, attrs_count;
  uint32_t limit;
  void *ends, *sizes;
  j->kind = JOB_READ_SMALL;
  if (argc < 8 || !(j->c = codec_of(env, argv[0]))) return 0;
  if (!bytes_of(env, argv[1], &paths, &paths_len) || !typed_of(env, argv[2], napi_uint32_array, &ends, &ends_count) || !u32_of(env, argv[3], &limit) ||
      !bytes_of(env, argv[4], &j->data, &j->data_len) || !typed_of(env, argv[5], napi_int32_array, &sizes, &sizes_count) ||
      !bytes_of(env, argv[6], &j->ids, &j->out_len) || !bytes_of(env, argv[7], &j->attrs, &attrs_count) || sizes_count < ends_count ||
      attrs_count < ends_count || j->out_len < 32 * ends_count) {
    napi_throw_type_error(env, NULL, "native core: readSmall(codec, paths, ends, limit, data, sizes, ids, attrs)");
    return 0;
  }
  j->in = paths;
  j->in_len = paths_len;
  j->lens = (uint32_t *)ends;
  j->lens_count = ends_count;
  j->limit = limit;
  j->sizes = (int32_t *)sizes;
  return 1;
}

/* One small file into data[*pos…]: its length, or -1 (see readSmall). */
static int32_t read_one(const uint8_t *path, size_t path_len, size_t limit, uint8_t *data, size_t room, uint8_t *attrs) {
  char name[4096];
  if (path_len == 0 || path_len >= sizeof(name) || memchr(path, 0, path_len) != NULL || limit >= INT32_MAX) return -1;
  memcpy(name, path, path_len);
  name[path_len] = 0;
  /* O_NOATIME keeps a backup from touching every file's atime; only the owner (or root) may ask for it. */
  int fd = open(name, O_RDONLY | O_NOATIME | O_CLOEXEC);
  if (fd < 0 && errno == EPERM) fd = open(name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const size_t want = limit + 1 < room ? limit + 1 : room;
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, data + got, want - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return -1;
    }
    got += (size_t)n;
    if (n == 0 || got == want) break;
  }
  if (got == want) {
    /* Longer than a small file, or no room to know: the caller reads it. */
    close(fd);
    return -1;
  }
  ssize_t names = flistxattr(fd, NULL, 0);
  *attrs = names > 0 || (names < 0 && errno != ENOTSUP && errno != EOPNOTSUPP);
  close(fd);
  return (int32_t)got;
}

static size_t read_small(job_t *j) {
  size_t pos = 0, start = 0;
  for (size_t i = 0; i < j->lens_count; i++) {
    const size_t end = j->lens[i];
    int32_t n = -1;
    if (end >= start && end <= j->in_len) n = read_one(j->in + start, end - start, j->limit, j->data + pos, j->data_len - pos, &j->attrs[i]);
    if (end >= start && end <= j->in_len) start = end;
    j->sizes[i] = n;
    if (n < 0) continue;
    mac(j->c, j->data + pos, (size_t)n, j->ids + 32 * i);
    pos += (size_t)n;
  }
  return j->lens_count;
}

/*
 * sealMany(codec, data, spans, out, offset, sealedLens) → how many were sealed: blob k, the
 * bytes data[spans[2k], spans[2k] + spans[2k+1]), encoded as encodeInto does, the blobs back
 * to back in out from `offset` (room for every length + SEAL_OVERHEAD), its sealed length into
 * sealedLens[k]. Fewer than asked only when sealing failed.
 */
static int seal_many_job(napi_env env, size_t argc, napi_value *argv, job_t *j) {
  void *spans, *sealed_lens;
  size_t spans_count, lens_count;
  uint32_t offset;
  j->kind = JOB_SEAL_MANY;
  if (argc < 6 || !(j->c = codec_of(env, argv[0]))) return 0;
  if (!bytes_of(env, argv[1], &j->data, &j->data_len) || !typed_of(env, argv[2], napi_uint32_array, &spans, &spans_count) ||
      !bytes_of(env, argv[3], &j->out, &j->out_len) || !u32_of(env, argv[4], &offset) ||
      !typed_of(env, argv[5], napi_uint32_array, &sealed_lens, &lens_count) || spans_count % 2 != 0 || lens_count < spans_count / 2) {
    napi_throw_type_error(env, NULL, "native core: sealMany(codec, data, spans, out, offset, sealedLens)");
    return 0;
  }
  const uint32_t *sp = (const uint32_t *)spans;
  uint64_t room = offset;
  int ok = 1;
  for (size_t k = 0; ok && k < spans_count / 2; k++) {
    ok = (uint64_t)sp[2 * k] + sp[2 * k + 1] <= j->data_len;
    room += (uint64_t)sp[2 * k + 1] + SEAL_OVERHEAD;
  }
  if (!ok || room > j->out_len) {
    napi_throw_range_error(env, NULL, "native core: sealMany: a blob outside its buffer, or no room for the sealed blobs");
    return 0;
  }
  j->lens = (uint32_t *)spans;
  j->lens_count = spans_count / 2;
  j->limit = offset;
  j->at = (uint32_t *)sealed_lens;
  return 1;
}

static size_t encode_into(codec_t *c, const uint8_t *raw, size_t len, uint8_t *out);

static size_t seal_many(job_t *j) {
  size_t at = j->limit;
  for (size_t k = 0; k < j->lens_count; k++) {
    size_t n = encode_into(j->c, j->data + j->lens[2 * k], j->lens[2 * k + 1], j->out + at);
    if (n == 0) return k;
    j->at[k] = (uint32_t)n;
    at += n;
  }
  return j->lens_count;
}

/* The work itself; for encodeInto 0 means sealing failed. */
static void job_run(job_t *j) {
  switch (j->kind) {
    case JOB_SCAN:
      j->result = scan_chunks(j->c, j->in, j->in_len, j->eof, j->out, j->out_len, j->lens, j->lens_count);
      break;
    case JOB_ENCODE_INTO:
      j->result = encode_into(j->c, j->in, j->in_len, j->out);
      break;
    case JOB_READ_SMALL:
      j->result = read_small(j);
      break;
    case JOB_SEAL_MANY:
      j->result = seal_many(j);
      break;
  }
}

typedef int (*job_parse_t)(napi_env, size_t, napi_value *, job_t *);

/* Runs a job at once on this thread. */
static napi_value job_now(napi_env env, napi_callback_info info, job_parse_t parse) {
  size_t argc = JOB_ARGS;
  napi_value argv[JOB_ARGS];
  job_t j;
  memset(&j, 0, sizeof(j));
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!parse(env, argc, argv, &j)) return NULL;
  job_run(&j);
  if (j.kind == JOB_ENCODE_INTO && j.result == 0) {
    napi_throw_error(env, "INTERNAL", "native core: sealing failed");
    return NULL;
  }
  napi_value result;
  CHECK(napi_create_uint32(env, (uint32_t)j.result, &result));
  return result;
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  job_run((job_t *)data);
}

static void job_free(napi_env env, job_t *j) {
  for (int i = 0; i < j->kept; i++) napi_delete_reference(env, j->keep[i]);
  if (j->c) j->c->busy = 0;
  if (j->work) napi_delete_async_work(env, j->work);
  free(j);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = (job_t *)data;
  napi_value value = NULL;
  if (status == napi_ok && !(j->kind == JOB_ENCODE_INTO && j->result == 0)) {
    if (napi_create_double(env, (double)j->result, &value) == napi_ok) napi_resolve_deferred(env, j->deferred, value);
  } else {
    napi_value code, msg;
    if (napi_create_string_utf8(env, "INTERNAL", NAPI_AUTO_LENGTH, &code) == napi_ok &&
        napi_create_string_utf8(env, status == napi_ok ? "native core: sealing failed" : "native core: the work was cancelled", NAPI_AUTO_LENGTH, &msg) == napi_ok &&
        napi_create_error(env, code, msg, &value) == napi_ok)
      napi_reject_deferred(env, j->deferred, value);
  }
  job_free(env, j);
}

/* Queues a job for libuv's threads; returns the promise of its number. */
static napi_value job_later(napi_env env, napi_callback_info info, job_parse_t parse) {
  size_t argc = JOB_ARGS;
  napi_value argv[JOB_ARGS], promise, name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  job_t *j = (job_t *)calloc(1, sizeof(job_t));
  if (!j) {
    napi_throw_error(env, "INTERNAL", "native core: out of memory");
    return NULL;
  }
  if (!parse(env, argc, argv, j)) {
    free(j);
    return NULL;
  }
  codec_t *c = j->c;
  j->c = NULL;
  for (size_t i = 0; i < argc && i < JOB_ARGS; i++) {
    napi_valuetype t;
    if (napi_typeof(env, argv[i], &t) != napi_ok || (t != napi_object && t != napi_external)) continue;
    if (napi_create_reference(env, argv[i], 1, &j->keep[j->kept]) != napi_ok) break;
    j->kept++;
  }
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok || napi_create_string_utf8(env, "strongbox:core", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work) != napi_ok) {
    job_free(env, j);
    napi_throw_error(env, "INTERNAL", "native core: could not queue the work");
    return NULL;
  }
  /* From here until job_complete the codec is this job's. */
  j->c = c;
  c->busy = 1;
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    job_free(env, j);
    napi_throw_error(env, "INTERNAL", "native core: could not queue the work");
    return NULL;
  }
  return promise;
}

static napi_value js_scan(napi_env env, napi_callback_info info) { return job_now(env, info, scan_job); }
static napi_value js_scan_async(napi_env env, napi_callback_info info) { return job_later(env, info, scan_job); }
static napi_value js_encode_into(napi_env env, napi_callback_info info) { return job_now(env, info, encode_into_job); }
static napi_value js_encode_into_async(napi_env env, napi_callback_info info) { return job_later(env, info, encode_into_job); }
static napi_value js_read_small(napi_env env, napi_callback_info info) { return job_now(env, info, read_small_job); }
static napi_value js_read_small_async(napi_env env, napi_callback_info info) { return job_later(env, info, read_small_job); }
static napi_value js_seal_many(napi_env env, napi_callback_info info) { return job_now(env, info, seal_many_job); }
static napi_value js_seal_many_async(napi_env env, napi_callback_info info) { return job_later(env, info, seal_many_job); }

/* id(codec, data, out?, at?) → the keyed id (into out at `at` when given, returning out) */
static napi_value js_id(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c = codec_of(env, argv[0]);
  if (!c) return NULL;
  uint8_t *data;
  size_t len;
  if (argc < 2 || !bytes_of(env, argv[1], &data, &len)) {
    napi_throw_type_error(env, NULL, "native core: id(codec, data, out?, at?)");
    return NULL;
  }
  if (argc >= 4) {
    uint8_t *out;
    size_t out_len;
    uint32_t at;
    if (!bytes_of(env, argv[2], &out, &out_len) || !u32_of(env, argv[3], &at) || (size_t)at + 32 > out_len) {
      napi_throw_range_error(env, NULL, "native core: id output out of range");
      return NULL;
    }
    mac(c, data, len, out + at);
    return argv[2];
  }
  void *out;
  napi_value result;
  CHECK(napi_create_buffer(env, 32, &out, &result));
  mac(c, data, len, (uint8_t *)out);
  return result;
}

static int compresses(codec_t *c, const uint8_t *raw, size_t len, uint8_t *dst, size_t cap) {
  size_t z = ZSTD_compress2(c->cctx, dst, cap, raw, len);
  return !ZSTD_isError(z) && (double)z < (double)len * 0.97;
}

/* encode(codec, raw) → sealed blob: compressed where it pays (as BlobCodec.encode decides), then sealed */
/*
 * encode(codec, raw) → the sealed blob, in a new buffer of its exact length.
 * encodeInto(codec, raw, out, offset) → the sealed length, written at out[offset…]: the
 * caller's buffer, reused from blob to blob (no garbage per blob). `out` must have room for
 * raw.length + SEAL_OVERHEAD bytes after `offset` (a blob is stored raw when zstd does not
 * pay), or it throws and writes nothing.
 */

/* Whether a chunk is worth compressing whole: a small one always is, a large one when one of
   three probes (start, middle, end: a chunk random at the start may be zeros later) compresses. */
static int worth_compressing(codec_t *c, const uint8_t *raw, size_t len, uint8_t *dst, size_t cap) {
  if (len < 64) return 0;
  if (len <= 4 * SAMPLE) return 1;
  const size_t part = SAMPLE / 4;
  const size_t at[3] = {0, (len - part) >> 1, len - part};
  for (int k = 0; k < 3; k++)
    if (compresses(c, raw + at[k], part, dst, cap)) return 1;
  return 0;
}

/* Seals enc ‖ payload into out: nonce ‖ ciphertext ‖ tag (the payload may already be at
   out + NONCE_LEN + 1: it is then encrypted in place). 0 when sealing failed. */
static int seal_blob(codec_t *c, uint8_t enc, const uint8_t *payload, size_t payload_len, uint8_t *out) {
  int n1 = 0, n3 = 0;
  int ok = next_nonce(c, out) && EVP_EncryptInit_ex(c->seal, NULL, NULL, NULL, out) == 1 &&
           EVP_EncryptUpdate(c->seal, out + NONCE_LEN, &n1, &enc, 1) == 1;
  /* EVP's lengths are ints: a payload above 1 GiB goes in pieces. */
  for (size_t done = 0; ok && done < payload_len;) {
    int piece = (int)(payload_len - done > (1u << 30) ? (1u << 30) : payload_len - done);
    int w = 0;
    ok = EVP_EncryptUpdate(c->seal, out + NONCE_LEN + 1 + done, &w, payload + done, piece) == 1;
    done += (size_t)piece;
  }
  return ok && EVP_EncryptFinal_ex(c->seal, out + NONCE_LEN + 1 + payload_len, &n3) == 1 &&
         EVP_CIPHER_CTX_ctrl(c->seal, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + NONCE_LEN + 1 + payload_len) == 1;
}

/*
 * encodeInto's work, touching no JavaScript value (it also runs on libuv's threads): raw sealed
 * at out, which has room for len + SEAL_OVERHEAD bytes. Compressed straight to where the
 * payload goes (room for the raw length: a frame that would not fit is one not worth keeping),
 * then sealed in place; no scratch buffer as large as the chunk. The sealed length, or 0 when
 * sealing failed.
 */
static size_t encode_into(codec_t *c, const uint8_t *raw, size_t len, uint8_t *out) {
  uint8_t *dst = out + NONCE_LEN + 1;
  uint8_t enc = ENC_RAW;
  size_t payload_len = len;
  size_t zl = worth_compressing(c, raw, len, dst, len) ? ZSTD_compress2(c->cctx, dst, len, raw, len) : 0;
  if (zl > 0 && !ZSTD_isError(zl) && (double)zl < (double)len * 0.97) {
    enc = ENC_ZSTD;
    payload_len = zl;
  } else if (len > 0) {
    memmove(dst, raw, len);
  }
  return seal_blob(c, enc, dst, payload_len, out) ? NONCE_LEN + 1 + payload_len + TAG_LEN : 0;
}

/*
 * encode(codec, raw) → the sealed blob, in a new buffer of its exact length: compressed where it
 * pays (as BlobCodec.encode decides), then sealed.
 * encodeInto(codec, raw, out, offset) → the sealed length, written at out[offset…]: the
 * caller's buffer, reused from blob to blob (no garbage per blob). `out` must have room for
 * raw.length + SEAL_OVERHEAD bytes after `offset` (a blob is stored raw when zstd does not
 * pay), or it throws and writes nothing.
 */
static napi_value js_encode(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c = argc > 0 ? codec_of(env, argv[0]) : NULL;
  if (!c) return NULL;
  uint8_t *raw;
  size_t len;
  if (argc < 2 || !bytes_of(env, argv[1], &raw, &len)) {
    napi_throw_type_error(env, NULL, "native core: encode(codec, raw)");
    return NULL;
  }
  napi_value result;
  uint8_t enc = ENC_RAW;
  const uint8_t *payload = raw;
  size_t payload_len = len;
  if (len >= 64) {
    size_t bound = ZSTD_compressBound(len);
    uint8_t *z = scratch(c, bound);
    if (!z) {
      napi_throw_error(env, "INTERNAL", "native core: out of memory");
      return NULL;
    }
    if (worth_compressing(c, raw, len, z, bound)) {
      size_t zl = ZSTD_compress2(c->cctx, z, bound, raw, len);
      if (!ZSTD_isError(zl) && (double)zl < (double)len * 0.97) {
        enc = ENC_ZSTD;
        payload = z;
        payload_len = zl;
      }
    }
  }
  void *out_ptr;
  CHECK(napi_create_buffer(env, NONCE_LEN + 1 + payload_len + TAG_LEN, &out_ptr, &result));
  int ok = seal_blob(c, enc, payload, payload_len, (uint8_t *)out_ptr);
  trim_scratch(c);
  if (!ok) {
    napi_throw_error(env, "INTERNAL", "native core: sealing failed");
    return NULL;
  }
  return result;
}

/* The arguments of decode, decodeInto and decodeInPlace: a codec, the sealed bytes, an expected
   id (undefined, null or 32 bytes) and, where `with_out`, the output buffer. 0 when they are
   wrong (a TypeError is thrown naming `usage`). */
static int decode_args(napi_env env, napi_callback_info info, int with_out, const char *usage, codec_t **c, uint8_t **sealed, size_t *len,
                       uint8_t **expected, uint8_t **dest, size_t *cap) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "INTERNAL", "native core: napi_get_cb_info failed");
    return 0;
  }
  *c = argc > 0 ? codec_of(env, argv[0]) : NULL;
  if (!*c) return 0;
  if (argc < 2 || !bytes_of(env, argv[1], sealed, len) || (with_out && (argc < 4 || !bytes_of(env, argv[3], dest, cap)))) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  *expected = NULL;
  if (argc >= 3) {
    napi_valuetype t;
    size_t expected_len = 0;
    if (napi_typeof(env, argv[2], &t) != napi_ok) t = napi_undefined;
    if (t != napi_undefined && t != napi_null && (!bytes_of(env, argv[2], expected, &expected_len) || expected_len != 32)) {
      napi_throw_type_error(env, NULL, "native core: the expected id is 32 bytes");
      return 0;
    }
  }
  return 1;
}

/* The decompressed size a zstd frame declares, bounded: 0 and a thrown CORRUPT error when it
   declares none or an absurd one. */
static int declared_size(napi_env env, const uint8_t *frame, size_t len, size_t *out) {
  unsigned long long declared = ZSTD_getFrameContentSize(frame, len);
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR) {
    throw_corrupt(env, "declares no decompressed size; refusing it.");
    return 0;
  }
  if (declared > MAX_BLOB_BYTES) {
    char msg[128];
    snprintf(msg, sizeof(msg), "declares an absurd (%llu bytes) decompressed size; refusing it.", declared);
    throw_corrupt(env, msg);
    return 0;
  }
  *out = (size_t)declared;
  return 1;
}

/* 1 when there is no expected id or the plaintext has it; else 0 and a thrown CORRUPT error. */
static int id_matches(napi_env env, codec_t *c, const uint8_t *raw, size_t len, const uint8_t *expected) {
  if (!expected) return 1;
  uint8_t id[32];
  mac(c, raw, len, id);
  if (CRYPTO_memcmp(id, expected, 32) == 0) return 1;
  throw_corrupt(env, "does not match its id.");
  return 0;
}

/*
 * decode(codec, sealed, expectedId | undefined) → raw, in a new buffer.
 * decodeInto(codec, sealed, expectedId | undefined, out) → the raw length, written into `out`
 * (a buffer the caller reuses: no garbage per blob); when `out` is too small, minus the length
 * it needs (bounded: at most the sealed length, or MAX_BLOB_BYTES for a zstd frame), nothing
 * written. Errors are thrown with code CORRUPT and the end of the sentence BlobCodec.decode
 * says ("failed authentication …"); the caller adds what.
 */
static napi_value decode(napi_env env, napi_callback_info info, int into_mode) {
  codec_t *c;
  uint8_t *sealed, *expected, *dest = NULL;
  size_t len, cap = 0;
  if (!decode_args(env, info, into_mode, into_mode ? "native core: decodeInto(codec, sealed, expectedId, out)" : "native core: decode(codec, sealed, expectedId?)", &c, &sealed,
                   &len, &expected, &dest, &cap))
    return NULL;
  if (len < NONCE_LEN + TAG_LEN) return throw_corrupt(env, "is too short to be a sealed object.");
  const size_t body = len - NONCE_LEN - TAG_LEN;
  if (body == 0) return throw_corrupt(env, "has an unknown encoding undefined.");
  /* The first byte says where the rest goes: a raw payload straight into the result, a zstd
     frame into the scratch buffer. Nothing is used or returned before the tag is checked. */
  uint8_t enc = 0;
  int w = 0;
  int ok = EVP_DecryptInit_ex(c->open, NULL, NULL, NULL, sealed) == 1 &&
           EVP_CIPHER_CTX_ctrl(c->open, EVP_CTRL_GCM_SET_TAG, TAG_LEN, (void *)(sealed + len - TAG_LEN)) == 1 &&
           EVP_DecryptUpdate(c->open, &enc, &w, sealed + NONCE_LEN, 1) == 1;
  if (!ok) return throw_corrupt(env, "failed authentication (damaged or tampered).");
  const size_t rest = body - 1;
  void *out_ptr = NULL;
  napi_value result = NULL;
  uint8_t *into;
  if (enc == ENC_RAW && into_mode && rest > cap) {
    napi_value need;
    CHECK(napi_create_double(env, -(double)rest, &need));
    return need;
  }
  if (enc == ENC_RAW && into_mode) {
    into = dest;
  } else if (enc == ENC_RAW) {
    CHECK(napi_create_buffer(env, rest, &out_ptr, &result));
    into = (uint8_t *)out_ptr;
  } else {
    into = scratch(c, rest + 1);
    if (!into) {
      napi_throw_error(env, "INTERNAL", "native core: out of memory");
      return NULL;
    }
  }
  for (size_t done = 0; ok && done < rest;) {
    int piece = (int)(rest - done > (1u << 30) ? (1u << 30) : rest - done);
    ok = EVP_DecryptUpdate(c->open, into + done, &w, sealed + NONCE_LEN + 1 + done, piece) == 1;
    done += (size_t)piece;
  }
  uint8_t tail[TAG_LEN];
  /* The tag is checked here, before a byte of the plaintext is used. */
  if (!ok || EVP_DecryptFinal_ex(c->open, tail, &w) != 1) {
    trim_scratch(c);
    return throw_corrupt(env, "failed authentication (damaged or tampered).");
  }
  size_t raw_len = rest;
  uint8_t *raw = into;
  if (enc == ENC_ZSTD) {
    if (!declared_size(env, into, rest, &raw_len)) {
      trim_scratch(c);
      return NULL;
    }
    if (into_mode && raw_len > cap) {
      trim_scratch(c);
      napi_value need;
      CHECK(napi_create_double(env, -(double)raw_len, &need));
      return need;
    }
    if (into_mode) raw = dest;
    else {
      CHECK(napi_create_buffer(env, raw_len, &out_ptr, &result));
      raw = (uint8_t *)out_ptr;
    }
    size_t got = ZSTD_decompressDCtx(c->dctx, raw, raw_len, into, rest);
    if (ZSTD_isError(got) || got != raw_len) {
      trim_scratch(c);
      return throw_corrupt(env, "does not decompress.");
    }
  } else if (enc != ENC_RAW) {
    char msg[64];
    trim_scratch(c);
    snprintf(msg, sizeof(msg), "has an unknown encoding %u.", (unsigned)enc);
    return throw_corrupt(env, msg);
  }
  trim_scratch(c);
  if (!id_matches(env, c, raw, raw_len, expected)) return NULL;
  if (into_mode) {
    napi_value n;
    CHECK(napi_create_double(env, (double)raw_len, &n));
    return n;
  }
  return result;
}

/* ---------------------------------------------------------------- directory listing */

/*
 * lstatAt(dir, names, ends, meta) → how many entries JavaScript must stat itself.
 * names holds the entries' names back to back, ends[i] where name i ends; meta gets 13
 * doubles per entry, laid out as src/repo/workers/listing.ts reads them. The directory
 * is opened once and each entry looked up relative to it (fstatat): on this kind of
 * machine about 2 µs a call, against 3.2 µs for lstat of the whole path and about 7.5 µs
 * for Node's lstatSync with BigInts. An entry whose lstat fails gets kind -1 and its errno
 * in the mode field; one with a value a double cannot hold exactly (or a time before 1970),
 * or a name readdir would not give, gets kind -2: JavaScript stats it again with BigInts.
 */
#define F_FIELDS 13
static napi_value js_lstat_at(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *dir, *names;
  size_t dir_len, names_len, ends_count, meta_count, off1, off2;
  napi_typedarray_type t1, t2;
  void *ends_ptr, *meta_ptr;
  napi_value ab;
  if (argc < 4 || !bytes_of(env, argv[0], &dir, &dir_len) || !bytes_of(env, argv[1], &names, &names_len) ||
      napi_get_typedarray_info(env, argv[2], &t1, &ends_count, &ends_ptr, &ab, &off1) != napi_ok || t1 != napi_uint32_array ||
      napi_get_typedarray_info(env, argv[3], &t2, &meta_count, &meta_ptr, &ab, &off2) != napi_ok || t2 != napi_float64_array ||
      meta_count < ends_count * F_FIELDS || dir_len == 0 || dir_len > 4095 || memchr(dir, 0, dir_len) != NULL) {
    napi_throw_type_error(env, NULL, "native core: lstatAt(dir, names, ends, meta)");
    return NULL;
  }
  const uint32_t *ends = (const uint32_t *)ends_ptr;
  double *meta = (double *)meta_ptr;
  char path[4096];
  memcpy(path, dir, dir_len);
  path[dir_len] = 0;
  uint32_t fallback = 0;
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    /* The directory cannot be opened (it went away, say): JavaScript stats every entry. */
    for (size_t i = 0; i < ends_count; i++) meta[i * F_FIELDS] = -2;
    fallback = (uint32_t)ends_count;
  } else {
    const double SAFE = 9007199254740991.0;
    char name[4096];
    size_t start = 0;
    for (size_t i = 0; i < ends_count; i++) {
      double *m = meta + i * F_FIELDS;
      size_t end = ends[i];
      if (end < start || end > names_len || end - start == 0 || end - start >= sizeof(name) || memchr(names + start, 0, end - start) != NULL ||
          memchr(names + start, '/', end - start) != NULL) {
        /* Not a name readdir gives: JavaScript decides what it is. */
        m[0] = -2;
        fallback++;
        if (end >= start && end <= names_len) start = end;
        continue;
      }
      memcpy(name, names + start, end - start);
      name[end - start] = 0;
      start = end;
      struct stat st;
      if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        m[0] = -1;
        m[1] = errno;
        continue;
      }
      if ((double)st.st_size > SAFE || st.st_size < 0 || (double)st.st_ino > SAFE || (double)st.st_dev > SAFE || (double)st.st_rdev > SAFE ||
          st.st_mtim.tv_sec < 0 || st.st_ctim.tv_sec < 0) {
        m[0] = -2;
        fallback++;
        continue;
      }
      m[0] = S_ISREG(st.st_mode) ? 0 : S_ISDIR(st.st_mode) ? 1 : S_ISLNK(st.st_mode) ? 2 : S_ISFIFO(st.st_mode) ? 3 : S_ISSOCK(st.st_mode) ? 4 : S_ISCHR(st.st_mode) ? 5 : 6;
      m[1] = st.st_mode;
      m[2] = st.st_uid;
      m[3] = st.st_gid;
      m[4] = (double)st.st_size;
      m[5] = (double)st.st_nlink;
      m[6] = (double)st.st_ino;
      m[7] = (double)st.st_dev;
      m[8] = (double)st.st_rdev;
      m[9] = (double)st.st_mtim.tv_sec;
      m[10] = (double)st.st_mtim.tv_nsec;
      m[11] = (double)st.st_ctim.tv_sec;
      m[12] = (double)st.st_ctim.tv_nsec;
    }
    close(fd);
  }
  napi_value result;
  CHECK(napi_create_uint32(env, fallback, &result));
  return result;
}

/*
 * decodeInPlace(codec, sealed, expectedId | undefined, out) → the raw length, or a new buffer.
 * Decrypts in the caller's `sealed` bytes themselves (they are destroyed; no scratch buffer as
 * large as the blob): afterwards sealed[NONCE_LEN] is the encoding byte. A raw blob's bytes
 * are then sealed[NONCE_LEN + 1 …] and the length is returned; a zstd frame is decompressed
 * into `out` (the length is returned) or, when `out` is too small, into a new buffer, which is
 * returned. The tag is checked before a byte is used, the id after, as in decode.
 */
static napi_value js_decode_in_place(napi_env env, napi_callback_info info) {
  codec_t *c;
  uint8_t *sealed, *expected, *dest = NULL;
  size_t len, cap = 0;
  if (!decode_args(env, info, 1, "native core: decodeInPlace(codec, sealed, expectedId, out)", &c, &sealed, &len, &expected, &dest, &cap)) return NULL;
  if (len < NONCE_LEN + TAG_LEN) return throw_corrupt(env, "is too short to be a sealed object.");
  const size_t body = len - NONCE_LEN - TAG_LEN;
  if (body == 0) return throw_corrupt(env, "has an unknown encoding undefined.");
  uint8_t tag[TAG_LEN];
  memcpy(tag, sealed + len - TAG_LEN, TAG_LEN);
  int w = 0;
  int ok = EVP_DecryptInit_ex(c->open, NULL, NULL, NULL, sealed) == 1 && EVP_CIPHER_CTX_ctrl(c->open, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1;
  for (size_t done = 0; ok && done < body;) {
    int piece = (int)(body - done > (1u << 30) ? (1u << 30) : body - done);
    ok = EVP_DecryptUpdate(c->open, sealed + NONCE_LEN + done, &w, sealed + NONCE_LEN + done, piece) == 1;
    done += (size_t)piece;
  }
  uint8_t tail[TAG_LEN];
  /* The tag is checked here, before a byte of the plaintext is used. */
  if (!ok || EVP_DecryptFinal_ex(c->open, tail, &w) != 1) return throw_corrupt(env, "failed authentication (damaged or tampered).");
  const uint8_t enc = sealed[NONCE_LEN];
  uint8_t *plain = sealed + NONCE_LEN + 1;
  const size_t rest = body - 1;
  uint8_t *raw = plain;
  size_t raw_len = rest;
  napi_value result = NULL;
  if (enc == ENC_ZSTD) {
    if (!declared_size(env, plain, rest, &raw_len)) return NULL;
    if (raw_len <= cap) raw = dest;
    else {
      void *out_ptr;
      CHECK(napi_create_buffer(env, raw_len, &out_ptr, &result));
      raw = (uint8_t *)out_ptr;
    }
    size_t got = ZSTD_decompressDCtx(c->dctx, raw, raw_len, plain, rest);
    if (ZSTD_isError(got) || got != raw_len) return throw_corrupt(env, "does not decompress.");
  } else if (enc != ENC_RAW) {
    char msg[64];
    snprintf(msg, sizeof(msg), "has an unknown encoding %u.", (unsigned)enc);
    return throw_corrupt(env, msg);
  }
  if (!id_matches(env, c, raw, raw_len, expected)) return NULL;
  if (result) return result;
  napi_value n;
  CHECK(napi_create_double(env, (double)raw_len, &n));
  return n;
}

static napi_value js_decode(napi_env env, napi_callback_info info) { return decode(env, info, 0); }
static napi_value js_decode_into(napi_env env, napi_callback_info info) { return decode(env, info, 1); }

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"codec", NULL, js_codec, NULL, NULL, NULL, napi_default, NULL},
      {"cut", NULL, js_cut, NULL, NULL, NULL, napi_default, NULL},
      {"scan", NULL, js_scan, NULL, NULL, NULL, napi_default, NULL},
      {"id", NULL, js_id, NULL, NULL, NULL, napi_default, NULL},
      {"encode", NULL, js_encode, NULL, NULL, NULL, napi_default, NULL},
      {"encodeInto", NULL, js_encode_into, NULL, NULL, NULL, napi_default, NULL},
      {"scanAsync", NULL, js_scan_async, NULL, NULL, NULL, napi_default, NULL},
      {"encodeIntoAsync", NULL, js_encode_into_async, NULL, NULL, NULL, napi_default, NULL},
      {"readSmall", NULL, js_read_small, NULL, NULL, NULL, napi_default, NULL},
      {"readSmallAsync", NULL, js_read_small_async, NULL, NULL, NULL, napi_default, NULL},
      {"sealMany", NULL, js_seal_many, NULL, NULL, NULL, napi_default, NULL},
      {"sealManyAsync", NULL, js_seal_many_async, NULL, NULL, NULL, napi_default, NULL},
      {"decode", NULL, js_decode, NULL, NULL, NULL, napi_default, NULL},
      {"decodeInto", NULL, js_decode_into, NULL, NULL, NULL, napi_default, NULL},
      {"decodeInPlace", NULL, js_decode_in_place, NULL, NULL, NULL, napi_default, NULL},
      {"lstatAt", NULL, js_lstat_at, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value version;
  napi_create_string_utf8(env, ZSTD_versionString(), NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "zstdVersion", version);
  return exports;
}
