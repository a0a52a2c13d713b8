/**
 * Where a field is in a TOML source. smol-toml gives positions only for syntax errors, so this scans
 * the source once and records the position of every key (`key = ...`, dotted keys, keys of inline
 * tables), every array element and every table header (`[step.x]`, `[[a.b]]` with its element index).
 *
 * It is a best-effort reader, not a second TOML parser: it runs after smol-toml accepted the document
 * (or to place a syntax error's line on a path), it never throws, and it always terminates. What it
 * cannot place falls back to the nearest located ancestor (usually the table header), then to line 1.
 */
import type { FieldPath, PathSegment } from './issues.js';

export interface SourcePosition {
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

export interface Locator {
  /** The recorded position of exactly this path, if any. */
  find(path: FieldPath): SourcePosition | undefined;
  /** The position of the path or of its nearest located ancestor; line 1 when nothing matches. */
  locate(path: FieldPath): SourcePosition & { exact: boolean };
  /** The header or key that starts on a line (e.g. the `[step.x]` a TOML error points at). */
  pathAtLine(line: number): FieldPath | undefined;
}

const pathKey = (path: FieldPath): string => JSON.stringify(path);
/** Values nested deeper are stepped over, not located: validation refuses them before it needs a line. */
const MAX_LOCATED_DEPTH = 80;

const BARE_KEY_CHAR = /[A-Za-z0-9_-]/;

class Scanner {
  i = 0;
  line = 1;
  private lineStart = 0;
  readonly entries = new Map<string, { path: FieldPath; pos: SourcePosition }>();

  constructor(private readonly src: string) {}

  get eof(): boolean {
    return this.i >= this.src.length;
  }

  peek(offset = 0): string {
    return this.src[this.i + offset] ?? '';
  }

  startsWith(text: string): boolean {
    return this.src.startsWith(text, this.i);
  }

  pos(): SourcePosition {
    return { line: this.line, column: this.i - this.lineStart + 1 };
  }

  advance(n = 1): void {
    for (let k = 0; k < n && this.i < this.src.length; k++) {
      if (this.src[this.i] === '\n') {
        this.line++;
        this.lineStart = this.i + 1;
      }
      this.i++;
    }
  }

  record(path: FieldPath, pos: SourcePosition): void {
    const key = pathKey(path);
    // First occurrence wins: a later `[step.x.sub]` must not move `step.x` away from its own header.
    if (!this.entries.has(key)) this.entries.set(key, { path, pos });
  }

  /** Spaces and tabs on the current line. */
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.advance();
  }

