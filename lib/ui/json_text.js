// A JSON reader that keeps what the body says as it says it: members in their order (repeated
// names too), numbers and strings in their own spelling. JSON.parse would round large integers
// and merge repeated names, and the page shows the body that arrived, not a re-encoding of it.

export class JsonTextError extends Error {}

// The tree of `text`: {type: 'object', members: [{key, raw_key, value}]}, {type: 'array',
// items}, or {type: 'string' | 'number' | 'literal', raw}. Throws JsonTextError when it is not
// one JSON value.
export function read_json(text) {
  const reader = new Reader(text);
  reader.space();
  const value = reader.value(0);
  reader.space();
  if (reader.at < text.length) reader.fail('text after the value');
  return value;
}

const max_depth = 200;
const number_pattern = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

class Reader {
  constructor(text) {
    this.text = text;
    this.at = 0;
  }

  fail(what) {
    throw new JsonTextError(`byte ${this.at}: ${what}`);
  }

  space() {
    while (this.at < this.text.length && ' \t\r\n'.includes(this.text[this.at])) this.at++;
  }

  value(depth) {
    if (depth > max_depth) this.fail('nested too deep to show');
    const c = this.text[this.at];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return {type: 'string', raw: this.string()};
    if (c === '-' || (c >= '0' && c <= '9')) return {type: 'number', raw: this.number()};
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return {type: 'literal', raw: word};
      }
    }
    return this.fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
  }

  object(depth) {
    const members = [];
    this.at++;
    this.space();
    if (this.text[this.at] === '}') {
      this.at++;
      return {type: 'object', members};
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail('expected a member name');
      const raw_key = this.string();
      this.space();
      if (this.text[this.at] !== ':') this.fail("expected ':'");
      this.at++;
      this.space();
      const value = this.value(depth + 1);
      members.push({key: JSON.parse(raw_key), raw_key, value});
      this.space();
      const c = this.text[this.at++];
      if (c === '}') return {type: 'object', members};
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  array(depth) {
    const items = [];
    this.at++;
    this.space();
    if (this.text[this.at] === ']') {
      this.at++;
      return {type: 'array', items};
    }
    for (;;) {
      this.space();
      items.push(this.value(depth + 1));
      this.space();
      const c = this.text[this.at++];
      if (c === ']') return {type: 'array', items};
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  string() {
    const start = this.at++;
    while (this.at < this.text.length) {
      const c = this.text[this.at++];
      if (c === '"') {
        const raw = this.text.slice(start, this.at);
        try {
          JSON.parse(raw);
        } catch (failure) {
          this.at = start;
          this.fail('a string with a bad escape or control character');
        }
        return raw;
      }
      if (c === '\\') this.at++;
    }
    return this.fail('unterminated string');
  }

  number() {
    number_pattern.lastIndex = this.at;
    const match = number_pattern.exec(this.text);
    if (!match) this.fail('a bad number');
    this.at += match[0].length;
    return match[0];
  }
}

// The JSON pointer of `key` under `pointer` (RFC 6901: '~' is '~0', '/' is '~1').
export function child_pointer(pointer, key) {
  return `${pointer}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

// `pointer` without its last token; null for the root.
export function parent_pointer(pointer) {
  if (pointer === '') return null;
  return pointer.slice(0, pointer.lastIndexOf('/'));
}
