// Errors raised by src/io.

/**
 * A checkpoint or safetensors file (or the data handed to the encoder) is missing, malformed or
 * inconsistent. The message starts with the file it concerns when one is known (`source`).
 */
export class CheckpointError extends Error {
  /** The file (or other label) the error concerns, when known. */
  readonly source: string | undefined;

  constructor(message: string, opts: { source?: string | undefined; cause?: unknown } = {}) {
    super(opts.source !== undefined ? `${opts.source}: ${message}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CheckpointError';
    this.source = opts.source;
  }
}

/** An atomic write failed. The target file is untouched (it still holds its previous content, if any). */
export class AtomicWriteError extends Error {
  /** The file that was being written. */
  readonly path: string;
  /** The errno code of the underlying failure (ENOENT, ENOSPC, ...), when there is one. */
  readonly code: string | undefined;

  constructor(path: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AtomicWriteError';
    this.path = path;
    const c = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof c === 'string' ? c : undefined;
  }
}

/** The message of an unknown thrown value. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A name made safe and short for an error message. */
export function quoteName(name: string): string {
  const q = JSON.stringify(name);
  return q.length > 120 ? `${q.slice(0, 117)}..."` : q;
}