  /** Whitespace, newlines and comments: the gaps between statements and between array elements. */
  skipBlank(): void {
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.advance();
      else if (c === '#') this.skipToEol();
      else return;
    }
  }

  skipToEol(): void {
    while (!this.eof && this.peek() !== '\n') this.advance();
  }

  skipLine(): void {
    this.skipToEol();
    this.advance();
  }

  /** A basic ("...") or literal ('...') single-line string, positioned on its opening quote. */
  readQuoted(): string | null {
    const quote = this.peek();
    const start = this.i;
    this.advance();
    while (!this.eof && this.peek() !== quote && this.peek() !== '\n') {
      if (quote === '"' && this.peek() === '\\') this.advance();
      this.advance();
    }
    if (this.peek() !== quote) return null;
    this.advance();
    const raw = this.src.slice(start + 1, this.i - 1);
    if (quote === "'") return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return raw; // TOML escapes JSON lacks (\U0001F600, \e): the key stays recognisable enough.
    }
  }

  /** A key, possibly dotted and quoted; null when there is none here. */
  readKey(): string[] | null {
    const parts: string[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.peek();
      let part: string | null = null;
      if (c === '"' || c === "'") {
        part = this.readQuoted();
      } else {
        const start = this.i;
        while (BARE_KEY_CHAR.test(this.peek())) this.advance();
        if (this.i > start) part = this.src.slice(start, this.i);
      }
      if (part === null) return null;
      parts.push(part);
      this.skipSpaces();
      if (this.peek() !== '.') return parts;
      this.advance();
    }
  }

  skipMultiline(delim: '"""' | "'''"): void {
    this.advance(3);
    while (!this.eof) {
      if (delim === '"""' && this.peek() === '\\') {
        this.advance(2);
      } else if (this.startsWith(delim)) {
        this.advance(3);
        // Up to two quotes right before the closing delimiter belong to the string.
        for (let k = 0; k < 2 && this.peek() === delim[0]; k++) this.advance();
        return;
      } else {
        this.advance();
      }
    }
  }

  /** A value whose path is `path`; records the positions of array elements and inline-table keys. */
  readValue(path: FieldPath): void {
    this.skipSpaces();
    const c = this.peek();
    if (this.startsWith('"""') || this.startsWith("'''")) {
      this.skipMultiline(this.startsWith('"""') ? '"""' : "'''");
    } else if (c === '"' || c === "'") {
      this.readQuoted();
    } else if ((c === '[' || c === '{') && path.length > MAX_LOCATED_DEPTH) {
      this.skipNested();
    } else if (c === '[') {
      this.readArray(path);
    } else if (c === '{') {
      this.readInlineTable(path);
    } else {
      // Numbers, booleans, dates (which may contain a space), inf and nan.
      while (!this.eof && !',]}#\n\r'.includes(this.peek())) this.advance();
    }
  }

  /** Steps over an array or inline table without recursing (nothing inside it is located). */
  private skipNested(): void {
    let depth = 0;
    while (!this.eof) {
      if (this.startsWith('"""') || this.startsWith("'''")) {
        this.skipMultiline(this.startsWith('"""') ? '"""' : "'''");
        continue;
      }
      const c = this.peek();
      if (c === '"' || c === "'") {
        this.readQuoted();
        continue;
      }
      if (c === '#') {
        while (!this.eof && this.peek() !== '\n') this.advance();
        continue;
      }
      this.advance();
      if (c === '[' || c === '{') depth++;
      else if ((c === ']' || c === '}') && --depth === 0) return;
    }
  }

  private readArray(path: FieldPath): void {
    this.advance();
    for (let index = 0; ; index++) {
      this.skipBlank();
      if (this.eof) return;
      if (this.peek() === ']') {
        this.advance();
        return;
      }
      const at = [...path, index];
      this.record(at, this.pos());
      const before = this.i;
      this.readValue(at);
      this.skipBlank();
      if (this.peek() === ',') this.advance();
      else if (this.peek() === ']') {
        this.advance();
        return;
      } else if (this.i === before) return; // malformed: give up on this value, never loop
    }
  }

  private readInlineTable(path: FieldPath): void {
    this.advance();
    for (;;) {
      this.skipBlank();
      if (this.eof) return;
      if (this.peek() === '}') {
        this.advance();
        return;
      }
      const at = this.pos();
      const key = this.readKey();
      if (!key) return;
      this.recordKey(path, key, at);
      this.skipSpaces();
      if (this.peek() !== '=') return;
      this.advance();
      this.readValue([...path, ...key]);
      this.skipBlank();
      if (this.peek() === ',') this.advance();
      else if (this.peek() === '}') {
        this.advance();
        return;
      } else return;
    }
  }

  /** A (dotted) key defines its parents too: `a.b.c = 1` places `a`, `a.b` and `a.b.c`. */
  recordKey(table: FieldPath, key: readonly string[], pos: SourcePosition): void {
    for (let k = 1; k <= key.length; k++) this.record([...table, ...key.slice(0, k)], pos);
  }
}

export function createLocator(source: string): Locator {
  const s = new Scanner(source);
  let table: FieldPath = [];
  /** Current element index of each array of tables, by the array's path. */
  const arrayIndex = new Map<string, number>();
  /** The statement (header or key) starting on each line; unlike `entries`, repeats are kept. */
  const byLine = new Map<number, FieldPath>();

  /** Inserts the current index after each prefix that names an array of tables. */
  const resolveHeader = (parts: readonly string[]): PathSegment[] => {
    const out: PathSegment[] = [];
    for (const part of parts) {
      out.push(part);
      const idx = arrayIndex.get(pathKey(out));
      if (idx !== undefined) out.push(idx);
    }
    return out;
  };

  while (!s.eof) {
    s.skipBlank();
    if (s.eof) break;
    const start = s.pos();
    if (s.peek() === '[') {
      const isArray = s.peek(1) === '[';
      s.advance(isArray ? 2 : 1);
      const parts = s.readKey();
      if (parts && parts.length > 0) {
        if (isArray) {
          const arrayPath = [...resolveHeader(parts.slice(0, -1)), parts[parts.length - 1]!];
          const key = pathKey(arrayPath);
          const index = (arrayIndex.get(key) ?? -1) + 1;
          arrayIndex.set(key, index);
          table = [...arrayPath, index];
        } else {
          table = resolveHeader(parts);
        }
        for (let k = 1; k <= table.length; k++) s.record(table.slice(0, k), start);
        if (!byLine.has(start.line)) byLine.set(start.line, table);
      }
      s.skipLine();
      continue;
    }
    const key = s.readKey();
    s.skipSpaces();
    if (!key || s.peek() !== '=') {
      s.skipLine();
      continue;
    }
    s.advance();
    s.recordKey(table, key, start);
    if (!byLine.has(start.line)) byLine.set(start.line, [...table, ...key]);
    s.readValue([...table, ...key]);
    s.skipLine();
  }

  const entries = s.entries;

  const find = (path: FieldPath): SourcePosition | undefined => entries.get(pathKey(path))?.pos;
  return {
    find,
    locate(path) {
      for (let n = path.length; n > 0; n--) {
        const pos = find(path.slice(0, n));
        if (pos) return { ...pos, exact: n === path.length };
      }
      return { line: 1, column: 1, exact: false };
    },
    pathAtLine: (line) => byLine.get(line),
  };
}
