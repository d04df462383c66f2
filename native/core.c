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
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "tree-scan.h"

#define NONCE_LEN 12
#define TAG_LEN 16
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
  /* Set while work on libuv's threads uses this codec (restoreRange): no other call may. */
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
    napi_throw_error(env, "INTERNAL", "native core: the codec is in use by work in progress");
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
 * scan(codec, buf, filled, eof, ids, lens) → count: every chunk of buf[0, filled) that is final
 * (a cut at the very end is final only at end of input or at the maximum size), its length into
 * lens (Uint32Array) and its id into ids (32 bytes each). The caller keeps the rest for later.
 */
static napi_value js_scan(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c = codec_of(env, argv[0]);
  if (!c) return NULL;
  uint8_t *buf, *ids;
  size_t len, ids_len;
  uint32_t filled;
  bool eof;
  napi_typedarray_type type;
  size_t lens_count, offset;
  void *lens_ptr;
  napi_value ab;
  if (argc < 6 || !bytes_of(env, argv[1], &buf, &len) || !u32_of(env, argv[2], &filled) || filled > len ||
      napi_get_value_bool(env, argv[3], &eof) != napi_ok || !bytes_of(env, argv[4], &ids, &ids_len) ||
      napi_get_typedarray_info(env, argv[5], &type, &lens_count, &lens_ptr, &ab, &offset) != napi_ok || type != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "native core: scan(codec, buf, filled, eof, ids, lens)");
    return NULL;
  }
  uint32_t *lens = (uint32_t *)lens_ptr;
  size_t count = 0, start = 0;
  while (start < filled && count < lens_count && (count + 1) * 32 <= ids_len) {
    size_t n = cut(c, buf, start, filled);
    if (!eof && start + n == filled && n < c->max) break;
    chunk_id(c, buf + start, n, ids + count * 32);
    lens[count++] = (uint32_t)n;
    start += n;
  }
  napi_value result;
  CHECK(napi_create_uint32(env, (uint32_t)count, &result));
  return result;
}

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
#define SEAL_OVERHEAD (NONCE_LEN + 1 + TAG_LEN)
static napi_value encode(napi_env env, napi_callback_info info, int into_mode) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c = codec_of(env, argv[0]);
  if (!c) return NULL;
  uint8_t *raw;
  size_t len;
  uint8_t *into = NULL;
  size_t into_len = 0;
  uint32_t offset = 0;
  if (argc < (into_mode ? 4u : 2u) || !bytes_of(env, argv[1], &raw, &len) ||
      (into_mode && (!bytes_of(env, argv[2], &into, &into_len) || !u32_of(env, argv[3], &offset)))) {
    napi_throw_type_error(env, NULL, into_mode ? "native core: encodeInto(codec, raw, out, offset)" : "native core: encode(codec, raw)");
    return NULL;
  }
  if (into_mode && (offset > into_len || into_len - offset < len + SEAL_OVERHEAD)) {
    napi_throw_range_error(env, NULL, "native core: encodeInto: no room for the sealed blob");
    return NULL;
  }
  uint8_t enc = ENC_RAW;
  const uint8_t *payload = raw;
  size_t payload_len = len;
  if (into_mode) {
    /* Into the caller's buffer: compressed straight to where the payload goes (room for the raw
       length: a frame that would not fit is one not worth keeping), then sealed in place; no
       scratch buffer as large as the chunk. */
    uint8_t *dst = into + offset + NONCE_LEN + 1;
    int worth = len >= 64 && len <= 4 * SAMPLE;
    if (len > 4 * SAMPLE) {
      const size_t part = SAMPLE / 4;
      const size_t at[3] = {0, (len - part) >> 1, len - part};
      for (int k = 0; k < 3 && !worth; k++) worth = compresses(c, raw + at[k], part, dst, len);
    }
    size_t zl = worth ? ZSTD_compress2(c->cctx, dst, len, raw, len) : 0;
    if (worth && !ZSTD_isError(zl) && (double)zl < (double)len * 0.97) {
      enc = ENC_ZSTD;
      payload_len = zl;
    } else if (len > 0) {
      memcpy(dst, raw, len);
    }
    payload = dst;
  } else if (len >= 64) {
    size_t bound = ZSTD_compressBound(len);
    uint8_t *z = scratch(c, bound);
    if (!z) {
      napi_throw_error(env, "INTERNAL", "native core: out of memory");
      return NULL;
    }
    int worth = len <= 4 * SAMPLE;
    if (!worth) {
      /* Probes from the start, the middle and the end (a chunk random at the start may be zeros later). */
      const size_t part = SAMPLE / 4;
      const size_t at[3] = {0, (len - part) >> 1, len - part};
      for (int k = 0; k < 3 && !worth; k++) worth = compresses(c, raw + at[k], part, z, bound);
    }
    if (worth) {
      size_t zl = ZSTD_compress2(c->cctx, z, bound, raw, len);
      if (!ZSTD_isError(zl) && (double)zl < (double)len * 0.97) {
        enc = ENC_ZSTD;
        payload = z;
        payload_len = zl;
      }
    }
  }
  const size_t sealed_len = NONCE_LEN + 1 + payload_len + TAG_LEN;
  uint8_t *out;
  napi_value result;
  if (into_mode) {
    out = into + offset;
    CHECK(napi_create_uint32(env, (uint32_t)sealed_len, &result));
  } else {
    void *out_ptr;
    CHECK(napi_create_buffer(env, sealed_len, &out_ptr, &result));
    out = (uint8_t *)out_ptr;
  }
  int n1 = 0, n2 = 0, n3 = 0;
  int ok = next_nonce(c, out) && EVP_EncryptInit_ex(c->seal, NULL, NULL, NULL, out) == 1 &&
           EVP_EncryptUpdate(c->seal, out + NONCE_LEN, &n1, &enc, 1) == 1;
  /* EVP's lengths are ints: a payload above 1 GiB goes in pieces. */
  for (size_t done = 0; ok && done < payload_len;) {
    int piece = (int)(payload_len - done > (1u << 30) ? (1u << 30) : payload_len - done);
    int w = 0;
    ok = EVP_EncryptUpdate(c->seal, out + NONCE_LEN + 1 + done, &w, payload + done, piece) == 1;
    done += (size_t)piece;
    n2 += w;
  }
  ok = ok && EVP_EncryptFinal_ex(c->seal, out + NONCE_LEN + 1 + payload_len, &n3) == 1 &&
       EVP_CIPHER_CTX_ctrl(c->seal, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + NONCE_LEN + 1 + payload_len) == 1;
  trim_scratch(c);
  if (!ok) {
    napi_throw_error(env, "INTERNAL", "native core: sealing failed");
    return NULL;
  }
  return result;
}
static napi_value js_encode(napi_env env, napi_callback_info info) { return encode(env, info, 0); }
static napi_value js_encode_into(napi_env env, napi_callback_info info) { return encode(env, info, 1); }

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

