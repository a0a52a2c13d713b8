/**
 * The step graph: a deterministic dependency order, or the cycles that make one impossible.
 * A cycle is never "resolved" by picking an order; it is reported with its steps in order.
 */

export type OrderResult = { ok: true; order: string[] } | { ok: false; cycles: string[][] };

/**
 * Kahn's algorithm; among the steps ready at the same time, the one written first goes first, so the
 * order depends only on the definition. Dependencies on names not in `nodes` are ignored (they are
 * reported elsewhere). O(n²) in the number of steps, which is fine for definitions (tens of steps),
 * not for job graphs.
 */
export function dependencyOrder(nodes: readonly string[], dependsOn: (name: string) => readonly string[]): OrderResult {
  const index = new Map(nodes.map((n, i) => [n, i]));
  const deps = nodes.map((n) => [...new Set(dependsOn(n))].filter((d) => index.has(d)).map((d) => index.get(d)!));
  const dependents: number[][] = nodes.map(() => []);
  const waiting = deps.map((d) => d.length);
  deps.forEach((list, i) => list.forEach((d) => dependents[d]!.push(i)));

  const ready = new Set<number>();
  waiting.forEach((w, i) => w === 0 && ready.add(i));
  const order: string[] = [];
  while (ready.size > 0) {
    const next = Math.min(...ready);
    ready.delete(next);
    order.push(nodes[next]!);
    for (const d of dependents[next]!) {
      waiting[d]! -= 1;
      if (waiting[d] === 0) ready.add(d);
    }
  }
  if (order.length === nodes.length) return { ok: true, order };
  return { ok: false, cycles: findCycles(nodes, deps) };
}

/**
 * One cycle per strongly connected component that has one (Tarjan), each starting at the step written
 * first and following `depends_on` edges: `[a, b, c]` means a depends on b, b on c, c on a. A step
 * that depends on itself is the cycle `[a]`.
 */
function findCycles(nodes: readonly string[], deps: readonly number[][]): string[][] {
  const n = nodes.length;
  const low = new Array<number>(n).fill(-1);
  const num = new Array<number>(n).fill(-1);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const components: number[][] = [];
  let counter = 0;

  // Iterative Tarjan: a deep chain of steps must not overflow the call stack.
  for (let root = 0; root < n; root++) {
    if (num[root] !== -1) continue;
    const frames: Array<{ v: number; next: number }> = [{ v: root, next: 0 }];
    num[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const edges = deps[frame.v]!;
      if (frame.next < edges.length) {
        const w = edges[frame.next++]!;
        if (num[w] === -1) {
          num[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          frames.push({ v: w, next: 0 });
        } else if (onStack[w]) {
          low[frame.v] = Math.min(low[frame.v]!, num[w]!);
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low[parent.v] = Math.min(low[parent.v]!, low[frame.v]!);
      if (low[frame.v] === num[frame.v]) {
        const component: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = false;
          component.push(w);
        } while (w !== frame.v);
        components.push(component);
      }
    }
  }

  const cycles: number[][] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = Math.min(...component);
    if (component.length === 1 && !deps[start]!.includes(start)) continue;
    cycles.push(shortestCycle(start, members, deps));
  }
  cycles.sort((a, b) => a[0]! - b[0]!);
  return cycles.map((c) => c.map((i) => nodes[i]!));
}

/** Breadth-first from `start` back to itself inside its component: the shortest cycle through it. */
function shortestCycle(start: number, members: ReadonlySet<number>, deps: readonly number[][]): number[] {
  const cameFrom = new Map<number, number>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!;
    // Edges in the order written, so that among equally short cycles the choice is stable.
    for (const w of deps[v]!) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
        return path;
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start]; // unreachable for a real component; kept total
}
