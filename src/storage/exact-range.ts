import type { AppError } from '../kernel/index.js';

/**
 * The body of a ranged response as the contract's streamed read (backend.ts, 6.):
 * pieces as they arrive, exactly `length` bytes in all; a body that ends early
 * ends the stream with `short(got)`, one that fails with `mapError(err)`. When the
 * reader stops early or the body fails, the rest of the response is dropped,
 * which frees its connection.
 */
export async function* exactRange(
  body: AsyncIterable<Uint8Array> & { destroy?: () => void },
  length: number,
  mapError: (err: unknown) => AppError,
  short: (got: number) => AppError,
): AsyncIterable<Buffer> {
  let got = 0;
  try {
    try {
      for await (const piece of body) {
        const b = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        const take = Math.min(b.length, length - got);
        got += take;
        if (take > 0) yield take === b.length ? b : b.subarray(0, take);
        if (got === length) return;
      }
    } catch (err) {
      throw mapError(err);
    }
    throw short(got);
  } finally {
    if (got < length) body.destroy?.();
  }
}