/*
 * Why a blob is refused, shared by decode, decodeInPlace and restoreRange. Each step
 * returns DEC_OK or why the blob is refused; dec_sentence says it in the words of
 * BlobCodec.decode (the caller puts what the blob is in front).
 */
enum { DEC_OK, DEC_SHORT, DEC_EMPTY, DEC_AUTH, DEC_NO_SIZE, DEC_ABSURD, DEC_NO_DECOMPRESS, DEC_ENCODING, DEC_ID, DEC_NOMEM, DEC_OUTSIDE };

static void dec_sentence(int code, unsigned long long detail, char *buf, size_t n) {
  switch (code) {
    case DEC_SHORT: snprintf(buf, n, "is too short to be a sealed object."); break;
    case DEC_EMPTY: snprintf(buf, n, "has an unknown encoding undefined."); break;
    case DEC_AUTH: snprintf(buf, n, "failed authentication (damaged or tampered)."); break;
    case DEC_NO_SIZE: snprintf(buf, n, "declares no decompressed size; refusing it."); break;
    case DEC_ABSURD: snprintf(buf, n, "declares an absurd (%llu bytes) decompressed size; refusing it.", detail); break;
    case DEC_NO_DECOMPRESS: snprintf(buf, n, "does not decompress."); break;
    case DEC_ENCODING: snprintf(buf, n, "has an unknown encoding %llu.", detail); break;
    case DEC_ID: snprintf(buf, n, "does not match its id."); break;
    case DEC_OUTSIDE: snprintf(buf, n, "lies outside the bytes read for it."); break;
    default: snprintf(buf, n, "could not be decoded: out of memory."); break;
  }
}

