import { describe, expect, test } from 'vitest';
import { definitionError, describeValue, didYouMean, formatIssues, formatPath } from './issues.js';

describe('issue text', () => {
  test('formatPath writes indices in brackets and quotes keys that are not bare', () => {
    expect(formatPath(['step', 'fetch', 'urls', 2, 'host'])).toBe('step.fetch.urls[2].host');
    expect(formatPath(['step', 'x', 'a.b', 'c d'])).toBe('step.x."a.b"."c d"');
    expect(formatPath([])).toBe('');
  });

  test('describeValue says what was found', () => {
    expect(describeValue('three')).toBe('"three"');
    expect(describeValue(3)).toBe('3');
    expect(describeValue(Infinity)).toBe('inf');
    expect(describeValue(['a', 1])).toBe('a list ["a",1]');
    expect(describeValue({ a: 1 })).toBe('a table');
    expect(describeValue(undefined)).toBe('nothing');
    expect(describeValue('x'.repeat(100))).toMatch(/^"x+…$/);
    expect(describeValue('x'.repeat(100)).length).toBe(60);
  });

  test('didYouMean suggests close names only', () => {
    expect(didYouMean('depend_on', ['depends_on', 'description'])).toBe(' (did you mean "depends_on"?)');
    expect(didYouMean('dependsOn', ['depends_on'])).toBe(' (did you mean "depends_on"?)');
    expect(didYouMean('defualt', ['type', 'default'])).toBe(' (did you mean "default"?)');
    expect(didYouMean('banana', ['type', 'default'])).toBe('');
    expect(didYouMean('x', ['a', 'b'])).toBe('');
  });

  test('formatIssues: file, line and column when known', () => {
    expect(
      formatIssues([
        { file: 'a.toml', line: 3, column: 5, path: 'step.a.retries', message: 'm1' },
        { file: 'a.toml', line: 4, path: 'tags', message: 'm2' },
        { file: 'a.json', path: 'id', message: 'm3' },
        { path: '', message: 'm4' },
      ]),
    ).toBe('a.toml:3:5: step.a.retries: m1\na.toml:4: tags: m2\na.json: id: m3\nm4');
  });

  test('definitionError carries the issues as details, with the stable code', () => {
    const issues = [{ file: 'a.toml', line: 1, column: 1, path: 'id', message: 'Missing required key "id"' }];
    const err = definitionError(issues);
    expect(err.code).toBe('ERR_DEFINITION_INVALID');
    expect(err.httpStatus).toBe(400);
    expect(err.details).toEqual({ issues });
    expect(err.message).toBe('The definition is invalid (1 problem):\na.toml:1:1: id: Missing required key "id"');
    expect(definitionError(issues, 'ERR_PARAMS_INVALID').code).toBe('ERR_PARAMS_INVALID');
  });
});
