import { StepqError } from '../core/errors.js';
import type { StepType } from '../core/step-type.js';
import type { StepTypeLookup } from '../definitions/types.js';

export class StepTypeRegistry implements StepTypeLookup {
  private readonly types = new Map<string, StepType<unknown>>();
  private readonly enabledPrivileged = new Set<string>();

  register<C>(type: StepType<C>): this {
    if (!/^[a-z][a-z0-9_-]*$/.test(type.name)) {
      throw new StepqError('ERR_CONFIG', `Step type name "${type.name}" must match [a-z][a-z0-9_-]*.`);
    }
    this.types.set(type.name, type as StepType<unknown>);
    return this;
  }

  /** Allows a privileged step type (the operator's explicit choice, e.g. `--allow-shell`). */
  enable(name: string): this {
    this.enabledPrivileged.add(name);
    return this;
  }

  get(name: string): StepType<unknown> | undefined {
    return this.types.get(name);
  }

  require(name: string): StepType<unknown> {
    const t = this.types.get(name);
    if (!t) {
      throw new StepqError('ERR_STEP_TYPE_UNKNOWN', `Unknown step type "${name}". Known: ${this.names().join(', ')}.`);
    }
    return t;
  }

  names(): string[] {
    return [...this.types.keys()].sort();
  }

  isAllowed(name: string): boolean {
    const t = this.types.get(name);
    return t !== undefined && (!t.privileged || this.enabledPrivileged.has(name));
  }
}
