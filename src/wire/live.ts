/**
 * The live protocol on `GET /ws` (one socket per browser tab). Events are state, not commands: every
 * message carries a snapshot, so the server merges them per key and the client may apply them in
 * any number. See src/server/live/ARCHITECTURE.md.
 *
 * Topics:
 * - `runs`             the list of runs (manager_progress of every run) and global stats
 * - `run:<manager_id>` one run: its manager_progress and its steps' step_progress (and their status
 *                      changes); never worker-job events
 * - `step:<step_id>`   one step's worker list: job_status_change of its worker jobs (only the ids in
 *                      the client's `view` when it sends one) and the step's step_progress
 * - `logs:<job_id>`    new log lines of that job, or of its whole subtree for a step or a run
 */
import type { WireCounts, WireJobKind, WireJobStatus, WireLogLine } from './api.js';

export type Topic = 'runs' | `run:${number}` | `step:${number}` | `logs:${number}`;

export type ClientMessage =
  /**
   * `since`: the last {epoch, seq} the client saw, to get what it missed instead of a resync.
   * `ids`: for a `step:` topic, the job ids on screen from the start (as a `view` would set them).
   */
  | { type: 'subscribe'; topic: string; since?: { epoch: string; seq: number }; ids?: number[] }
  | { type: 'unsubscribe'; topic: string }
  /** Narrows a `step:` topic to the job ids on screen (at most 1000); an empty list means none. */
  | { type: 'view'; topic: string; ids: number[] }
  | { type: 'ping' };

export interface JobStatusChangePayload {
  job_id: number;
  parent_id: number | null;
  step_id: number | null;
  manager_id: number;
  kind: WireJobKind;
  type: string;
  name: string;
  status: WireJobStatus;
  attempt: number;
  started_at: number | null;
  finished_at: number | null;
  /** The error's first few hundred characters, or null. */
  error: string | null;
}

export interface StepProgressPayload {
  step_id: number;
  manager_id: number;
  name: string;
  status: WireJobStatus;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
  rate_per_sec: number;
  eta_ms: number | null;
  started_at: number | null;
  finished_at: number | null;
  at: number;
}

export interface ManagerProgressPayload extends Omit<StepProgressPayload, 'step_id'> {
  /** The run's steps by status. */
  steps: WireCounts;
  /** So a list can place a run it has not loaded without asking the server. */
  definition_id: string | null;
  created_at: number;
}

export interface JobLogPayload {
  /** The job whose subtree the topic covers (the topic's id). */
  topic_job_id: number;
  lines: WireLogLine[];
  /** Lines left out this tick because more came than a client is sent at once (fetch them by REST). */
  dropped: number;
}

export interface StatsPayload {
  runs: WireCounts;
}

export type ServerMessage =
  | { type: 'hello'; seq: number; payload: { epoch: string; tick_ms: number } }
  | { type: 'subscribed'; seq: number; topic: string; payload: { replayed: number } }
  | { type: 'job_status_change'; seq: number; topic: string; payload: JobStatusChangePayload }
  | { type: 'step_progress'; seq: number; topic: string; payload: StepProgressPayload }
  | { type: 'manager_progress'; seq: number; topic: string; payload: ManagerProgressPayload }
  | { type: 'job_log'; seq: number; topic: string; payload: JobLogPayload }
  | { type: 'stats'; seq: number; topic: string; payload: StatsPayload }
  /** Reload the snapshot of `topic` (a gap, a restart, or the client fell too far behind). */
  | { type: 'resync'; seq: number; topic: string; payload: { reason: string } }
  /** A refused request; `topic` names the topic when a subscribe was refused (it is not subscribed). */
  | { type: 'error'; seq: number; payload: { code: string; message: string; topic?: string } }
  | { type: 'pong'; seq: number; payload: Record<string, never> };

/**
 * The server sends a frame per flush: a JSON array of ServerMessage (one tick's coalesced state).
 * `seq` increases by one per message within one server `epoch` (a new epoch after a restart).
 */
export type ServerFrame = ServerMessage[];
