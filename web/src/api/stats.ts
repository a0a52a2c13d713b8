/**
 * Global stats: runs by status. Loaded once; the `runs` topic pushes `stats` after that.
 */
import type { WireCounts, WireStats } from '../../../src/wire/api.js';
import { requestJson } from './http.js';

export interface StatsView {
  runs: WireCounts;
}

export async function getStats(signal?: AbortSignal): Promise<StatsView> {
  const s = await requestJson<WireStats>('/stats', { signal });
  return { runs: s.runs };
}
