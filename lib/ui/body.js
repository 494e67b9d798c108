// A delivery's body, pretty-printed: each schema error marked at the value its JSON pointer
// names (or at the nearest object that holds it, when a property is missing), and the personal
// data in the Message hidden behind a click.

import {el} from './dom.js';
import {child_pointer, JsonTextError, parent_pointer, read_json} from './json_text.js';

// Names of members that hold a person's data, compared in lower case without '_' or '-'.
const personal_names = new Set([
  'email', 'name', 'first', 'last', 'firstname', 'lastname', 'displayname', 'fullname',
  'username', 'phone', 'phonenumber', 'mobile', 'address',
]);

// True when a member named `key` holds a person's data.
export function is_personal(key) {
  const name = String(key).toLowerCase().replace(/[_\-\s]/g, '');
  return personal_names.has(name) || name.endsWith('email') || name.endsWith('phone') ||
      name.endsWith('address');
}

// Bodies larger than this are shown as they are, without marks: the tree would be too slow.
const max_pretty_chars = 2 * 1024 * 1024;

// The body `text` as a <pre>, with `marks` ([{pointer, message}]). Returns {node, marked,
// masked}: `marked[i]` is the element mark i points at (null when the body is not JSON), and
// `masked` the number of values hidden.
export function render_body(text, marks) {
  const pre = el('pre', {class: 'body'});
  const marked = marks.map(() => null);
  if (text === '') {
    pre.append(el('span', {class: 'muted', text: '(empty body)'}));
    return {node: pre, marked, masked: 0, note: null};
  }
  let tree;
  let note = null;
  try {
    if (text.length > max_pretty_chars) throw new JsonTextError('too large to pretty-print');
    tree = read_json(text);
  } catch (failure) {
    if (!(failure instanceof JsonTextError)) throw failure;
    pre.append(text);
    note = `shown as received: ${failure.message}`;
    return {node: pre, marked, masked: 0, note};
  }
  const printer = new Printer();
  printer.value(pre, tree, '', '', false);
  pre.append('\n');
  marks.forEach((mark, i) => {
    marked[i] = printer.mark(mark.pointer, mark.message, i + 1);
  });
  return {node: pre, marked, masked: printer.masked, note};
}

class Printer {
  constructor() {
    this.values = new Map();  // pointer -> the element that shows the value
    this.notes = new Map();   // pointer -> where notes about the value go
    this.masked = 0;
  }

  // Appends the value `node` at `pointer` to `parent`; `indent` is its line's indentation.
  value(parent, node, pointer, indent, personal) {
    let shown;
    if (node.type === 'object' || node.type === 'array') {
      shown = this.composite(node, pointer, indent);
    } else {
      shown = el('span', {class: `v t-${node.type}`, text: node.raw});
    }
    if (personal) {
      this.masked++;
      const mask = el('span', {
        class: 'personal masked',
        title: 'personal data: click to show',
        role: 'button',
        tabindex: '0',
      }, [el('span', {class: 'mask', text: '••••••'}), shown]);
      const reveal = (event) => {
        if (!mask.classList.contains('masked')) return;
        event.stopPropagation();
        mask.classList.remove('masked');
        mask.removeAttribute('title');
        mask.removeAttribute('role');
        mask.removeAttribute('tabindex');
      };
      mask.addEventListener('click', reveal);
      mask.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') reveal(event);
      });
      shown = mask;
    }
    this.values.set(pointer, shown);
    parent.append(shown);
  }

  composite(node, pointer, indent) {
    const is_object = node.type === 'object';
    const [open, close] = is_object ? ['{', '}'] : ['[', ']'];
    const span = el('span', {class: `v t-${node.type}`});
    const entries = is_object ? node.members : node.items;
    if (entries.length === 0) {
      span.append(open + close);
      this.note_anchor(span, pointer);
      return span;
    }
    span.append(open);
    this.note_anchor(span, pointer);
    span.append('\n');
    const inner = `${indent}  `;
    entries.forEach((entry, i) => {
      span.append(inner);
      const last = i === entries.length - 1;
      if (is_object) {
        const at = child_pointer(pointer, entry.key);
        span.append(el('span', {class: 'k', text: entry.raw_key}), ': ');
        const personal = pointer.startsWith('/Message') && is_personal(entry.key);
        this.value(span, entry.value, at, inner, personal);
        if (!last) span.append(',');
        if (!is_composite(entry.value)) this.note_anchor(span, at);
      } else {
        const at = child_pointer(pointer, i);
        this.value(span, entry, at, inner, false);
        if (!last) span.append(',');
        if (!is_composite(entry)) this.note_anchor(span, at);
      }
      span.append('\n');
    });
    span.append(indent + close);
    return span;
  }

  note_anchor(parent, pointer) {
    const anchor = el('span', {class: 'notes'});
    this.notes.set(pointer, anchor);
    parent.append(anchor);
  }

  // Marks the value at `pointer`, or the nearest one that holds it; returns the element.
  mark(pointer, message, number) {
    let at = pointer;
    while (at !== null && !this.values.has(at)) at = parent_pointer(at);
    if (at === null) return null;
    const value = this.values.get(at);
    value.classList.add('marked');
    const anchor = this.notes.get(at);
    const where = at === pointer ? '' : ` (at ${pointer})`;
    if (anchor) {
      anchor.append(el('span', {class: 'note', dataset: {mark: String(number)}},
          [el('span', {class: 'note-number', text: String(number)}), ` ${message}${where}`]));
    }
    return value;
  }
}

function is_composite(node) {
  return node.type === 'object' || node.type === 'array';
}
