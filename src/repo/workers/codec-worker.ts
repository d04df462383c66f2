import { parentPort, workerData } from 'node:worker_threads';
import { BlobCodec } from '../format/blob.js';
import { AppError } from '../../kernel/index.js';

/** Worker thread: compresses+seals blobs for backup, opens+verifies them for restore and check. */
interface Init {
  encKey: Uint8Array;
  macKey: Uint8Array;
  level: number;
}
export type CodecRequest =
  | { seq: number; op: 'encode'; raw: Uint8Array }
  | { seq: number; op: 'decode'; sealed: Uint8Array; id: Uint8Array | undefined; what: string };
export type CodecResponse = { seq: number; ok: true; data: Uint8Array } | { seq: number; ok: false; code: string; message: string };

const init = workerData as Init;
const codec = new BlobCodec(Buffer.from(init.encKey), Buffer.from(init.macKey), init.level);

parentPort!.on('message', (req: CodecRequest) => {
  try {
    const out =
      req.op === 'encode'
        ? codec.encode(req.raw)
        : codec.decode(req.sealed, req.id, req.what);
    // Copy into an exclusively owned buffer so it can be transferred without dragging a shared slab along.
    const owned = new Uint8Array(out.length);
    owned.set(out);
    const res: CodecResponse = { seq: req.seq, ok: true, data: owned };
    parentPort!.postMessage(res, [owned.buffer]);
  } catch (err) {
    const res: CodecResponse = {
      seq: req.seq,
      ok: false,
      code: err instanceof AppError ? err.code : 'INTERNAL',
      message: err instanceof Error ? err.message : String(err),
    };
    parentPort!.postMessage(res);
  }
});
