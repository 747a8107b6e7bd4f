// Parses a content file and, when it is not JSON, says where: Node 20's JSON.parse messages
// often carry no position (e.g. for a trailing comma), so a small scanner finds the first error.

export type JsonParseResult = { ok: true; value: unknown } | { ok: false; reason: string };

export function parseJson(source: string): JsonParseResult {
  const text = source.replace(/^\uFEFF/, ''); // editors on Windows like to add a byte-order mark
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const found = findJsonSyntaxError(text);
    if (!found) return { ok: false, reason: `invalid JSON: ${(error as Error).message}` };
    const { line, column } = lineAndColumn(text, found.offset);
    return { ok: false, reason: `invalid JSON at line ${line}, column ${column}: ${found.message}` };
  }
}

export interface JsonSyntaxError {
  /** Index into the text of the character at fault. */
  readonly offset: number;
  readonly message: string;
}

/** The first syntax error in `text`, or undefined if it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const scanner = new JsonScanner(text);
  try {
    scanner.document();
    return undefined;
  } catch (error) {
    if (error instanceof ScanError) return { offset: error.offset, message: error.message };
    throw error;
  }
}

/** 1-based line and column of a character offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

class ScanError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD = /[A-Za-z_]\w*/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /[0-9a-fA-F]{4}/y;

/** A recursive-descent recogniser for RFC 8259 JSON that only reports where it fails. */
class JsonScanner {
  private pos = 0;

  constructor(private readonly text: string) {}

  document(): void {
    this.value();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected ${this.describe()} after the end of the document`);
  }

  private value(): void {
    this.skipSpace();
    const char = this.text[this.pos];
    if (char === '{') this.object();
    else if (char === '[') this.array();
    else if (char === '"') this.string();
    else if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) this.number();
    else this.literal();
  }

  private object(): void {
    this.pos++; // {
    this.skipSpace();
    if (this.take('}')) return;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail(`expected a double-quoted property name, found ${this.describe()}`);
      this.string();
      this.skipSpace();
      if (!this.take(':')) this.fail(`expected ':' after the property name, found ${this.describe()}`);
      this.value();
      if (!this.separator('}')) return;
    }
  }

  private array(): void {
    this.pos++; // [
    this.skipSpace();
    if (this.take(']')) return;
    for (;;) {
      this.value();
      if (!this.separator(']')) return;
    }
  }

  /** After a member: true on ',' (another follows), false on the closing bracket. */
  private separator(close: string): boolean {
    this.skipSpace();
    const comma = this.pos;
    if (this.take(',')) {
      this.skipSpace();
      if (this.text[this.pos] === close) this.fail(`trailing comma before '${close}'`, comma);
      return true;
    }
    if (this.take(close)) return false;
    return this.fail(`expected ',' or '${close}', found ${this.describe()}`);
  }

  private string(): void {
    const start = this.pos;
    this.pos++; // opening quote
    for (;;) {
      const char = this.text[this.pos];
      if (char === undefined) this.fail('unterminated string', start);
      if (char === '"') {
        this.pos++;
        return;
      }
      if (char === '\\') {
        const escaped = this.text[this.pos + 1] ?? '';
        if (escaped === 'u') {
          HEX4.lastIndex = this.pos + 2;
          if (!HEX4.test(this.text)) this.fail('\\u must be followed by four hex digits');
          this.pos += 6;
        } else if (ESCAPES.has(escaped)) {
          this.pos += 2;
        } else {
          this.fail(`invalid escape '\\${escaped}' in string`);
        }
      } else if (char < ' ') {
        this.fail(char === '\n' ? 'line break inside a string (unterminated string?)' : 'control character inside a string');
      } else {
        this.pos++;
      }
    }
  }

  private number(): void {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail(`invalid number`);
    this.pos = NUMBER.lastIndex;
  }

  private literal(): void {
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return;
      }
    }
    this.fail(`unexpected ${this.describe()}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text.charAt(this.pos))) this.pos++;
  }

  private take(char: string): boolean {
    if (this.text[this.pos] !== char) return false;
    this.pos++;
    return true;
  }

  /** What sits at the current position, in words a designer recognises. */
  private describe(): string {
    if (this.pos >= this.text.length) return 'end of file';
    WORD.lastIndex = this.pos;
    const word = WORD.exec(this.text)?.[0];
    if (word !== undefined) return `'${word}'`;
    const char = this.text.charAt(this.pos);
    return char.trim() === '' ? JSON.stringify(char) : `'${char}'`;
  }

  private fail(message: string, offset = this.pos): never {
    throw new ScanError(offset, message);
  }
}
