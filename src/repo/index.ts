/**
 * The repository engine on a Backend: format (config, blobs), crypto (AES-256-GCM,
 * HMAC ids, scrypt-wrapped keys), FastCDC chunker, packs, the blob index, locks,
 * the blob saver and the codec worker pool. See docs/FORMAT.md.
 */
export * from './repository.js';
export * from './saver.js';
export * from './workers/pool.js';
export { NativeRangeWriter, nativeRangeWriter } from './native/range-writer.js';
export { nativeScanNodes } from './native/core.js';
export * from './workers/listing.js';
export * from './chunker/fastcdc.js';
export * from './pack/pack.js';
export * from './blob-index/blob-index.js';
export * from './blob-index/index-file.js';
export * from './lock/lock.js';
export * from './format/config.js';
export { MAX_BLOB_BYTES } from './format/blob.js';
export { blobId, seal, open as openSealed } from './crypto/aead.js';
export { sha256 } from './crypto/keys.js';
export { readXattrs, textPath, type XattrRead } from './workers/xattrs.js';
export { LocalCache } from './cache.js';
export * from './roles.js';