/* The decompressed size a zstd frame declares, bounded. */
static int frame_size(const uint8_t *frame, size_t len, size_t *out, unsigned long long *detail) {
  unsigned long long declared = ZSTD_getFrameContentSize(frame, len);
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR) return DEC_NO_SIZE;
  if (declared > MAX_BLOB_BYTES) {
    *detail = declared;
    return DEC_ABSURD;
  }
  *out = (size_t)declared;
  return DEC_OK;
}

static int id_is(codec_t *c, const uint8_t *raw, size_t len, const uint8_t *expected) {
  if (!expected) return DEC_OK;
  uint8_t id[32];
  mac(c, raw, len, id);
  return CRYPTO_memcmp(id, expected, 32) == 0 ? DEC_OK : DEC_ID;
}

static napi_value throw_dec(napi_env env, int code, unsigned long long detail) {
  char msg[128];
  dec_sentence(code, detail, msg, sizeof(msg));
  return throw_corrupt(env, msg);
}

/* frame_size, with a thrown CORRUPT error (and 0) when the frame declares none or an absurd one. */
static int declared_size(napi_env env, const uint8_t *frame, size_t len, size_t *out) {
  unsigned long long detail = 0;
  int code = frame_size(frame, len, out, &detail);
  if (code != DEC_OK) throw_dec(env, code, detail);
  return code == DEC_OK;
}

