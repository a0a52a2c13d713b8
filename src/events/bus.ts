import type { StepqEventName, StepqEvents } from '../core/events.js';

export type Listener<K extends StepqEventName> = (event: StepqEvents[K]) => void;

/**
 * The in-process event bus. Dispatch is synchronous and cheap when nobody listens, because the
 * engine publishes one event per job transition. A listener that throws is reported, never allowed to
 * break the publisher (a transition has already committed when its event goes out).
 */
export class EventBus {
  private readonly listeners = new Map<StepqEventName, Set<(e: never) => void>>();
  private readonly onListenerError: (err: unknown, event: StepqEventName) => void;

  constructor(opts: { onListenerError?: (err: unknown, event: StepqEventName) => void } = {}) {
    this.onListenerError = opts.onListenerError ?? ((err) => console.error('stepq event listener failed:', err));
  }

  on<K extends StepqEventName>(name: K, fn: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(fn as (e: never) => void);
    return () => this.off(name, fn);
  }

  off<K extends StepqEventName>(name: K, fn: Listener<K>): void {
    this.listeners.get(name)?.delete(fn as (e: never) => void);
  }

  has(name: StepqEventName): boolean {
    return (this.listeners.get(name)?.size ?? 0) > 0;
  }

  emit<K extends StepqEventName>(name: K, event: StepqEvents[K]): void {
    const set = this.listeners.get(name);
    if (!set || set.size === 0) return;
    for (const fn of set) {
      try {
        (fn as Listener<K>)(event);
      } catch (err) {
        this.onListenerError(err, name);
      }
    }
  }
}
