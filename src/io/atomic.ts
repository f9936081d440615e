// Crash-safe file replacement: write a temp file next to the target, fsync it, rename it over the
// target, fsync the directory. A reader sees either the old content or the new content, never a
// torn file, and a failed write leaves the target as it was and no temp file behind.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { AtomicWriteError, messageOf } from './errors.js';

/** What an atomic write accepts: a string (written as UTF-8), bytes, or a list of byte chunks written in order. */
export type AtomicData = string | Uint8Array | readonly Uint8Array[];

export interface AtomicWriteOptions {
  /** Permission bits for a newly created file (before the umask). Default 0o666. */
  mode?: number;
}

const TEMP_SUFFIX = '.tmp';

/** The temp file name used while writing `target`: hidden, same directory, unique per process and call. */
export function tempPathFor(target: string): string {
  const abs = resolve(target);
  // Keep the name under NAME_MAX (255) whatever the target's name is.
  const base = basename(abs).slice(0, 180);
  return join(dirname(abs), `.${base}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

function chunksOf(data: AtomicData): readonly unknown[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (data instanceof Uint8Array) return [data];
  if (Array.isArray(data)) return data;
  throw new TypeError('data must be a string, a Uint8Array or an array of Uint8Array');
}

function checkChunk(c: unknown, i: number): Uint8Array {
  if (!(c instanceof Uint8Array)) throw new TypeError(`chunk ${i} is not a Uint8Array`);
  return c;
}

function failure(target: string, what: string, e: unknown): AtomicWriteError {
  if (e instanceof AtomicWriteError) return e;
  const code = (e as { code?: unknown }).code;
  const hint = code === 'ENOENT' ? ' (does the directory exist?)' : code === 'ENOSPC' ? ' (disk full)' : '';
  return new AtomicWriteError(target, `could not ${what} ${target}${hint}: ${messageOf(e)}; the file was left unchanged`, e);
}

// Directory fsync makes the rename durable. Some platforms cannot open or fsync a directory; there the
// rename is as durable as the platform allows, so those codes are not errors.
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'ENOTSUP', 'EPERM', 'EACCES', 'EBADF']);

function dirSyncFailure(target: string, e: unknown): AtomicWriteError | null {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && DIR_SYNC_UNSUPPORTED.has(code)) return null;
  return new AtomicWriteError(target, `wrote ${target} but could not fsync its directory: ${messageOf(e)}`, e);
}

/** Atomically replaces `path` with `data` (synchronous). Throws AtomicWriteError. */
export function writeFileAtomicSync(path: string, data: AtomicData, opts: AtomicWriteOptions = {}): void {
  const target = resolve(path);
  let chunks: readonly unknown[];
  try {
    chunks = chunksOf(data);
  } catch (e) {
    throw failure(target, 'write', e);
  }
  const tmp = tempPathFor(target);
  let fd: number | null = null;
  let created = false;
  try {
    fd = openSync(tmp, 'wx', opts.mode ?? 0o666);
    created = true;
    chunks.forEach((c, i) => {
      const b = checkChunk(c, i);
      let off = 0;
      while (off < b.byteLength) off += writeSync(fd!, b, off, b.byteLength - off);
    });
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, target);
    created = false;
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    if (created) {
      try {
        unlinkSync(tmp);
      } catch {
        /* best effort */
      }
    }
    throw failure(target, 'write', e);
  }
  let dfd: number | null = null;
  try {
    dfd = openSync(dirname(target), 'r');
    fsyncSync(dfd);
  } catch (e) {
    const err = dirSyncFailure(target, e);
    if (err) throw err;
  } finally {
    if (dfd !== null) closeSync(dfd);
  }
}

/** Atomically replaces `path` with `data`. Rejects with AtomicWriteError. */
export async function writeFileAtomic(path: string, data: AtomicData, opts: AtomicWriteOptions = {}): Promise<void> {
  const target = resolve(path);
  let chunks: readonly unknown[];
  try {
    chunks = chunksOf(data);
  } catch (e) {
    throw failure(target, 'write', e);
  }
  const tmp = tempPathFor(target);
  let fh: FileHandle | null = null;
  let created = false;
  try {
    fh = await open(tmp, 'wx', opts.mode ?? 0o666);
    created = true;
    for (let i = 0; i < chunks.length; i++) {
      const b = checkChunk(chunks[i], i);
      let off = 0;
      while (off < b.byteLength) off += (await fh.write(b, off, b.byteLength - off)).bytesWritten;
    }
    await fh.sync();
    const h = fh;
    fh = null;
    await h.close();
    await rename(tmp, target);
    created = false;
  } catch (e) {
    if (fh !== null) await fh.close().catch(() => undefined);
    if (created) await unlink(tmp).catch(() => undefined);
    throw failure(target, 'write', e);
  }
  let dh: FileHandle | null = null;
  try {
    dh = await open(dirname(target), 'r');
    await dh.sync();
  } catch (e) {
    const err = dirSyncFailure(target, e);
    if (err) throw err;
  } finally {
    if (dh !== null) await dh.close();
  }
}

function jsonText(path: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, null, 2);
  } catch (e) {
    throw new AtomicWriteError(resolve(path), `could not write ${resolve(path)}: the value is not JSON-serializable (${messageOf(e)})`, e);
  }
  if (text === undefined) throw new AtomicWriteError(resolve(path), `could not write ${resolve(path)}: the value is not JSON-serializable (${typeof value})`);
  return `${text}\n`;
}

/** Atomically writes `value` as pretty JSON (2-space indent) with a trailing newline (synchronous). */
export function writeJsonAtomicSync(path: string, value: unknown, opts: AtomicWriteOptions = {}): void {
  writeFileAtomicSync(path, jsonText(path, value), opts);
}

/** Atomically writes `value` as pretty JSON (2-space indent) with a trailing newline. */
export async function writeJsonAtomic(path: string, value: unknown, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, jsonText(path, value), opts);
}
