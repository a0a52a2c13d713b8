import type { JsonValue } from '../core/job.js';
import type { StepPolicy } from '../core/lifecycle.js';
import type { StepType } from '../core/step-type.js';

/**
 * What validation needs to know about step types. The engine's `StepTypeRegistry` has this shape;
 * it is declared here (not imported from engine/) so that definitions/ depends on nothing above it.
 */
export interface StepTypeLookup {
  get(name: string): StepType<unknown> | undefined;
  names(): string[];
  /** False for privileged types (e.g. `shell`) the operator did not enable. */
  isAllowed(name: string): boolean;
}

export interface ParseOptions {
  /** Shown in issues (`file:line:column`). */
  file?: string;
  stepTypes: StepTypeLookup;
}

export interface ResolveOptions {
  stepTypes: StepTypeLookup;
}

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
  /** The step type's schema output (defaults applied). JSON unless the schema transforms into other values. */
  config: JsonValue;
  /**
   * The config with params substituted, before the schema: plain JSON, safe to store in a job payload
   * and to parse again with the step type's schema in another process.
   */
  rawConfig: Record<string, JsonValue>;
}

export type ResolveResult =
  { ok: true; params: Record<string, JsonValue>; steps: ResolvedStep[] } | { ok: false; issues: DefinitionIssue[] };
