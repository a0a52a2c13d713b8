import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createLocator } from './locate.js';

const SOURCE = [
  '# a comment with id = "x" and [step.fake]', // 1
  'id = "index" # trailing = comment', // 2
  'name = "has = and [brackets] and # hash"', // 3
  "literal = 'it''s = [x]'", // 4
  '', // 5
  '[params.root]', // 6
  '  type = "string"', // 7
  '', // 8
  '[step.index]', // 9
  'type = "files"', // 10
  'urls = [', // 11
  '  "https://a.example/?q=[1]", # comment = [', // 12
  '  # key = "not a key"', // 13
  '  "b",', // 14
  ']', // 15
  'after = 1', // 16
  'backoff = { type = "fixed", base = "2s" }', // 17
  'nested = [[1, 2], [3, { deep = true }]]', // 18
  'script = """', // 19
  'not_a_key = 1', // 20
  '[not.a.header]', // 21
  '"""', // 22
  '"quoted key" = 1', // 23
  "'literal.key' = 2", // 24
  'a.b.c = 3', // 25
  'a . "d" = 4', // 26
  '', // 27
  '[step."odd name"]', // 28
  'x = 1', // 29
  '', // 30
  '[[step.index.items]]', // 31
  'n = 1', // 32
  '[[step.index.items]]', // 33
  'n = 2', // 34
  '[step.index.items.sub]', // 35
  'm = 3', // 36
  '[[top]]', // 37
  'v = 1', // 38
].join('\n');

describe('createLocator', () => {
  const loc = createLocator(SOURCE);

  test('finds top-level keys, ignoring comments and punctuation inside strings', () => {
    expect(loc.find(['id'])).toEqual({ line: 2, column: 1 });
    expect(loc.find(['name'])).toEqual({ line: 3, column: 1 });
    expect(loc.find(['literal'])).toEqual({ line: 4, column: 1 });
    expect(loc.find(['step', 'fake'])).toBeUndefined();
  });

  test('finds table headers and keys under them, with their column', () => {
    expect(loc.find(['params', 'root'])).toEqual({ line: 6, column: 1 });
    expect(loc.find(['params', 'root', 'type'])).toEqual({ line: 7, column: 3 });
    expect(loc.find(['step', 'index'])).toEqual({ line: 9, column: 1 });
    expect(loc.find(['step', 'index', 'type'])).toEqual({ line: 10, column: 1 });
  });

  test('the first header defines the implicit parent table', () => {
    expect(loc.find(['params'])).toEqual({ line: 6, column: 1 });
    expect(loc.find(['step'])).toEqual({ line: 9, column: 1 });
  });

  test('reads multi-line arrays element by element, skipping comments', () => {
    expect(loc.find(['step', 'index', 'urls'])).toEqual({ line: 11, column: 1 });
    expect(loc.find(['step', 'index', 'urls', 0])).toEqual({ line: 12, column: 3 });
    expect(loc.find(['step', 'index', 'urls', 1])).toEqual({ line: 14, column: 3 });
    expect(loc.find(['step', 'index', 'urls', 2])).toBeUndefined();
    expect(loc.find(['step', 'index', 'key'])).toBeUndefined();
    expect(loc.find(['step', 'index', 'after'])).toEqual({ line: 16, column: 1 });
  });

  test('reads inline tables and nested arrays', () => {
    expect(loc.find(['step', 'index', 'backoff', 'type'])).toEqual({ line: 17, column: 13 });
    expect(loc.find(['step', 'index', 'backoff', 'base'])).toEqual({ line: 17, column: 29 });
    expect(loc.find(['step', 'index', 'nested', 1, 0])).toEqual({ line: 18, column: 20 });
    expect(loc.find(['step', 'index', 'nested', 1, 1, 'deep'])).toEqual({ line: 18, column: 25 });
  });

  test('skips multi-line strings', () => {
    expect(loc.find(['step', 'index', 'script'])).toEqual({ line: 19, column: 1 });
    expect(loc.find(['step', 'index', 'not_a_key'])).toBeUndefined();
    expect(loc.find(['not_a_key'])).toBeUndefined();
    expect(loc.find(['not'])).toBeUndefined();
  });

  test('reads quoted and dotted keys', () => {
    expect(loc.find(['step', 'index', 'quoted key'])).toEqual({ line: 23, column: 1 });
    expect(loc.find(['step', 'index', 'literal.key'])).toEqual({ line: 24, column: 1 });
    expect(loc.find(['step', 'index', 'a'])).toEqual({ line: 25, column: 1 });
    expect(loc.find(['step', 'index', 'a', 'b', 'c'])).toEqual({ line: 25, column: 1 });
    expect(loc.find(['step', 'index', 'a', 'd'])).toEqual({ line: 26, column: 1 });
    expect(loc.find(['step', 'odd name', 'x'])).toEqual({ line: 29, column: 1 });
  });

  test('numbers the elements of arrays of tables', () => {
    expect(loc.find(['step', 'index', 'items', 0, 'n'])).toEqual({ line: 32, column: 1 });
    expect(loc.find(['step', 'index', 'items', 1, 'n'])).toEqual({ line: 34, column: 1 });
    expect(loc.find(['step', 'index', 'items', 1, 'sub', 'm'])).toEqual({ line: 36, column: 1 });
    expect(loc.find(['top', 0, 'v'])).toEqual({ line: 38, column: 1 });
  });

  test('falls back to the nearest located ancestor, then to line 1', () => {
    expect(loc.locate(['step', 'index', 'retries'])).toEqual({ line: 9, column: 1, exact: false });
    expect(loc.locate(['step', 'index', 'urls', 7])).toEqual({ line: 11, column: 1, exact: false });
    expect(loc.locate(['params', 'root', 'type'])).toEqual({ line: 7, column: 3, exact: true });
    expect(loc.locate(['missing'])).toEqual({ line: 1, column: 1, exact: false });
    expect(loc.locate([])).toEqual({ line: 1, column: 1, exact: false });
  });

  test('names the statement on a line, repeated headers included', () => {
    const dup = createLocator('[step.a]\ntype = "x"\n\n[step.a]\ntype = "y"\n');
    expect(dup.pathAtLine(4)).toEqual(['step', 'a']);
    expect(dup.pathAtLine(5)).toEqual(['step', 'a', 'type']);
    expect(dup.find(['step', 'a'])).toEqual({ line: 1, column: 1 });
    expect(dup.pathAtLine(3)).toBeUndefined();
  });

  test('handles CRLF line ends', () => {
    const crlf = createLocator('id = "x"\r\n[step.a]\r\ntype = "files"\r\nlist = [\r\n  1,\r\n  2,\r\n]\r\n');
    expect(crlf.find(['step', 'a', 'type'])).toEqual({ line: 3, column: 1 });
    expect(crlf.find(['step', 'a', 'list', 1])).toEqual({ line: 6, column: 3 });
  });

  test('never throws and always terminates, whatever the input', () => {
    const pieces = fc.constantFrom(
      '[',
      ']',
      '[[',
      ']]',
      '{',
      '}',
      '"',
      "'",
      '"""',
      "'''",
      '=',
      ',',
      '.',
      '#',
      '\n',
      ' ',
      'a',
      'b',
      '1',
      '\\',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 60 }), (parts) => {
        const l = createLocator(parts.join(''));
        const pos = l.locate(['a', 'b']);
        expect(pos.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
  });
});
