// Message markdown → DOM nodes. Never produces HTML from text: every piece of the
// message becomes a text node or an element built here, so `<img onerror=…>` in a
// message is shown as the characters it is.
//
// Supported: ```code blocks```, `inline code`, *bold* / **bold**, _italic_,
// ~strike~, [label](url) and bare URLs (http, https, mailto only), @mentions.

const INLINE = new RegExp([
  '`(?<code>[^`\\n]+)`',
  '\\[(?<label>[^\\]\\n]+)\\]\\((?<href>[^\\s)]+)\\)',
  '(?<url>(?:https?:\\/\\/|mailto:)[^\\s<>"\']*[^\\s<>"\'.,;:!?)\\]])',
  '\\*\\*(?<bold2>[^*\\n]+?)\\*\\*',
  '(?<![\\w*])\\*(?<bold>[^*\\n]+?)\\*(?![\\w*])',
  '(?<![\\w])_(?<italic>[^_\\n]+?)_(?![\\w])',
  '(?<![\\w~])~(?<strike>[^~\\n]+?)~(?![\\w~])',
  '(?<![\\w@])@(?<mention>[\\w.-]*\\w)',
].join('|'), 'g');

/** The URL if it is one we link to (http, https, mailto), else null. */
export function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return ['http:', 'https:', 'mailto:'].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, text) {
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

function wrap(tag, children) {
  const el = document.createElement(tag);
  el.append(...children);
  return el;
}

/** Inline markdown of one stretch of text → array of nodes. */
function inline(text, ctx, depth = 0) {
  const out = [];
  let last = 0;
  INLINE.lastIndex = 0;
  const matches = [...text.matchAll(INLINE)];
  for (const m of matches) {
    if (m.index < last) continue;
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    const g = m.groups;
    const nested = (s) => (depth < 4 ? inline(s, ctx, depth + 1) : [document.createTextNode(s)]);
    if (g.code !== undefined) {
      out.push(wrap('code', [document.createTextNode(g.code)]));
    } else if (g.label !== undefined) {
      const href = safeUrl(g.href);
      out.push(href ? link(href, g.label) : document.createTextNode(m[0]));
    } else if (g.url !== undefined) {
      const href = safeUrl(g.url);
      out.push(href ? link(href, g.url) : document.createTextNode(m[0]));
    } else if (g.bold2 !== undefined || g.bold !== undefined) {
      out.push(wrap('strong', nested(g.bold2 ?? g.bold)));
    } else if (g.italic !== undefined) {
      out.push(wrap('em', nested(g.italic)));
    } else if (g.strike !== undefined) {
      out.push(wrap('del', nested(g.strike)));
    } else if (g.mention !== undefined) {
      const span = document.createElement('span');
      const me = ctx && ctx.username === g.mention;
      span.className = me || ['all', 'here'].includes(g.mention) ? 'mention mention-me' : 'mention';
      span.textContent = m[0];
      out.push(span);
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/**
 * Renders message text. `ctx.username` (the viewer) highlights their mentions.
 * Returns a DocumentFragment of paragraphs and code blocks.
 */
export function renderMarkdown(text, ctx = {}) {
  const frag = document.createDocumentFragment();
  const fence = /```(?:[\w+-]*\n)?([\s\S]*?)```/g;
  let last = 0;
  const para = (s) => {
    const trimmed = s.replace(/^\n+|\n+$/g, '');
    if (!trimmed) return;
    const p = document.createElement('p');
    p.append(...inline(trimmed, ctx));
    frag.append(p);
  };
  for (const m of String(text).matchAll(fence)) {
    para(text.slice(last, m.index));
    const pre = document.createElement('pre');
    const code = document.createElement('code');
    code.textContent = m[1].replace(/\n$/, '');
    pre.append(code);
    frag.append(pre);
    last = m.index + m[0].length;
  }
  para(String(text).slice(last));
  return frag;
}
