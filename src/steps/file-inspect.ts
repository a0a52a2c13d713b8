/**
 * Reads one file for the `files` step: size, hash, text or binary, line and word counts, all in one
 * streaming pass with a fixed 64 KiB buffer, whatever the file's size.
 */
import { createHash } from 'node:crypto';
import { constants, promises as fs, type Stats } from 'node:fs';
import { errorMessage } from '../core/errors.js';
import { abortReason } from './abortable-sleep.js';

export interface FileFacts {
  size: number;
  /** Modification time, epoch milliseconds. */
  mtime: number;
  sha256: string | null;
  /** No NUL byte in the first 8 KiB and valid UTF-8 throughout. */
  is_text: boolean;
  /** Only for text files: the number of '\n', plus one for a last line without '\n'. */
  lines: number | null;
  /** Only for text files: whitespace-separated tokens. */
  words: number | null;
}

const CHUNK = 64 * 1024;
const SNIFF = 8 * 1024;

const REASONS: Record<string, string> = {
  ENOENT: 'it no longer exists (removed after the step was planned?)',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory, not a file',
  ELOOP: 'too many levels of symbolic links',
  ENOTDIR: 'a component of the path is not a directory',
  EMFILE: 'too many open files in this process',
  EIO: 'input/output error',
};

function readError(path: string, err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const reason = typeof code === 'string' && REASONS[code] ? `${REASONS[code]} (${code})` : errorMessage(err);
  return new Error(`Cannot read ${path}: ${reason}`, { cause: err });
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'it is a directory';
  if (st.isFIFO()) return 'it is a FIFO (named pipe)';
  if (st.isSocket()) return 'it is a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'it is a device';
  return 'it is not a regular file';
}

/** Same set as JavaScript's `\s`. */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

function countByte(buf: Buffer, byte: number): number {
  let n = 0;
  for (let i = buf.indexOf(byte); i !== -1; i = buf.indexOf(byte, i + 1)) n++;
  return n;
}

export async function inspectFile(params: { path: string; hash: boolean; signal: AbortSignal }): Promise<FileFacts> {
  const { path, signal } = params;
  if (signal.aborted) throw abortReason(signal);
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it has no effect on regular files.
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw readError(path, err);
  }
  try {
    let st: Stats;
    try {
      st = await handle.stat();
    } catch (err) {
      throw readError(path, err);
    }
    if (!st.isFile()) throw new Error(`Cannot read ${path}: ${kindOf(st)}, not a regular file`);

    const hasher = params.hash ? createHash('sha256') : null;
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const buf = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    let newlines = 0;
    let lastByte = -1;
    let text = true;
    let words = 0;
    let inWord = false;
    for (;;) {
      if (signal.aborted) throw abortReason(signal);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buf, 0, CHUNK, null));
      } catch (err) {
        throw readError(path, err);
      }
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      hasher?.update(chunk);
      if (text && size < SNIFF && chunk.subarray(0, SNIFF - size).includes(0)) text = false;
      if (text) {
        let decoded: string;
        try {
          decoded = decoder.decode(chunk, { stream: true });
        } catch {
          decoded = '';
          text = false;
        }
        for (let i = 0; i < decoded.length; i++) {
          if (isSpace(decoded.charCodeAt(i))) inWord = false;
          else if (!inWord) {
            inWord = true;
            words++;
          }
        }
        newlines += countByte(chunk, 0x0a);
      }
      size += bytesRead;
      lastByte = chunk[bytesRead - 1] ?? lastByte;
    }
    if (text) {
      try {
        decoder.decode(); // a truncated multi-byte sequence at the end is not valid UTF-8
      } catch {
        text = false;
      }
    }
    return {
      size,
      mtime: Math.floor(st.mtimeMs),
      sha256: hasher ? hasher.digest('hex') : null,
      is_text: text,
      lines: text ? newlines + (size > 0 && lastByte !== 0x0a ? 1 : 0) : null,
      words: text ? words : null,
    };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
