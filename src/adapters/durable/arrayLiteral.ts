// PostgreSQL array literals for `pg` parameters. pg builds one itself for every JS array, but it
// quotes and regex-escapes each element one by one: a 10,000-row batch sync spent more of its
// Node time there than anywhere else in the pg driver. Numbers need no quoting and most strings
// no escaping, so the literal is built with one join.

type Element = string | number | boolean | null | undefined;

const NEEDS_ESCAPE = /["\\]/;

function element(value: Element): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`array element ${String(value)} is not a finite number`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  // Always quoted, so that NULL, empty strings, spaces, commas and braces stay plain text.
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(/["\\]/g, '\\$&')}"` : `"${value}"`;
}

function isElement(value: unknown): value is Element {
  const type = typeof value;
  return value === null || value === undefined || type === 'string' || type === 'number' || type === 'boolean';
}

/** The literal for a flat array of scalars; anything else (nested arrays, buffers, dates) is left to pg. */
export function arrayLiteral(values: readonly unknown[]): string | readonly unknown[] {
  if (!values.every(isElement)) return values;
  return `{${values.map(element).join(',')}}`;
}

/** Parameters as sent: flat arrays of scalars become literals. */
export function withArrayLiterals(params: readonly unknown[] | undefined): unknown[] | undefined {
  return params?.map((param) => (Array.isArray(param) ? arrayLiteral(param) : param));
}
