// DOM helpers. Everything user-controlled goes in as text nodes or attribute
// values set through the DOM API, never through innerHTML.

/**
 * Creates an element. `props`: `class`, `text`, `testid`, `on` ({event: fn}),
 * `attrs` ({name: value}), and any other key is set as a property.
 * Children may be nodes, strings (become text nodes), arrays, null or false.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'testid') el.dataset.testid = value;
    else if (key === 'on') {
      for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    } else if (key === 'attrs') {
      for (const [name, v] of Object.entries(value)) {
        if (v !== undefined && v !== null && v !== false) el.setAttribute(name, v === true ? '' : String(v));
      }
    } else el[key] = value;
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, nested arrays; null/false skipped). */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Removes every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Up to two letters for an avatar: "Ada Lovelace" → "AL", "bob" → "B". */
export function initials(name) {
  const words = String(name || '?').replace(/[^\p{L}\p{N}]+/gu, ' ').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => Array.from(w)[0].toUpperCase()).join('') || '?';
}

/** A stable hue for a name, so each person's avatar keeps its colour. */
export function hue(name) {
  let n = 0;
  for (const c of String(name)) n = (n * 31 + c.codePointAt(0)) % 360;
  return n;
}

/** A date from REST (ISO string), realtime (EJSON {$date}) or a number of ms. */
export function toDate(v) {
  if (!v) return null;
  if (v instanceof Date) return v;
  if (typeof v === 'object' && '$date' in v) return new Date(v.$date);
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** "14:05" today, "Mon, Jan 5 14:05" otherwise. */
export function shortTime(date) {
  if (!date) return '';
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return sameDay ? timeFmt.format(date) : `${dayFmt.format(date)} ${timeFmt.format(date)}`;
}

export function fullTime(date) {
  return date ? fullFmt.format(date) : '';
}

/** A random id in Rocket.Chat's alphabet (17 chars), for client-chosen message ids. */
export function randomId(len = 17) {
  const alphabet = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';
  const bytes = crypto.getRandomValues(new Uint8Array(len));
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/** Shows a transient notice in the app's live region. */
export function announce(text, kind = 'info') {
  const region = document.getElementById('notices');
  if (!region) return;
  const item = h('div', { class: `toast toast-${kind}`, text, testid: 'toast', attrs: { role: kind === 'error' ? 'alert' : 'status' } });
  region.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}
