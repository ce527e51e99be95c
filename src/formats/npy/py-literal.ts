/**
 * A parser for the Python literals an .npy header holds: dicts, tuples,
 * lists, strings, integers, True/False/None. Never eval: the header is
 * untrusted input.
 */
export type PyValue = string | number | boolean | null | PyValue[] | PyDict;
export interface PyDict {
  readonly [key: string]: PyValue;
}

export class PyLiteralError extends Error {}

export function parsePyLiteral(text: string): PyValue {
  const p = new Parser(text);
  const value = p.value();
  p.skipSpace();
  if (!p.done()) throw new PyLiteralError(`unexpected text after the literal at offset ${p.at}`);
  return value;
}

class Parser {
  at = 0;
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.at >= this.text.length;
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.text[this.at]!)) this.at++;
  }

  value(): PyValue {
    this.skipSpace();
    const ch = this.text[this.at];
    if (ch === '{') return this.dict();
    if (ch === '(') return this.parenthesised();
    if (ch === '[') return this.sequence('[', ']');
    if (ch === "'" || ch === '"') return this.string();
    const word = /^(?:[-+]?\d+L?|True|False|None)/.exec(this.text.slice(this.at, this.at + 40));
    if (word === null) throw new PyLiteralError(`unexpected character ${JSON.stringify(ch ?? 'end of header')} at offset ${this.at}`);
    this.at += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0].replace('L', ''));
  }

  private expect(ch: string): void {
    this.skipSpace();
    if (this.text[this.at] !== ch) throw new PyLiteralError(`expected '${ch}' at offset ${this.at}`);
    this.at++;
  }

  /** Whether the next token closes the container, after an optional comma. */
  private closes(close: string, first: boolean): boolean {
    this.skipSpace();
    if (this.text[this.at] === close) {
      this.at++;
      return true;
    }
    if (!first) {
      this.expect(',');
      this.skipSpace();
      if (this.text[this.at] === close) {
        this.at++;
        return true;
      }
    }
    return false;
  }

  private dict(): PyDict {
    this.expect('{');
    const entries: [string, PyValue][] = [];
    for (let first = true; !this.closes('}', first); first = false) {
      const key = this.value();
      if (typeof key !== 'string') throw new PyLiteralError('dict keys must be strings');
      this.expect(':');
      entries.push([key, this.value()]);
    }
    // fromEntries defines own properties: a '__proto__' key stays a key, as in Python.
    return Object.fromEntries(entries);
  }

  private sequence(open: string, close: string): PyValue[] {
    this.expect(open);
    const out: PyValue[] = [];
    for (let first = true; !this.closes(close, first); first = false) out.push(this.value());
    return out;
  }

  /** A tuple, or (as in Python) a parenthesised single value when it has no trailing comma. */
  private parenthesised(): PyValue {
    const start = this.at;
    const items = this.sequence('(', ')');
    const trailingComma = /,\s*\)$/.test(this.text.slice(start, this.at));
    return items.length === 1 && !trailingComma ? items[0]! : items;
  }

  private string(): string {
    const quote = this.text[this.at]!;
    const end = this.text.indexOf(quote, this.at + 1);
    if (end < 0) throw new PyLiteralError('unterminated string');
    const s = this.text.slice(this.at + 1, end);
    this.at = end + 1;
    return s;
  }
}
