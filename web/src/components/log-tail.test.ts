import { describe, expect, it } from 'vitest';
import type { WireLogLine } from '../../../src/wire/api.js';
import type { ServerMessage } from '../../../src/wire/live.js';
import { MAX_LINES, mergeLogLines, type LogState } from './log-tail.js';

function line(id: number, at: number, level: WireLogLine['level'] = 'info'): WireLogLine {
  return { id, job_id: 7, step_id: 2, manager_id: 1, level, message: `line ${id}`, at };
}

function push(lines: WireLogLine[], dropped = 0): ServerMessage {
  return { type: 'job_log', seq: 1, topic: 'logs:2', payload: { topic_job_id: 2, lines, dropped } };
}

const empty: LogState = { lines: [], dropped: 0, more: false };

describe('mergeLogLines', () => {
  it('keeps newest first, lines of one millisecond in id order, without duplicates', () => {
    let s = mergeLogLines(empty, [push([line(1, 100), line(2, 100), line(3, 100)])], 'debug');
    s = mergeLogLines(s, [push([line(3, 100), line(4, 101)])], 'debug');
    expect(s.lines.map((l) => l.id)).toEqual([4, 3, 2, 1]);
  });

  it('filters by the minimum level and counts dropped lines', () => {
    const s = mergeLogLines(empty, [push([line(1, 1, 'debug'), line(2, 2, 'warn'), line(3, 3, 'error')], 5)], 'warn');
    expect(s.lines.map((l) => l.id)).toEqual([3, 2]);
    expect(s.dropped).toBe(5);
  });

  it('holds at most MAX_LINES, the newest', () => {
    const many = Array.from({ length: MAX_LINES + 250 }, (_, i) => line(i + 1, i + 1));
    const s = mergeLogLines(empty, [push(many)], 'debug');
    expect(s.lines).toHaveLength(MAX_LINES);
    expect(s.lines[0]!.id).toBe(MAX_LINES + 250);
    expect(s.more).toBe(true);
  });
});
