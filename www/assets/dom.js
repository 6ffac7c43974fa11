/** Small DOM helpers: elements from data (never parsed HTML), ids, times. */

/**
 * Create an element. props: class, text (textContent), dataset, on<event>
 * listeners; anything else becomes an attribute. Children may be nodes or
 * strings (appended as text nodes, never parsed as HTML).
 */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** A random id for client_id: crypto.randomUUID where available (secure contexts). */
export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function pad2(n) {
  return String(n).padStart(2, '0');
}

/** The local day of `date`, as a separator names it: "Today", "Yesterday", or the date. */
export function dayLabel(date, now = new Date()) {
  const day = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(now) - day(date)) / 86400000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const options = { weekday: 'long', day: 'numeric', month: 'long' };
  if (date.getFullYear() !== now.getFullYear()) options.year = 'numeric';
  return date.toLocaleDateString(undefined, options);
}

/** Local time as HH:MM. */
export function formatTime(date) {
  return Number.isNaN(date.getTime()) ? '' : `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

export function sameUser(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

/** Where a link may start: http:// or https:// and what follows up to a space. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;

/**
 * `text` as text nodes and links: http(s) URLs only, built with DOM APIs
 * (never parsed HTML), opening in a new tab without telling the page
 * linked to where the click came from. Trailing punctuation stays text.
 */
export function linkify(text) {
  const nodes = [];
  let last = 0;
  for (const match of String(text).matchAll(URL_PATTERN)) {
    const raw = match[0].replace(/[.,;:!?)\]}'"]+$/, '');
    let url;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(h('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer', text: raw }));
    last = match.index + raw.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

export function setText(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}
