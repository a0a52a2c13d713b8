import { describe, expect, it } from 'vitest';
import { robotsFor, type FetchText } from './robots-cache.js';

const signal = new AbortController().signal;
let run = 0;

describe('robots.txt cache', () => {
  it('tries again when robots.txt could not be fetched, so one dropped connection does not lift the rules', async () => {
    let calls = 0;
    const fetchText: FetchText = async () => {
      calls += 1;
      if (calls === 1) throw new Error('other side closed');
      return { status: 200, text: 'User-agent: *\nDisallow: /private\n' };
    };
    const rules = await robotsFor({ runKey: `r${run++}`, origin: 'http://site.test', userAgent: 'stepq', fetchText, signal });
    expect(calls).toBe(2);
    expect(rules.fetchError).toBeUndefined();
    expect(rules.isAllowed('http://site.test/private/x')).toBe(false);
    expect(rules.isAllowed('http://site.test/public')).toBe(true);
  });

  it('crawls without rules after three failed attempts, saying why; the answer is shared by the run', async () => {
    let calls = 0;
    const fetchText: FetchText = async () => {
      calls += 1;
      throw new Error('connect ECONNREFUSED');
    };
    const key = `r${run++}`;
    const [a, b] = await Promise.all([
      robotsFor({ runKey: key, origin: 'http://down.test', userAgent: 'stepq', fetchText, signal }),
      robotsFor({ runKey: key, origin: 'http://down.test', userAgent: 'stepq', fetchText, signal }),
    ]);
    expect(calls).toBe(3);
    expect(a).toBe(b);
    expect(a.fetchError).toBe('robots.txt unreachable: connect ECONNREFUSED');
    expect(a.isAllowed('http://down.test/anything')).toBe(true);
  });

  it('obeys a 5xx as "disallow everything" and a 4xx as "no rules", without retrying', async () => {
    let calls = 0;
    const answer =
      (status: number): FetchText =>
      async () => {
        calls += 1;
        return { status, text: '' };
      };
    const down = await robotsFor({ runKey: `r${run++}`, origin: 'http://a.test', userAgent: 'stepq', fetchText: answer(503), signal });
    expect(down.isAllowed('http://a.test/')).toBe(false);
    expect(down.unreachable).toBe('robots.txt answered HTTP 503');
    const none = await robotsFor({ runKey: `r${run++}`, origin: 'http://b.test', userAgent: 'stepq', fetchText: answer(404), signal });
    expect(none.isAllowed('http://b.test/')).toBe(true);
    expect(calls).toBe(2);
  });
});
