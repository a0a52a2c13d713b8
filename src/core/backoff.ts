import type { BackoffPolicy } from './lifecycle.js';

/**
 * Delay before attempt `attempt + 1`, after `attempt` failed. Exponential backoff uses "equal jitter"
 * (half fixed, half random) so that a burst of failures does not come back as a burst of retries,
 * while the delay never drops below half the nominal value.
 */
export function backoffDelay(params: { policy: BackoffPolicy; attempt: number; random?: () => number }): number {
  const { policy, attempt } = params;
  const random = params.random ?? Math.random;
  switch (policy.type) {
    case 'none':
      return 0;
    case 'fixed':
      return policy.baseMs;
    case 'exponential': {
      const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
      return Math.round(nominal / 2 + random() * (nominal / 2));
    }
  }
}
