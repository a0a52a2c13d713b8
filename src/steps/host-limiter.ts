/**
 * Politeness per host for the crawler: at most `concurrency` requests in flight to one host, and
 * request starts spaced by `intervalMs`. The limiters live at module level, so they hold for every
 * crawl job in this process (not across processes: each worker process is polite on its own).
 */
import { abortReason, abortableSleep } from './abortable-sleep.js';

class HostLimiter {
  active = 0;
  nextStartAt = 0;
  private readonly waiters: Array<() => void> = [];

  get idle(): boolean {
    return this.active === 0 && this.waiters.length === 0 && this.nextStartAt <= Date.now();
  }

  async acquire(params: { concurrency: number; intervalMs: number; signal: AbortSignal }): Promise<() => void> {
    while (this.active >= params.concurrency) await this.waitTurn(params.signal);
    this.active++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.active--;
      this.waiters.shift()?.();
    };
    try {
      const now = Date.now();
      const startAt = Math.max(now, this.nextStartAt);
      this.nextStartAt = startAt + params.intervalMs;
      await abortableSleep(startAt - now, params.signal);
    } catch (err) {
      release();
      throw err;
    }
    return release;
  }

  private waitTurn(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(wake);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(abortReason(signal));
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

const limiters = new Map<string, HostLimiter>();
const SWEEP_AT = 1000;

/**
 * Waits for a turn to send one request to `host` (host:port); returns the function that ends the turn.
 * Rejects with the signal's reason if it aborts while waiting.
 */
export function acquireHost(params: { host: string; concurrency: number; intervalMs: number; signal: AbortSignal }): Promise<() => void> {
  let limiter = limiters.get(params.host);
  if (!limiter) {
    // Forget idle hosts now and then, so a crawl of many sites does not keep one limiter per host for ever.
    if (limiters.size >= SWEEP_AT) for (const [host, l] of limiters) if (l.idle) limiters.delete(host);
    limiter = new HostLimiter();
    limiters.set(params.host, limiter);
  }
  return limiter.acquire(params);
}