/* 1 when there is no expected id or the plaintext has it; else 0 and a thrown CORRUPT error. */
static int id_matches(napi_env env, codec_t *c, const uint8_t *raw, size_t len, const uint8_t *expected) {
  int code = id_is(c, raw, len, expected);
  if (code != DEC_OK) throw_dec(env, code, 0);
  return code == DEC_OK;
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

/* Decrypts sealed[0, len) in place and checks the tag: then *enc is the encoding byte and the
   payload is plain[0, rest). */
static int open_in_place(codec_t *c, uint8_t *sealed, size_t len, uint8_t *enc, uint8_t **plain, size_t *rest) {
  if (len < NONCE_LEN + TAG_LEN) return DEC_SHORT;
  const size_t body = len - NONCE_LEN - TAG_LEN;
  if (body == 0) return DEC_EMPTY;
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
  if (!ok || EVP_DecryptFinal_ex(c->open, tail, &w) != 1) return DEC_AUTH;
  *enc = sealed[NONCE_LEN];
  *plain = sealed + NONCE_LEN + 1;
  *rest = body - 1;
  return DEC_OK;
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
  uint8_t enc = 0, *plain = NULL;
  size_t rest = 0;
  unsigned long long detail = 0;
  int code = open_in_place(c, sealed, len, &enc, &plain, &rest);
  if (code != DEC_OK) return throw_dec(env, code, 0);
  uint8_t *raw = plain;
  size_t raw_len = rest;
  napi_value result = NULL;
  if (enc == ENC_ZSTD) {
    if ((code = frame_size(plain, rest, &raw_len, &detail)) != DEC_OK) return throw_dec(env, code, detail);
    if (raw_len <= cap) raw = dest;
    else {
      void *out_ptr;
      CHECK(napi_create_buffer(env, raw_len, &out_ptr, &result));
      raw = (uint8_t *)out_ptr;
    }
    size_t got = ZSTD_decompressDCtx(c->dctx, raw, raw_len, plain, rest);
    if (ZSTD_isError(got) || got != raw_len) return throw_dec(env, DEC_NO_DECOMPRESS, 0);
  } else if (enc != ENC_RAW) {
    return throw_dec(env, DEC_ENCODING, enc);
  }
  if ((code = id_is(c, raw, raw_len, expected)) != DEC_OK) return throw_dec(env, code, 0);
  if (result) return result;
  napi_value n;
  CHECK(napi_create_double(env, (double)raw_len, &n));
  return n;
}

/* ---------------------------------------------------------------- restoreRange */

/*
 * restoreRange(codec, data, plan) → a promise of one outcome per blob: { ok: true, rawLength }
 * or { ok: false, message }. On one of libuv's threads, each blob of a pack range read into
 * `data` is decrypted there (in place), decompressed, checked against its id and written into
 * its target files; a file that is that one blob is created and finished (size, owner, mode,
 * time) there too. It is what the restore's workers do (restoreJob in codec-worker.ts, the
 * reference), without a V8 isolate per core: a restore then needs no worker threads.
 *
 * `plan` (little-endian, made by src/repo/native/range-writer.ts and checked here before
 * anything is queued): u32 count, then per blob u32 off, u32 len, u8 hasId, 32 id bytes,
 * u32 whatLen, what, u32 targets, then per target f64 offset, u8 flags (1 create, 2 chown),
 * u32 mode, u32 uid, u32 gid, f64 size, f64 mtime seconds, u32 nanoseconds, u32 pathLen, path.
 *
 * Targets are opened as restoreJob opens them: a new file with O_EXCL, or the regular file
 * the main thread created; never through a symbolic link (O_NOFOLLOW), never a FIFO or a
 * device. A path with a NUL byte is refused (it would name another file). The codec is this
 * work's until it is done (any other call on it throws); `data` and `plan` are kept alive by
 * references, and nothing else touches a JavaScript value off the main thread.
 */
typedef struct {
  double offset;
  int create, chown;
  uint32_t mode, uid, gid;
  double size;
  double sec;
  uint32_t nsec;
  const uint8_t *path;
  size_t path_len;
} rtarget_t;

typedef struct {
  size_t off, len;
  const uint8_t *id;
  const uint8_t *what;
  size_t what_len;
  size_t first, count;
  /* the outcome: ok, or a decoding error (code, detail), or a file error (err, syscall, target) */
  int kind;
  int code;
  unsigned long long detail;
  int err;
  const char *syscall;
  size_t target;
  size_t raw_len;
} ritem_t;

enum { OUT_OK, OUT_DECODE, OUT_FILE, OUT_NOT_REGULAR, OUT_BAD_PATH };

typedef struct {
  codec_t *c;
  uint8_t *data;
  size_t data_len;
  ritem_t *items;
  size_t n_items;
  rtarget_t *targets;
  size_t n_targets;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref keep[3];
  int kept;
} rjob_t;

typedef struct {
  const uint8_t *p;
  size_t left;
} reader_t;

static int rd(reader_t *r, void *out, size_t n) {
  if (r->left < n) return 0;
  memcpy(out, r->p, n);
  r->p += n;
  r->left -= n;
  return 1;
}

static int rd_bytes(reader_t *r, const uint8_t **out, size_t n) {
  if (r->left < n) return 0;
  *out = r->p;
  r->p += n;
  r->left -= n;
  return 1;
}

/* Parses the plan into the job (items and targets point into it); 0 when it is malformed. */
static int parse_plan(const uint8_t *plan, size_t plan_len, rjob_t *j) {
  reader_t r = {plan, plan_len};
  uint32_t count;
  if (!rd(&r, &count, 4) || count > plan_len / 16) return 0;
  j->items = (ritem_t *)calloc(count ? count : 1, sizeof(ritem_t));
  if (!j->items) return 0;
  j->n_items = count;
  /* First pass: the items, counting the targets. */
  size_t n_targets = 0;
  for (uint32_t i = 0; i < count; i++) {
    ritem_t *it = &j->items[i];
    uint32_t off, len, what_len, targets;
    uint8_t has_id;
    const uint8_t *id;
    if (!rd(&r, &off, 4) || !rd(&r, &len, 4) || !rd(&r, &has_id, 1) || !rd_bytes(&r, &id, 32) || !rd(&r, &what_len, 4) || !rd_bytes(&r, &it->what, what_len) ||
        !rd(&r, &targets, 4))
      return 0;
    it->off = off;
    it->len = len;
    it->id = has_id ? id : NULL;
    it->what_len = what_len;
    it->first = n_targets;
    it->count = targets;
    for (uint32_t k = 0; k < targets; k++) {
      const uint8_t *skip;
      uint32_t path_len;
      if (!rd_bytes(&r, &skip, 8 + 1 + 12 + 8 + 8 + 4) || !rd(&r, &path_len, 4) || !rd_bytes(&r, &skip, path_len)) return 0;
    }
    n_targets += targets;
  }
  if (r.left != 0) return 0;
  j->targets = (rtarget_t *)calloc(n_targets ? n_targets : 1, sizeof(rtarget_t));
  if (!j->targets) return 0;
  j->n_targets = n_targets;
  /* Second pass: the targets (the plan is well formed now). */
  r = (reader_t){plan, plan_len};
  rd(&r, &count, 4);
  size_t t = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *skip;
    uint32_t what_len, targets;
    rd_bytes(&r, &skip, 4 + 4 + 1 + 32);
    rd(&r, &what_len, 4);
    rd_bytes(&r, &skip, what_len);
    rd(&r, &targets, 4);
    for (uint32_t k = 0; k < targets; k++, t++) {
      rtarget_t *tg = &j->targets[t];
      uint8_t flags;
      uint32_t path_len;
      rd(&r, &tg->offset, 8);
      rd(&r, &flags, 1);
      rd(&r, &tg->mode, 4);
      rd(&r, &tg->uid, 4);
      rd(&r, &tg->gid, 4);
      rd(&r, &tg->size, 8);
      rd(&r, &tg->sec, 8);
      rd(&r, &tg->nsec, 4);
      rd(&r, &path_len, 4);
      rd_bytes(&r, &tg->path, path_len);
      tg->path_len = path_len;
      tg->create = flags & 1;
      tg->chown = (flags & 2) != 0;
      if (!(tg->offset >= 0 && tg->offset <= 9007199254740991.0) || !(tg->size >= 0 && tg->size <= 9007199254740991.0) || tg->nsec >= 1000000000u ||
          tg->sec != tg->sec)
        return 0;
    }
  }
  return 1;
}

