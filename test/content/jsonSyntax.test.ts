import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findJsonSyntaxError, lineAndColumn, parseJson } from '../../src/content/jsonSyntax.ts';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('findJsonSyntaxError', () => {
  it.each([
    ['{"a": 1,}', 7, "trailing comma before '}'"],
    ['[1, 2,\n]', 5, "trailing comma before ']'"],
    ['{"a": 1 "b": 2}', 8, "expected ',' or '}', found '\"'"],
    ['{"a" 1}', 5, "expected ':' after the property name, found '1'"],
    ["{'a': 1}", 1, "expected a double-quoted property name, found '''"],
    ['{"a": tru}', 6, "unexpected 'tru'"],
    ['{"a": "b', 6, 'unterminated string'],
    ['{"a": "line\nbreak"}', 11, 'line break inside a string (unterminated string?)'],
    ['["\\x"]', 2, "invalid escape '\\x' in string"],
    ['[1] [2]', 4, "unexpected '[' after the end of the document"],
    ['{"a": [1, 2}', 11, "expected ',' or ']', found '}'"],
    ['', 0, 'unexpected end of file'],
    ['[-]', 1, 'invalid number'],
  ])('finds the error in %j', (text, offset, message) => {
    expect(findJsonSyntaxError(text)).toEqual({ offset, message });
  });

  it('agrees with JSON.parse on valid JSON and on mangled JSON', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(findJsonSyntaxError(text)).toBeUndefined();
      }),
    );
    const mangled = fc
      .tuple(fc.json(), fc.nat(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', '\n', 'x', '0', '\\'))
      .map(([text, at, length, insert]) => {
        const start = at % (text.length + 1);
        return text.slice(0, start) + insert + text.slice(start + (length % 3));
      });
    fc.assert(
      fc.property(mangled, (text) => {
        expect(findJsonSyntaxError(text) === undefined).toBe(parses(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseJson', () => {
  it('names the line and column of the error', () => {
    expect(parseJson('{\n  "a": 1,\n}')).toEqual({ ok: false, reason: "invalid JSON at line 2, column 9: trailing comma before '}'" });
  });

  it('accepts a byte-order mark', () => {
    expect(parseJson('\uFEFF{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
  });

  it('counts lines and columns from 1', () => {
    expect(lineAndColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});
