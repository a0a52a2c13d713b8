import type { JsonValue } from '../core/job.js';
import type { StepPolicy } from '../core/lifecycle.js';

export const PARAM_TYPES = ['string', 'number', 'integer', 'boolean'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export interface ParamSpec {
  type: ParamType;
  default?: string | number | boolean;
  description?: string;
  /** True when the param has no default: a run must give it. */
  required: boolean;
}

export interface StepDefinition {
  name: string;
  type: string;
  description?: string;
  dependsOn: string[];
  policy: StepPolicy;
  /** The step type's own keys, as written (may hold `{{params.x}}` templates until a run resolves them). */
  config: Record<string, JsonValue>;
}

export interface Definition {
  id: string;
  name: string;
  description?: string;
  tags: string[];
  /** 5-field cron expression, if the definition runs on a schedule. */
  schedule?: string;
  /** Whole-run timeout; null = none. */
  timeoutMs: number | null;
  enabled: boolean;
  params: Record<string, ParamSpec>;
  /** In a dependency order: every step comes after the steps it depends on. */
  steps: StepDefinition[];
}

/** One problem in a definition, located as precisely as the source allows. */
export interface DefinitionIssue {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted path of the field, e.g. `step.fetch.retries`. */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; definition: Definition } | { ok: false; issues: DefinitionIssue[] };

/** A run's steps with params substituted and configs parsed by their step types' schemas. */
export interface ResolvedStep {
  name: string;
  type: string;
  dependsOn: string[];
  policy: StepPolicy;
  config: JsonValue;
}

export type ResolveResult =
  | { ok: true; params: Record<string, JsonValue>; steps: ResolvedStep[] }
  | { ok: false; issues: DefinitionIssue[] };
