/**
 * Reading HTTP response bodies without trusting their size: at most `maxBytes` are kept, the rest is
 * not downloaded (the stream is cancelled, which frees the connection).
 */
import { TextDecoder } from 'node:util';

export interface CappedBody {
  bytes: Buffer;
  /** True when the body was longer than `maxBytes`. */
  truncated: boolean;
}

export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<CappedBody> {
  if (!body) return { bytes: Buffer.alloc(0), truncated: false };
  const parts: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  // Leaving the loop early cancels the stream.
  // Node's web streams are async iterable (the DOM typings some test tools load say otherwise).
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    const room = maxBytes - kept;
    if (chunk.byteLength > room) {
      parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, room));
      kept += room;
      truncated = true;
      break;
    }
    parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    kept += chunk.byteLength;
  }
  return { bytes: Buffer.concat(parts, kept), truncated };
}

/** Decodes bytes as text, dropping an incomplete multi-byte character cut off at the end. */
export function decodePreview(bytes: Buffer, truncated: boolean, charset = 'utf-8'): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  // In streaming mode a trailing partial character stays buffered instead of becoming U+FFFD.
  return truncated ? decoder.decode(bytes, { stream: true }) : decoder.decode(bytes);
}

/** The `charset` parameter of a Content-Type header, if any. */
export function charsetOf(contentType: string | null): string | undefined {
  const m = contentType ? /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType) : null;
  return m?.[1];
}
