/**
 * A definition's steps by stage, as `stepq validate` prints them: a step's stage is one past the
 * latest stage of the steps it depends on, so the steps of one stage can run in parallel
 * ("scan, fetch → index → report"). Computed here from the API's steps and their `depends_on`.
 */

export interface StageStep {
  name: string;
  depends_on: readonly string[];
}

/**
 * Step names by stage, first stage first; within a stage, in the order the definition lists them.
 * The server sends the steps of a valid definition only, in dependency order; this does not rely on
 * either: the order may be any, a dependency on a step not listed is ignored, and a cycle is cut
 * where it is found (its steps are still shown, each once).
 */
export function stagesOf(steps: readonly StageStep[]): string[][] {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const level = new Map<string, number>();
  const visiting = new Set<string>();
  const levelOf = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    visiting.add(name);
    let l = 0;
    for (const dep of byName.get(name)?.depends_on ?? []) {
      if (!byName.has(dep) || visiting.has(dep)) continue;
      l = Math.max(l, levelOf(dep) + 1);
    }
    visiting.delete(name);
    level.set(name, l);
    return l;
  };
  const stages: string[][] = [];
  const seen = new Set<string>();
  for (const s of steps) {
    if (seen.has(s.name)) continue;
    seen.add(s.name);
    (stages[levelOf(s.name)] ??= []).push(s.name);
  }
  return stages.filter((stage) => stage !== undefined);
}

/** "scan, fetch → index → report"; an empty string for no steps. */
export function formatStages(steps: readonly StageStep[]): string {
  return stagesOf(steps)
    .map((stage) => stage.join(', '))
    .join(' → ');
}
