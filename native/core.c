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
#include <sys/stat.h>
#include <unistd.h>

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
