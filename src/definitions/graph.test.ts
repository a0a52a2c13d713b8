import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { StepTypeRegistry } from '../engine/step-types.js';
import { dependencyOrder } from './graph.js';
import { parseDefinition } from './parse.js';

const stepTypes = new StepTypeRegistry().register({ name: 'noop', config: z.object({}), run: () => null });

type Graph = { nodes: string[]; deps: Map<string, string[]> };

function graphOf(n: number, edges: ReadonlyArray<readonly [number, number]>): Graph {
  const nodes = Array.from({ length: n }, (_, i) => `s${i}`);
  const deps = new Map(nodes.map((name) => [name, [] as string[]]));
  for (const [from, to] of edges) {
    const list = deps.get(nodes[from]!)!;
    if (!list.includes(nodes[to]!)) list.push(nodes[to]!);
  }
  return { nodes, deps };
}

/** A random DAG: edges only go from a later to an earlier node of a hidden random order. */
const dagArb = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc
    .record({
      rank: fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: n, maxLength: n },
      ),
      edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 30 }),
    })
    .map(({ rank, edges }) => {
      const pos = (i: number) => rank.indexOf(i);
      return graphOf(
        n,
        edges.filter(([a, b]) => pos(a) > pos(b)),
      );
    }),
);

/** A random DAG with one cycle added through `k` distinct nodes (k = 1 is a self-dependency). */
const cyclicArb = dagArb.chain((g) =>
  fc.shuffledSubarray(g.nodes, { minLength: 1, maxLength: g.nodes.length }).map((cycle) => {
    const deps = new Map([...g.deps].map(([k, v]) => [k, [...v]]));
    cycle.forEach((name, i) => {
      const next = cycle[(i + 1) % cycle.length]!;
      const list = deps.get(name)!;
      if (!list.includes(next)) list.push(next);
    });
    return { nodes: g.nodes, deps, cycle };
  }),
);

function toToml(g: Graph): string {
  let src = 'id = "gen"\nname = "Generated"\n';
  for (const name of g.nodes) {
    src += `\n[step.${name}]\ntype = "noop"\ndepends_on = ${JSON.stringify(g.deps.get(name) ?? [])}\n`;
  }
  return src;
}

/** Valid, and at each position the first-written step among those whose dependencies are done. */
function expectFirstWrittenTopologicalOrder(g: Graph, order: readonly string[]): void {
  expect([...order].sort()).toEqual([...g.nodes].sort());
  const done = new Set<string>();
  for (const name of order) {
    const ready = g.nodes.filter((n) => !done.has(n) && (g.deps.get(n) ?? []).every((d) => done.has(d)));
    expect(name).toBe(ready[0]);
    done.add(name);
  }
}

describe('dependencyOrder', () => {
  test('dependencies first, ties by position', () => {
    const deps: Record<string, string[]> = { c: ['a'], b: [], a: [], d: ['c', 'b'] };
    expect(dependencyOrder(['c', 'b', 'a', 'd'], (n) => deps[n] ?? [])).toEqual({ ok: true, order: ['b', 'a', 'c', 'd'] });
  });

  test('ignores dependencies on unknown names', () => {
    expect(dependencyOrder(['a'], () => ['ghost'])).toEqual({ ok: true, order: ['a'] });
  });

  test('reports a self-dependency as a cycle of one', () => {
    expect(dependencyOrder(['a', 'b'], (n) => (n === 'a' ? ['a'] : []))).toEqual({ ok: false, cycles: [['a']] });
  });

  test('reports each cycle once, starting at the first written step, not the steps merely blocked by it', () => {
    const deps: Record<string, string[]> = { x: ['c'], c: ['a'], a: ['b'], b: ['c'], p: ['q'], q: ['p'] };
    expect(dependencyOrder(['x', 'c', 'a', 'b', 'p', 'q'], (n) => deps[n] ?? [])).toEqual({
      ok: false,
      cycles: [
        ['c', 'a', 'b'],
        ['p', 'q'],
      ],
    });
  });

  test('a long chain does not overflow the stack', () => {
    const nodes = Array.from({ length: 20_000 }, (_, i) => `n${i}`);
    const r = dependencyOrder(nodes, (n) => (n === 'n0' ? ['n19999'] : [`n${Number(n.slice(1)) - 1}`]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.cycles[0]).toHaveLength(20_000);
  });

  test('property: every DAG comes back in the first-written topological order', () => {
    fc.assert(
      fc.property(dagArb, (g) => {
        const r = dependencyOrder(g.nodes, (n) => g.deps.get(n) ?? []);
        expect(r.ok).toBe(true);
        if (r.ok) expectFirstWrittenTopologicalOrder(g, r.order);
      }),
      { numRuns: 500 },
    );
  });

  test('property: a graph with a cycle is always rejected, with real cycles', () => {
    fc.assert(
      fc.property(cyclicArb, (g) => {
        const r = dependencyOrder(g.nodes, (n) => g.deps.get(n) ?? []);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.cycles.length).toBeGreaterThan(0);
        for (const cycle of r.cycles) {
          expect(new Set(cycle).size).toBe(cycle.length);
          cycle.forEach((name, i) => {
            expect(g.deps.get(name)).toContain(cycle[(i + 1) % cycle.length]);
          });
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('step order through parseDefinition', () => {
  test('property: generated DAGs come back as steps in a valid, deterministic order', () => {
    fc.assert(
      fc.property(dagArb, (g) => {
        const r = parseDefinition(toToml(g), { stepTypes });
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        const order = r.definition.steps.map((s) => s.name);
        expectFirstWrittenTopologicalOrder(g, order);
        for (const s of r.definition.steps) expect(s.dependsOn).toEqual(g.deps.get(s.name));
      }),
      { numRuns: 200 },
    );
  });

  test('property: generated cycles are always rejected with a cycle or self-dependency issue', () => {
    fc.assert(
      fc.property(cyclicArb, (g) => {
        const r = parseDefinition(toToml(g), { stepTypes });
        expect(r.ok).toBe(false);
        if (r.ok) return;
        for (const issue of r.issues) {
          expect(issue.message).toMatch(/^(Dependency cycle: .* \(each step depends on the next\)|Step "s\d+" depends on itself)$/);
          expect(issue.line).toBeGreaterThan(0);
        }
        if (g.cycle.length === 1) {
          expect(r.issues.map((i) => i.message)).toContain(`Step "${g.cycle[0]}" depends on itself`);
        }
      }),
      { numRuns: 200 },
    );
  });
});
