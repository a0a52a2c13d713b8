import { describe, expect, test } from 'vitest';
import { nextCronTime, validateCron } from './cron.js';

describe('validateCron', () => {
  test.each(['*/5 * * * *', '0 9 * * 1-5', '0 9 * * MON-FRI', '30 2 1 * *', '0 0 L * *', '@daily', '@hourly', '  0 0 * * *  '])(
    'accepts %j',
    (expr) => {
      expect(validateCron(expr)).toBeNull();
    },
  );

  test('rejects six fields and says seconds are not supported', () => {
    expect(validateCron('0 */5 * * * *')).toBe(
      'Expected a cron expression with 5 fields (minute hour day-of-month month day-of-week), got 6 in "0 */5 * * * *"; seconds are not supported',
    );
  });

  test('rejects too few fields (cron-parser would fill them in)', () => {
    expect(validateCron('* * *')).toMatch(/with 5 fields .* got 3 in "\* \* \*"/);
  });

  test.each([
    ['61 * * * *', /Invalid cron expression "61 \* \* \* \*": .*0-59/],
    ['* * * 13 *', /Invalid cron expression .*1-12/],
    ['abc * * * *', /Invalid cron expression "abc \* \* \* \*"/],
    ['5-3 * * * *', /Invalid range/],
    ['0 0 31 2 *', /Invalid cron expression/],
    ['H * * * *', /"H" \(hashed\) values are not standard cron/],
    ['@secondly', /Unknown cron macro "@secondly"/],
    ['', /got an empty string/],
  ])('rejects %j', (expr, message) => {
    expect(validateCron(expr)).toMatch(message);
  });
});

describe('nextCronTime', () => {
  const at = Date.UTC(2024, 0, 1, 0, 5, 0);

  test('is strictly after the given time, in UTC by default', () => {
    expect(nextCronTime('*/5 * * * *', at)).toBe(Date.UTC(2024, 0, 1, 0, 10, 0));
    expect(nextCronTime('*/5 * * * *', at - 1)).toBe(at);
    expect(nextCronTime('0 9 * * *', at)).toBe(Date.UTC(2024, 0, 1, 9, 0, 0));
  });

  test('follows day-of-week and macros', () => {
    // 2024-01-01 was a Monday; the next Saturday is the 6th.
    expect(nextCronTime('0 0 * * 6', at)).toBe(Date.UTC(2024, 0, 6));
    expect(nextCronTime('@daily', at)).toBe(Date.UTC(2024, 0, 2));
  });

  test('takes a time zone', () => {
    expect(nextCronTime('0 9 * * *', at, 'Europe/Paris')).toBe(Date.UTC(2024, 0, 1, 8, 0, 0));
  });

  test('throws the validation message for an invalid expression', () => {
    expect(() => nextCronTime('0 0 * * * *', at)).toThrow(/seconds are not supported/);
  });
});
