export { parseDefinition, parseDefinitionObject } from './parse.js';
export { formatOf, parseDefinitionText, type DefinitionFormat } from './text.js';
export { resolveRun } from './resolve.js';
export { parseDuration, formatDuration } from './durations.js';
export { validateCron, nextCronTime } from './cron.js';
export { formatIssues, definitionError } from './issues.js';
export { coerceParam } from './params.js';
export { createLocator, type Locator, type SourcePosition } from './locate.js';
export { dependencyOrder, type OrderResult } from './graph.js';
export type {
  Definition,
  DefinitionIssue,
  ParamSpec,
  ParamType,
  ParseOptions,
  ParseResult,
  ResolvedStep,
  ResolveOptions,
  ResolveResult,
  StepDefinition,
  StepTypeLookup,
} from './types.js';
export { PARAM_TYPES } from './types.js';