#define HOLE (64 * 1024)

/* Writes data at offset, leaving a hole for every all-zero 64 KiB segment (writeSparse). */
static int write_sparse(int fd, const uint8_t *data, size_t len, off_t offset) {
  size_t run = (size_t)-1;
  for (size_t seg = 0; seg < len; seg += HOLE) {
    size_t end = seg + HOLE < len ? seg + HOLE : len;
    int zero = is_zero(data + seg, end - seg);
    if (!zero && run == (size_t)-1) run = seg;
    if (run != (size_t)-1 && (zero || end == len)) {
      size_t stop = zero ? seg : end;
      for (size_t w = run; w < stop;) {
        ssize_t n = pwrite(fd, data + w, stop - w, offset + (off_t)w);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        w += (size_t)n;
      }
      run = (size_t)-1;
    }
  }
  return 0;
}

/* Writes one blob's bytes into one target; 0, or the outcome's kind with err and syscall set. */
static int write_target(const rtarget_t *t, const uint8_t *raw, size_t raw_len, int *err, const char **syscall) {
  char path[4096];
  if (t->path_len == 0 || t->path_len >= sizeof(path) || memchr(t->path, 0, t->path_len) != NULL) return OUT_BAD_PATH;
  memcpy(path, t->path, t->path_len);
  path[t->path_len] = 0;
  int fd;
  do fd = t->create ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600) : open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    *err = errno;
    *syscall = "open";
    return OUT_FILE;
  }
  int kind = OUT_OK;
  struct stat st;
  if (!t->create) {
    if (fstat(fd, &st) != 0) {
      *err = errno;
      *syscall = "fstat";
      kind = OUT_FILE;
    } else if (!S_ISREG(st.st_mode)) {
      kind = OUT_NOT_REGULAR;
    }
  }
  int e;
  if (kind == OUT_OK && (e = write_sparse(fd, raw, raw_len, (off_t)t->offset)) != 0) {
    *err = e;
    *syscall = "write";
    kind = OUT_FILE;
  }
  if (kind == OUT_OK && t->create) {
    struct timespec ts[2];
    ts[0].tv_sec = (time_t)t->sec;
    ts[0].tv_nsec = (long)t->nsec;
    ts[1] = ts[0];
    if (ftruncate(fd, (off_t)t->size) != 0) *syscall = "ftruncate";
    else if (t->chown && fchown(fd, t->uid, t->gid) != 0) *syscall = "fchown";
    else if (fchmod(fd, t->mode) != 0) *syscall = "fchmod";
    else if (futimens(fd, ts) != 0) *syscall = "futime";
    else *syscall = NULL;
    if (*syscall) {
      *err = errno;
      kind = OUT_FILE;
    }
  }
  if (close(fd) != 0 && kind == OUT_OK && errno != EINTR) {
    *err = errno;
    *syscall = "close";
    kind = OUT_FILE;
  }
  return kind;
}

