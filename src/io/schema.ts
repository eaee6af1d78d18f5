import * as v from 'valibot';
import { UsageError } from '../core/errors.js';

/**
 * The one validation layer under every JSON format Diffuse reads (cards, mixtures, grids, schedules,
 * coefficients, search states, chains): schemas written with valibot from the pieces below, and
 * `validate`, which turns the first problem into one line naming the file, the field, the value
 * (truncated) and what is accepted. Pure: no file access.
 */

export type Schema<T> = v.GenericSchema<unknown, T>;

/** How much of a rejected value an error line quotes. */
export const ECHO_CHARS = 60;

/** A value as JSON, cut to `max` characters (errors never echo a whole file). */
export function echo(value: unknown, max = ECHO_CHARS): string {
  let s: string;
  try {
    s = value === undefined ? 'nothing' : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Check `value` against `schema`; the error says `source: "field.path" message; got VALUE`. */
export function validate<T>(schema: Schema<T>, value: unknown, source: string): T {
  const r = v.safeParse(schema, value, { abortEarly: true });
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = (issue.path ?? []).map((p) => (typeof p.key === 'number' ? `[${p.key}]` : `.${String(p.key)}`)).join('').replace(/^\./, '');
  const unknownKey = issue.expected === 'never' && issue.type.endsWith('object');
  const field = path ? `"${path}" ` : '';
  const wholeObject = typeof issue.input === 'object' && issue.input !== null && !Array.isArray(issue.input) && issue.kind === 'validation';
  const got = unknownKey || wholeObject || issue.input === undefined ? '' : `; got ${echo(issue.input)}`;
  throw new UsageError(`${source}: ${field}${issue.message}${got}`);
}

// Pieces with messages that say what is accepted.

/** Any finite number. */
export const finite = v.pipe(v.number('must be a number'), v.finite('must be a finite number'));

/** A finite number in [min, max]. */
export function between(min: number, max: number) {
  const m = `must be a number from ${min} to ${max}`;
  return v.pipe(v.number(m), v.finite(m), v.minValue(min, m), v.maxValue(max, m));
}

/** A finite number > 0. */
export const positive = v.pipe(finite, v.gtValue(0, 'must be a number > 0'));

/** An integer in [min, max]: every count read from a file is bounded (the bound's reason at its use). */
export function integer(min: number, max: number) {
  const m = `must be an integer from ${min} to ${max}`;
  return v.pipe(v.number(m), v.integer(m), v.minValue(min, m), v.maxValue(max, m));
}

export const text = v.pipe(v.string('must be a string'), v.minLength(1, 'must be a non-empty string'));

export const flag = v.boolean('must be true or false');

/** One of the listed strings. */
export function oneOf<const T extends readonly string[]>(accepted: T) {
  return v.picklist(accepted, `must be one of: ${accepted.join(', ')}`);
}

/** An array of `min`..`max` items. */
export function list<T>(item: Schema<T>, min: number, max: number) {
  const m = `must be an array of ${min === max ? `${min}` : `${min} to ${max}`} items`;
  return v.pipe(v.array(item, m), v.minLength(min, m), v.maxLength(max, m));
}

/** A JSON object with exactly these keys (optional ones marked with v.optional); others are refused by name. */
export function record<const E extends v.ObjectEntries>(entries: E, example?: string) {
  const accepted = Object.keys(entries).join(', ');
  return v.strictObject(entries, (issue) => {
    if (issue.expected === 'never') return `is not a known key; accepted: ${accepted}`;
    if (issue.path && issue.received === 'undefined') return `is missing; required with ${accepted.split(', ').filter((k) => !isOptional(entries[k])).join(', ')}`;
    return `must be a JSON object${example ? `, e.g. ${example}` : ''}`;
  });
}

const isOptional = (s: v.ObjectEntries[string] | undefined) => s !== undefined && (s.type === 'optional' || s.type === 'nullish' || s.type === 'exact_optional');

/** Like record, but keys it does not name are kept unread (files other tools write into, e.g. configs). */
export function looseRecord<const E extends v.ObjectEntries>(entries: E, example?: string) {
  return v.looseObject(entries, (issue) =>
    issue.path && issue.received === 'undefined' ? 'is missing' : `must be a JSON object${example ? `, e.g. ${example}` : ''}`,
  );
}

/** A strictly decreasing list of finite numbers (a time grid, first time first). */
export function decreasing(min: number, max: number) {
  return v.pipe(
    list(finite, min, max),
    v.check((ts) => ts.every((t, i) => i === 0 || t < ts[i - 1]), 'must be strictly decreasing (process times from noise to data)'),
  );
}
