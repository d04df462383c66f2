import { AppError, systemClock, type ProgressSink } from '../kernel/index.js';
import { CodecPool, Repository } from '../repo/index.js';
import { check, copySnapshots, importLimits, inspectForeign, type CopyResult, type ForeignReport } from '../engine/index.js';
import { listSnapshots, type SnapshotRef } from '../tree/index.js';
import { ArchiveReader, ArchiveWriter } from '../storage/archive/archive.js';
import type { Backend } from '../storage/index.js';

/**
 * Snapshots as single files. `download` writes one snapshot (all its data, a
 * fresh key wrapped by the archive's password) into an archive; `upload`
 * imports an archive into a repository after verifying it completely: the
 * file's checksum, then every blob opened and checked against its id, then
 * every tree — only then is anything written to the target, and the
 * snapshot becomes visible there last.
 */
export async function downloadSnapshot(o: { source: Repository; sourcePool: CodecPool; snapshot: SnapshotRef; file: string; password: string; sink?: ProgressSink; signal?: AbortSignal }): Promise<{ file: string; bytes: number; snapshot: string }> {
  const writer = new ArchiveWriter(o.file);
  let pool: CodecPool | undefined;
  try {
    const archive = await Repository.init(writer as Backend, o.password, { chunker: o.source.config.chunker, compressionLevel: o.source.config.compression.level, packSize: o.source.config.packSize });
    pool = new CodecPool(archive.master, archive.config);
    const res = await copySnapshots({ source: o.source, target: archive, decoder: o.sourcePool, encoder: pool, snapshots: [o.snapshot], ...(o.sink ? { sink: o.sink } : {}), ...(o.signal ? { signal: o.signal } : {}) });
    await writer.finish();
    return { file: o.file, bytes: writer.size, snapshot: res.copied[0]?.target ?? '' };
  } catch (err) {
    await writer.close();
    throw err;
  } finally {
    await pool?.close();
  }
}

export async function uploadArchive(o: { file: string; password: string; target: Repository; targetPool: CodecPool; sink?: ProgressSink; signal?: AbortSignal; now?: Date }): Promise<CopyResult & { verifiedBytes: number; inspected: ForeignReport }> {
  o.sink?.emit({ type: 'phase', phase: 'verifying the archive' });
  const reader = await ArchiveReader.open(o.file);
  let pool: CodecPool | undefined;
  try {
    const archive = await Repository.open(reader, o.password);
    pool = new CodecPool(archive.master, archive.config);
    await archive.loadIndex();
    const verified = await check({ repo: archive, decoder: pool, readData: true, ...(o.signal ? { signal: o.signal } : {}) });
    if (!verified.ok) {
      throw new AppError('CORRUPT', `${o.file} fails verification (${verified.errors.length} problem(s): ${verified.errors.slice(0, 3).map((e) => e.message).join('; ')}). Nothing was imported.`);
    }
    const snapshots = await listSnapshots(archive);
    if (snapshots.length === 0) throw new AppError('CORRUPT', `${o.file} holds no snapshot. Nothing was imported.`);
    // An archive is untrusted: what it really expands to is measured, and its manifests checked, before anything is imported.
    const inspected = await inspectForeign(archive, snapshots, { now: o.now ?? systemClock.now(), limits: importLimits(), ...(o.signal ? { signal: o.signal } : {}) });
    if (inspected.problems.length > 0) {
      throw new AppError('CORRUPT', `${o.file} fails verification (${inspected.problems.length} problem(s): ${inspected.problems.slice(0, 3).join('; ')}). Nothing was imported.`, { details: { problems: inspected.problems.slice(0, 100) } });
    }
    o.sink?.emit({ type: 'phase', phase: 'importing' });
    const res = await copySnapshots({ source: archive, target: o.target, decoder: pool, encoder: o.targetPool, snapshots, ...(o.sink ? { sink: o.sink } : {}), ...(o.signal ? { signal: o.signal } : {}) });
    return { ...res, verifiedBytes: inspected.expandedBytes, inspected };
  } finally {
    await pool?.close();
    await reader.close();
  }
}
