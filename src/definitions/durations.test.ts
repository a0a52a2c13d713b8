import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatDuration, parseDuration } from './durations.js';

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['1h 30m', 5_400_000],
    ['1.5s', 1500],
    ['0ms', 0],
    ['  10s  ', 10_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test('a plain integer is milliseconds', () => {
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration(0)).toBe(0);
  });

  test.each([
    ['soon', /Expected a duration like "500ms".*got "soon"/],
    ['', /got ""/],
    ['10', /add a unit, e.g. "10ms" or "10s"/],
    ['10x', /got "10x"/],
    ['-5s', /got "-5s"/],
    ['30m1h', /largest to smallest/],
    ['1s1s', /largest to smallest/],
    ['1h30', /got "1h30"/],
  ])('rejects %j', (text, message) => {
    expect(() => parseDuration(text)).toThrow(message);
  });

  test('rejects numbers that are not whole milliseconds ≥ 0', () => {
    expect(() => parseDuration(-1)).toThrow(/got -1 \(a number is read as whole milliseconds ≥ 0\)/);
    expect(() => parseDuration(1.5)).toThrow(/got 1.5/);
    expect(() => parseDuration(Number.NaN)).toThrow(/got nan/);
  });
});

describe('formatDuration', () => {
  test.each([
    [0, '0ms'],
    [500, '500ms'],
    [1500, '1s500ms'],
    [5_400_000, '1h30m'],
    [172_800_000, '2d'],
    [-2000, '-2s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  test('round-trips through parseDuration for every whole number of ms', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  test('round-trips for the durations people write', () => {
    fc.assert(
      fc.property(fc.record({ d: fc.nat(30), h: fc.nat(23), m: fc.nat(59), s: fc.nat(59), ms: fc.nat(999) }), (p) => {
        const ms = p.d * 86_400_000 + p.h * 3_600_000 + p.m * 60_000 + p.s * 1000 + p.ms;
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});