static void rjob_execute(napi_env env, void *data) {
  (void)env;
  rjob_t *j = (rjob_t *)data;
  codec_t *c = j->c;
  /* Blobs are decrypted where they were read, unless two claim the same bytes (only a crafted
     index can): then each is decoded from a copy of its own. */
  int in_place = 1;
  for (size_t i = 1; i < j->n_items && in_place; i++) in_place = j->items[i].off >= j->items[i - 1].off + j->items[i - 1].len;
  for (size_t i = 0; i < j->n_items; i++) {
    ritem_t *it = &j->items[i];
    it->kind = OUT_DECODE;
    if (it->off > j->data_len || it->len > j->data_len - it->off) {
      it->code = DEC_OUTSIDE;
      continue;
    }
    uint8_t *sealed = j->data + it->off;
    uint8_t *copy = NULL;
    if (!in_place) {
      copy = (uint8_t *)malloc(it->len ? it->len : 1);
      if (!copy) {
        it->code = DEC_NOMEM;
        continue;
      }
      memcpy(copy, sealed, it->len);
      sealed = copy;
    }
    uint8_t enc = 0, *plain = NULL, *raw = NULL;
    size_t rest = 0, raw_len = 0;
    int code = open_in_place(c, sealed, it->len, &enc, &plain, &rest);
    if (code == DEC_OK && enc == ENC_ZSTD) {
      code = frame_size(plain, rest, &raw_len, &it->detail);
      if (code == DEC_OK) {
        raw = scratch(c, raw_len ? raw_len : 1);
        if (!raw) code = DEC_NOMEM;
      }
      if (code == DEC_OK) {
        size_t got = ZSTD_decompressDCtx(c->dctx, raw, raw_len, plain, rest);
        if (ZSTD_isError(got) || got != raw_len) code = DEC_NO_DECOMPRESS;
      }
    } else if (code == DEC_OK && enc == ENC_RAW) {
      raw = plain;
      raw_len = rest;
    } else if (code == DEC_OK) {
      code = DEC_ENCODING;
      it->detail = enc;
    }
    if (code == DEC_OK) code = id_is(c, raw, raw_len, it->id);
    it->code = code;
    if (code == DEC_OK) {
      it->kind = OUT_OK;
      it->raw_len = raw_len;
      for (size_t k = 0; k < it->count; k++) {
        int kind = write_target(&j->targets[it->first + k], raw, raw_len, &it->err, &it->syscall);
        if (kind != OUT_OK) {
          it->kind = kind;
          it->target = it->first + k;
          break;
        }
      }
    }
    free(copy);
  }
  trim_scratch(c);
}

static napi_value outcome_of(napi_env env, rjob_t *j, ritem_t *it) {
  napi_value o, v;
  if (napi_create_object(env, &o) != napi_ok) return NULL;
  napi_get_boolean(env, it->kind == OUT_OK, &v);
  napi_set_named_property(env, o, "ok", v);
  if (it->kind == OUT_OK) {
    napi_create_double(env, (double)it->raw_len, &v);
    napi_set_named_property(env, o, "rawLength", v);
    return o;
  }
  /* The messages restoreJob gives: BlobCodec's sentence after what the blob is, Node's for a file. */
  char head[160], *msg;
  size_t msg_len;
  if (it->kind == OUT_DECODE) {
    dec_sentence(it->code, it->detail, head, sizeof(head));
    msg_len = it->what_len + 1 + strlen(head);
    msg = (char *)malloc(msg_len + 1);
    if (msg) snprintf(msg, msg_len + 1, "%.*s %s", (int)it->what_len, (const char *)it->what, head);
  } else if (it->kind == OUT_NOT_REGULAR || it->kind == OUT_BAD_PATH) {
    const char *s = it->kind == OUT_NOT_REGULAR ? "the restore target is not a regular file" : "the restore target's path is empty, too long or holds a NUL byte";
    msg_len = strlen(s);
    msg = strdup(s);
  } else {
    const rtarget_t *t = &j->targets[it->target];
    int opened = strcmp(it->syscall, "open") == 0;
    snprintf(head, sizeof(head), "%s: %s, %s", uv_err_name(-it->err), uv_strerror(-it->err), it->syscall);
    msg_len = strlen(head) + (opened ? t->path_len + 3 : 0);
    msg = (char *)malloc(msg_len + 1);
    if (msg) {
      if (opened) snprintf(msg, msg_len + 1, "%s '%.*s'", head, (int)t->path_len, (const char *)t->path);
      else memcpy(msg, head, msg_len + 1);
    }
  }
  if (!msg) return NULL;
  napi_status st = napi_create_string_utf8(env, msg, msg_len, &v);
  free(msg);
  if (st != napi_ok) return NULL;
  napi_set_named_property(env, o, "message", v);
  return o;
}

static void rjob_free(napi_env env, rjob_t *j) {
  for (int i = 0; i < j->kept; i++) napi_delete_reference(env, j->keep[i]);
  if (j->c) j->c->busy = 0;
  if (j->work) napi_delete_async_work(env, j->work);
  free(j->items);
  free(j->targets);
  free(j);
}

