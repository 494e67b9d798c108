// The page's small DOM helpers: every text goes in through textContent, never as markup.

const svg_ns = 'http://www.w3.org/2000/svg';

// An element `tag` with `props` (class, text, title, dataset, on*, other attributes) and children.
export function el(tag, props = {}, children = []) {
  return build(document.createElement(tag), props, children);
}

// The same for an SVG element.
export function svg(tag, props = {}, children = []) {
  return build(document.createElementNS(svg_ns, tag), props, children);
}

function build(node, props, children) {
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') {
      node.setAttribute('class', value);
    } else if (name === 'text') {
      node.textContent = String(value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (name.startsWith('on')) {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of [].concat(children)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Replaces the children of `node`.
export function fill(node, children) {
  node.replaceChildren();
  for (const child of [].concat(children)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A verdict's badge; its class gives it its color.
export function verdict_badge(verdict) {
  const name = verdict || 'none';
  return el('span', {class: `verdict v-${name.replace(/[^a-z_]/g, '')}`, text: name});
}

// A queue state's badge (pending, retrying, done, dead).
export function state_badge(state) {
  return el('span', {class: `state s-${String(state).replace(/[^a-z]/g, '')}`, text: state});
}

// "15:26:04.329" in the browser's time zone, from an RFC 3339 time; "15:26:04" when `seconds`.
export function clock_time(rfc3339, seconds = false) {
  const when = new Date(rfc3339);
  if (Number.isNaN(when.getTime())) return String(rfc3339);
  const two = (n) => String(n).padStart(2, '0');
  const text = `${two(when.getHours())}:${two(when.getMinutes())}:${two(when.getSeconds())}`;
  return seconds ? text : `${text}.${String(when.getMilliseconds()).padStart(3, '0')}`;
}

// "+1.25 s" for a skew in seconds; "" for none.
export function skew_text(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const sign = seconds > 0 ? '+' : '';
  const abs = Math.abs(seconds);
  return `${sign}${abs >= 100 ? seconds.toFixed(0) : seconds.toFixed(abs >= 10 ? 1 : 2)} s`;
}

// `text` quoted for a POSIX shell, unquoted when it needs none.
export function shell_quote(text) {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
