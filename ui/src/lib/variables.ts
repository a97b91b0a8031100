// The template preview's variable form → the `variables` JSON the API checks against the
// template's declarations (string, number, bool, time).
import type { JSONObject, Variable } from '../graphql/types';

export type VariableProblem = 'required' | 'number' | 'bool' | 'time';

export interface VariableError {
  name: string;
  problem: VariableProblem;
}

export interface BuiltVariables {
  variables: JSONObject;
  errors: VariableError[];
}

function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function hasToISOString(value: unknown): value is { toISOString(): string } {
  return typeof value === 'object' && value !== null && typeof (value as { toISOString?: unknown }).toISOString === 'function';
}

type Converted = { ok: true; value: unknown } | { ok: false; problem: VariableProblem };

function convert(type: string, value: unknown): Converted {
  switch (type) {
    case 'number': {
      const n = typeof value === 'number' ? value : Number(String(value).trim());
      return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, problem: 'number' };
    }
    case 'bool':
      if (typeof value === 'boolean') {
        return { ok: true, value };
      }
      if (value === 'true' || value === 'false') {
        return { ok: true, value: value === 'true' };
      }
      return { ok: false, problem: 'bool' };
    case 'time': {
      // A Date, a dayjs value (the DatePicker's) or an RFC 3339 string, sent as RFC 3339 UTC.
      const date = hasToISOString(value) ? new Date(value.toISOString()) : new Date(String(value));
      return Number.isNaN(date.getTime()) ? { ok: false, problem: 'time' } : { ok: true, value: date.toISOString() };
    }
    default:
      return { ok: true, value: String(value) };
  }
}

/**
 * buildVariables turns the form's values into the variables object: each declared variable
 * with a value is converted to its type; a blank optional one is left out; a blank required
 * one, or a value that is not of its type, is reported and left out. Values for names the
 * template does not declare are ignored.
 */
export function buildVariables(declared: readonly Variable[], values: Record<string, unknown>): BuiltVariables {
  const variables: JSONObject = {};
  const errors: VariableError[] = [];
  for (const v of declared) {
    const raw = values[v.name];
    if (isBlank(raw)) {
      if (v.required) {
        errors.push({ name: v.name, problem: 'required' });
      }
      continue;
    }
    const converted = convert(v.type, raw);
    if (converted.ok) {
      variables[v.name] = converted.value;
    } else {
      errors.push({ name: v.name, problem: converted.problem });
    }
  }
  return { variables, errors };
}
