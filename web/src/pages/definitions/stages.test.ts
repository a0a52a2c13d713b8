import { describe, expect, it } from 'vitest';
import { formatStages, stagesOf, type StageStep } from './stages.js';

const step = (name: string, ...deps: string[]): StageStep => ({ name, depends_on: deps });

describe('stages of a definition', () => {
  it('puts steps that can run in parallel in one stage, stages in order', () => {
    const steps = [step('scan'), step('fetch'), step('index', 'scan', 'fetch'), step('report', 'index')];
    expect(stagesOf(steps)).toEqual([['scan', 'fetch'], ['index'], ['report']]);
    expect(formatStages(steps)).toBe('scan, fetch → index → report');
  });

  it('places a step one past the latest stage it depends on, not the first', () => {
    // c depends on a (stage 0) and b (stage 1): it waits for b, so stage 2, with d.
    const steps = [step('a'), step('b', 'a'), step('c', 'a', 'b'), step('d', 'b'), step('e')];
    expect(formatStages(steps)).toBe('a, e → b → c, d');
  });

  it('one step, a chain, and no steps', () => {
    expect(formatStages([step('only')])).toBe('only');
    expect(formatStages([step('a'), step('b', 'a'), step('c', 'b')])).toBe('a → b → c');
    expect(formatStages([])).toBe('');
  });

  it('does not depend on the order the steps are listed in', () => {
    const steps = [step('report', 'index'), step('index', 'scan', 'fetch'), step('fetch'), step('scan')];
    expect(stagesOf(steps)).toEqual([['fetch', 'scan'], ['index'], ['report']]);
  });

  it('ignores unknown dependencies and cuts cycles instead of looping', () => {
    expect(formatStages([step('a', 'ghost'), step('b', 'a')])).toBe('a → b');
    const cyclic = stagesOf([step('a', 'c'), step('b', 'a'), step('c', 'b'), step('self', 'self')]);
    expect(cyclic.flat().sort()).toEqual(['a', 'b', 'c', 'self']);
    expect(formatStages([step('a', 'b'), step('b', 'a')])).toBe('b → a');
  });
});