static void rjob_complete(napi_env env, napi_status status, void *data) {
  rjob_t *j = (rjob_t *)data;
  napi_value result = NULL, o;
  int ok = status == napi_ok && napi_create_array_with_length(env, j->n_items, &result) == napi_ok;
  for (size_t i = 0; ok && i < j->n_items; i++) ok = (o = outcome_of(env, j, &j->items[i])) != NULL && napi_set_element(env, result, (uint32_t)i, o) == napi_ok;
  if (ok) napi_resolve_deferred(env, j->deferred, result);
  else {
    napi_value code, msg, err;
    if (napi_create_string_utf8(env, "INTERNAL", NAPI_AUTO_LENGTH, &code) == napi_ok &&
        napi_create_string_utf8(env, status == napi_ok ? "native core: out of memory" : "native core: the work was cancelled", NAPI_AUTO_LENGTH, &msg) == napi_ok &&
        napi_create_error(env, code, msg, &err) == napi_ok)
      napi_reject_deferred(env, j->deferred, err);
  }
  rjob_free(env, j);
}

static napi_value js_restore_range(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], promise, name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  codec_t *c = argc == 3 ? codec_of(env, argv[0]) : NULL;
  if (!c) {
    if (argc != 3) napi_throw_type_error(env, NULL, "native core: restoreRange(codec, data, plan)");
    return NULL;
  }
  uint8_t *data, *plan;
  size_t data_len, plan_len;
  rjob_t *j = (rjob_t *)calloc(1, sizeof(rjob_t));
  if (!j) {
    napi_throw_error(env, "INTERNAL", "native core: out of memory");
    return NULL;
  }
  if (!bytes_of(env, argv[1], &data, &data_len) || !bytes_of(env, argv[2], &plan, &plan_len) || !parse_plan(plan, plan_len, j)) {
    rjob_free(env, j);
    napi_throw_type_error(env, NULL, "native core: restoreRange(codec, data, plan): a malformed plan");
    return NULL;
  }
  j->data = data;
  j->data_len = data_len;
  for (int i = 0; i < 3; i++) {
    if (napi_create_reference(env, argv[i], 1, &j->keep[i]) != napi_ok) {
      rjob_free(env, j);
      napi_throw_error(env, "INTERNAL", "native core: could not queue the work");
      return NULL;
    }
    j->kept++;
  }
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok || napi_create_string_utf8(env, "strongbox:restore", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, rjob_execute, rjob_complete, j, &j->work) != napi_ok) {
    rjob_free(env, j);
    napi_throw_error(env, "INTERNAL", "native core: could not queue the work");
    return NULL;
  }
  /* From here until rjob_complete the codec is this work's. */
  j->c = c;
  c->busy = 1;
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    rjob_free(env, j);
    napi_throw_error(env, "INTERNAL", "native core: could not queue the work");
    return NULL;
  }
  return promise;
}

/* One entry of readDir: where its name is in the names buffer. */
typedef struct {
  size_t at, len;
} dname_t;
static _Thread_local const uint8_t *dnames_base; /* each worker's thread sorts its own */
/* Buffer.compare's order: the bytes, then the shorter first. */
static int dname_cmp(const void *a, const void *b) {
  const dname_t *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(dnames_base + x->at, dnames_base + y->at, n);
  return c != 0 ? c : (x->len < y->len ? -1 : x->len > y->len ? 1 : 0);
}

/*
 * readDir(dir) → [names, ends]: the entries of a directory (not . and ..), sorted by their
 * bytes as Buffer.compare sorts them, back to back in one buffer, ends[i] where name i ends;
 * or minus the errno when the directory cannot be read. readdirSync made a Buffer of every
 * name and JavaScript sorted them with Buffer.compare: the largest part of listing a
 * directory of many files (docs/PERFORMANCE.md).
 */
