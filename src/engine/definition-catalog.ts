/**
 * The definitions a store holds, seen through this engine's step types: parsing, validation on save,
 * and resolving what a run request names (a parsed definition, TOML source, or a stored id).
 */
import { StepqError } from '../core/errors.js';
import { definitionError, formatOf, parseDefinition, parseDefinitionObject, parseDefinitionText } from '../definitions/index.js';
import type { Definition, DefinitionIssue, ParseResult } from '../definitions/types.js';
import type { Store, StoredDefinition } from '../store/store.js';
import type { StepTypeRegistry } from './step-types.js';

export interface StoredDefinitionView extends StoredDefinition {
  valid: boolean;
  issues: DefinitionIssue[];
  definition: Definition | null;
}

/** What a run request names as its definition. */
export type DefinitionRef = Definition | { source: string; file?: string } | { id: string };

export class DefinitionCatalog {
  constructor(
    private readonly store: Store,
    private readonly registry: StepTypeRegistry,
  ) {}

  /** TOML, or JSON (by the file name, or a leading `{`). */
  parse(source: string, file?: string): ParseResult {
    return parseDefinitionText(source, { ...(file ? { file } : {}), stepTypes: this.registry });
  }

  /** The definition a run request names, validated whole (ERR_DEFINITION_INVALID otherwise). */
  async resolve(input: DefinitionRef): Promise<Definition> {
    if ('steps' in input) return input;
    if ('source' in input) {
      const r = this.parse(input.source, input.file);
      if (!r.ok) throw definitionError(r.issues);
      return r.definition;
    }
    const stored = await this.store.getDefinition(input.id);
    if (!stored) throw new StepqError('ERR_DEFINITION_NOT_FOUND', `No definition "${input.id}".`, { id: input.id });
    const r = this.parseStored(stored);
    if (!r.ok) throw definitionError(r.issues);
    return r.definition;
  }

  async save(input: { source: string; file?: string }): Promise<StoredDefinitionView> {
    const r = this.parse(input.source, input.file);
    if (!r.ok) throw definitionError(r.issues);
    const saved = await this.store.saveDefinition({
      id: r.definition.id,
      name: r.definition.name,
      source: input.source,
      format: formatOf(input.source, input.file),
      file: input.file ?? null,
    });
    return { ...saved, valid: true, issues: [], definition: r.definition };
  }

  async list(): Promise<StoredDefinitionView[]> {
    return (await this.store.listDefinitions()).map((d) => this.viewOf(d));
  }

  async get(id: string): Promise<StoredDefinitionView | null> {
    const d = await this.store.getDefinition(id);
    return d ? this.viewOf(d) : null;
  }

  delete(id: string): Promise<boolean> {
    return this.store.deleteDefinition(id);
  }

  /** Stored definitions are parsed again on read: step types may have changed since they were saved. */
  private viewOf(d: StoredDefinition): StoredDefinitionView {
    const r = this.parseStored(d);
    return r.ok ? { ...d, valid: true, issues: [], definition: r.definition } : { ...d, valid: false, issues: r.issues, definition: null };
  }

  private parseStored(d: StoredDefinition): ParseResult {
    if (d.format === 'json') {
      let obj: unknown;
      try {
        obj = JSON.parse(d.source);
      } catch (err) {
        return { ok: false, issues: [{ path: '', message: `Invalid JSON: ${(err as Error).message}` }] };
      }
      return parseDefinitionObject(obj, { stepTypes: this.registry });
    }
    return parseDefinition(d.source, { ...(d.file ? { file: d.file } : {}), stepTypes: this.registry });
  }
}