static napi_value js_read_dir(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *dir;
  size_t dir_len;
  if (argc < 1 || !bytes_of(env, argv[0], &dir, &dir_len) || dir_len == 0 || dir_len > 4095 || memchr(dir, 0, dir_len) != NULL) {
    napi_throw_type_error(env, NULL, "native core: readDir(dir)");
    return NULL;
  }
  char path[4096];
  memcpy(path, dir, dir_len);
  path[dir_len] = 0;
  napi_value out;
  DIR *d = opendir(path);
  if (!d) {
    CHECK(napi_create_int32(env, -errno, &out));
    return out;
  }
  size_t cap = 16 * 1024, used = 0, count = 0, ncap = 256;
  uint8_t *buf = malloc(cap);
  dname_t *list = malloc(ncap * sizeof(dname_t));
  int err = (buf && list) ? 0 : ENOMEM;
  for (;;) {
    if (err) break;
    errno = 0;
    struct dirent *e = readdir(d);
    if (!e) {
      err = errno;
      break;
    }
    const char *n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    size_t len = strlen(n);
    if (used + len > cap) {
      while (used + len > cap) cap *= 2;
      uint8_t *b = realloc(buf, cap);
      if (!b) {
        err = ENOMEM;
        break;
      }
      buf = b;
    }
    if (count == ncap) {
      dname_t *l = realloc(list, 2 * ncap * sizeof(dname_t));
      if (!l) {
        err = ENOMEM;
        break;
      }
      list = l;
      ncap *= 2;
    }
    if (used + len > UINT32_MAX) {
      err = EOVERFLOW;
      break;
    }
    memcpy(buf + used, n, len);
    list[count].at = used;
    list[count].len = len;
    used += len;
    count++;
  }
  closedir(d);
  if (err) {
    free(buf);
    free(list);
    CHECK(napi_create_int32(env, -err, &out));
    return out;
  }
  dnames_base = buf;
  qsort(list, count, sizeof(dname_t), dname_cmp);
  void *names_data, *ends_data;
  napi_value names_ab, names, ends_ab, ends;
  if (napi_create_arraybuffer(env, used, &names_data, &names_ab) != napi_ok || napi_create_arraybuffer(env, count * 4, &ends_data, &ends_ab) != napi_ok) {
    free(buf);
    free(list);
    napi_throw_error(env, "INTERNAL", "native core: readDir could not allocate its result");
    return NULL;
  }
  uint8_t *np = names_data;
  uint32_t *ep = ends_data;
  size_t off = 0;
  for (size_t i = 0; i < count; i++) {
    memcpy(np + off, buf + list[i].at, list[i].len);
    off += list[i].len;
    ep[i] = (uint32_t)off;
  }
  free(buf);
  free(list);
  CHECK(napi_create_typedarray(env, napi_uint8_array, used, names_ab, 0, &names));
  CHECK(napi_create_typedarray(env, napi_uint32_array, count, ends_ab, 0, &ends));
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_set_element(env, out, 0, names));
  CHECK(napi_set_element(env, out, 1, ends));
  return out;
}

/*
 * release(buf, from): the whole pages of buf[from…] go back to the kernel (MADV_DONTNEED); they
 * read as zeros after and cost no memory until written again. For a read buffer whose far end
 * one long chunk touched: the next file needs only its first few MiB. Returns the bytes given back.
 */
static napi_value js_release(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *data;
  size_t len;
  int64_t from = -1;
  if (argc < 2 || !bytes_of(env, argv[0], &data, &len) || napi_get_value_int64(env, argv[1], &from) != napi_ok || from < 0 || (uint64_t)from > len) {
    napi_throw_type_error(env, NULL, "native core: release(buf, from) with 0 <= from <= buf.length");
    return NULL;
  }
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = ((uintptr_t)data + (uintptr_t)from + page - 1) & ~(page - 1);
  uintptr_t end = ((uintptr_t)data + len) & ~(page - 1);
  size_t released = 0;
  if (end > start && madvise((void *)start, end - start, MADV_DONTNEED) == 0) released = end - start;
  napi_value out;
  CHECK(napi_create_double(env, (double)released, &out));
  return out;
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
      {"decode", NULL, js_decode, NULL, NULL, NULL, napi_default, NULL},
      {"decodeInto", NULL, js_decode_into, NULL, NULL, NULL, napi_default, NULL},
      {"decodeInPlace", NULL, js_decode_in_place, NULL, NULL, NULL, napi_default, NULL},
      {"lstatAt", NULL, js_lstat_at, NULL, NULL, NULL, napi_default, NULL},
      {"restoreRange", NULL, js_restore_range, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
      {"readDir", NULL, js_read_dir, NULL, NULL, NULL, napi_default, NULL},
      {"scanNodes", NULL, js_scan_nodes, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_value version;
  napi_create_string_utf8(env, ZSTD_versionString(), NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "zstdVersion", version);
  return exports;
}
