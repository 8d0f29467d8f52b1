// One message as a list item: avatar initials, author, time, edited mark, text
// (safe markdown), app attachments and fields, reactions, thread replies, actions.

import { messageAvatar } from './avatars.js';
import { h, initials, hue, toDate, shortTime, fullTime } from './dom.js';
import { renderMarkdown, safeUrl } from './markdown.js';
import { isFileAttachment, fileAttachmentNode } from './file-card.js';

/** Shortcodes we draw as emoji; any other reaction shows its name. */
export const EMOJI = {
  ':thumbsup:': '👍', ':+1:': '👍', ':thumbsdown:': '👎', ':-1:': '👎', ':heart:': '❤️', ':joy:': '😂',
  ':smile:': '😄', ':tada:': '🎉', ':eyes:': '👀', ':rocket:': '🚀', ':wave:': '👋', ':white_check_mark:': '✅',
  ':thinking:': '🤔', ':fire:': '🔥', ':pray:': '🙏', ':clap:': '👏',
};
export const QUICK_REACTIONS = [':thumbsup:', ':heart:', ':joy:', ':tada:', ':eyes:', ':rocket:'];

const SYSTEM_TEXT = {
  uj: (m) => `${m.msg || m.u.username} joined the room`,
  ul: (m) => `${m.msg || m.u.username} left the room`,
  au: (m) => `${m.u.username} added ${m.msg}`,
  ru: (m) => `${m.u.username} removed ${m.msg}`,
  ujt: (m) => `${m.msg || m.u.username} joined the team`,
  r: (m) => `${m.u.username} renamed the room to ${m.msg}`,
  room_changed_topic: (m) => `${m.u.username} changed the topic to: ${m.msg}`,
  'message_pinned': (m) => `${m.u.username} pinned a message`,
  'discussion-created': (m) => `${m.u.username} started a discussion: ${m.msg}`,
};

function emojiText(code) {
  return EMOJI[code] || code;
}

/** Whether `msg` continues `prev` (same author, close in time): drawn without a header. */
export function continues(prev, msg) {
  if (!prev || prev.t || msg.t || prev.ephemeral || msg.ephemeral) return false;
  if (prev.u._id !== msg.u._id || (prev.alias || '') !== (msg.alias || '')) return false;
  const a = toDate(prev.ts);
  const b = toDate(msg.ts);
  return a && b && b - a < 5 * 60 * 1000 && a.toDateString() === b.toDateString();
}

function attachmentNode(att, viewer) {
  if (!att || typeof att !== 'object') return null;
  if (isFileAttachment(att)) return fileAttachmentNode(att);
  const box = h('div', { class: 'attachment', testid: 'attachment' });
  if (typeof att.color === 'string' && /^(#[0-9a-f]{3,8}|[a-z]{3,20})$/i.test(att.color)) {
    box.style.borderLeftColor = att.color;
  }
  if (att.author_name) {
    const authorLink = att.author_link && safeUrl(att.author_link);
    box.append(h('div', { class: 'att-author' }, authorLink
      ? h('a', { href: authorLink, text: att.author_name, target: '_blank', rel: 'noopener noreferrer' })
      : String(att.author_name)));
  }
  if (att.pretext) box.append(h('div', { class: 'att-pretext' }, renderMarkdown(String(att.pretext), viewer)));
  if (att.title) {
    const titleLink = att.title_link && safeUrl(att.title_link);
    box.append(h('div', { class: 'att-title' }, titleLink
      ? h('a', { href: titleLink, text: String(att.title), target: '_blank', rel: 'noopener noreferrer' })
      : String(att.title)));
  }
  if (att.text) box.append(h('div', { class: 'att-text message-text' }, renderMarkdown(String(att.text), viewer)));
  if (Array.isArray(att.fields) && att.fields.length) {
    box.append(h('div', { class: 'att-fields' }, att.fields.filter((f) => f && typeof f === 'object').map((f) =>
      h('div', { class: 'att-field', testid: 'attachment-field' },
        h('div', { class: 'att-field-title', text: String(f.title ?? '') }),
        h('div', { class: 'att-field-value message-text' }, renderMarkdown(String(f.value ?? ''), viewer))))));
  }
  for (const key of ['image_url', 'audio_url', 'video_url']) {
    const url = att[key] && safeUrl(att[key]);
    if (url) {
      const label = { image_url: 'Image', audio_url: 'Audio', video_url: 'Video' }[key];
      box.append(h('div', {}, h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: `${label}: ${url}` })));
    }
  }
  return box.childNodes.length ? box : null;
}

/**
 * A link's preview card (the message's `urls`, read by the server): site, title
 * and description. Images and players of other sites are not loaded (the page's
 * policy keeps readers' browsers from contacting them); the card links to the page.
 */
function linkPreviewNode(item) {
  if (!item || typeof item !== 'object' || item.ignoreParse) return null;
  const meta = item.meta && typeof item.meta === 'object' ? item.meta : {};
  const href = safeUrl(String(item.url || ''));
  if (!href) return null;
  const first = (...keys) => keys.map((k) => meta[k]).find((v) => typeof v === 'string' && v.trim());
  const title = first('oembedTitle', 'ogTitle', 'twitterTitle', 'title', 'pageTitle');
  const description = first('ogDescription', 'twitterDescription', 'description');
  if (!title && !description) return null;
  let host = '';
  try { host = new URL(href).host; } catch { host = ''; }
  const site = first('oembedProviderName', 'ogSiteName') || host;
  return h('div', { class: 'attachment link-preview', testid: 'link-preview' },
    site ? h('div', { class: 'att-pretext', testid: 'link-preview-site', text: site }) : null,
    title ? h('div', { class: 'att-title' }, h('a', {
      href, text: title, target: '_blank', rel: 'noopener noreferrer', testid: 'link-preview-title',
    })) : null,
    description ? h('div', { class: 'att-text', testid: 'link-preview-description', text: description }) : null);
}

function reactionsNode(msg, viewer, onAction) {
  const entries = Object.entries(msg.reactions || {}).filter(([, r]) => r && r.usernames && r.usernames.length);
  if (!entries.length) return null;
  return h('div', { class: 'reactions', testid: 'reactions' }, entries.map(([code, r]) => {
    const mine = r.usernames.includes(viewer.username);
    return h('button', {
      type: 'button', class: 'reaction', testid: 'reaction',
      title: `${r.usernames.join(', ')} reacted with ${code}`,
      attrs: { 'aria-pressed': String(mine), 'aria-label': `${code} ${r.usernames.length}, by ${r.usernames.join(', ')}` },
      on: { click: () => onAction('react', msg, { emoji: code, shouldReact: !mine }) },
    }, `${emojiText(code)} ${r.usernames.length}`);
  }));
}

/**
 * The `<li>` for a message. `opts`: `viewer` (the user), `grouped`, `inThread`
 * (drawn in the thread panel), `onAction(kind, msg, extra)` for react, thread,
 * edit and delete.
 */
export function renderMessage(msg, opts) {
  const { viewer, grouped, inThread, onAction } = opts;
  const system = Boolean(msg.t);
  const mine = msg.u && msg.u._id === viewer._id;
  const starred = Array.isArray(msg.starred) && msg.starred.some((s) => s._id === viewer._id);
  const author = msg.alias || msg.u?.name || msg.u?.username || 'unknown';
  const date = toDate(msg.ts);
  const classes = ['message'];
  if (system) classes.push('system');
  if (msg.ephemeral) classes.push('ephemeral');
  if (msg.pending) classes.push('pending');
  if (grouped && !system) classes.push('grouped');
  if (msg.mentions?.some((m) => m._id === viewer._id)) classes.push('mentions-me');

  const letters = h('div', { class: 'avatar', text: initials(author), attrs: { 'aria-hidden': 'true' } });
  letters.style.background = `hsl(${hue(msg.u?.username || author)} 55% 45%)`;
  const avatar = messageAvatar(msg, letters);

  const time = h('time', { text: shortTime(date), title: fullTime(date), attrs: { datetime: date ? date.toISOString() : null } });
  // A name other than the sender's own is never shown alone: the real account
  // stays visible, and a badge says whether a bot, an app or a person chose it.
  const aliased = Boolean(msg.alias) && !system && Boolean(msg.u);
  const badge = msg.bot ? (msg.bot.i ? 'App' : 'Bot') : aliased ? 'Alias' : null;
  const head = h('div', { class: 'message-head' },
    h('span', { class: 'author', testid: 'message-author', text: author }),
    msg.u && (aliased || author !== msg.u.username)
      ? h('span', { class: 'username', testid: 'message-sender', text: aliased ? `via @${msg.u.username}` : `@${msg.u.username}` })
      : null,
    badge ? h('span', {
      class: 'bot-tag', testid: 'bot-tag', text: badge,
      title: aliased ? `Sent by @${msg.u.username} under the name “${msg.alias}”` : `Sent by ${badge === 'App' ? 'an app' : 'a bot'}`,
    }) : null,
    time,
    msg.pinned ? h('span', { class: 'edited', testid: 'message-pinned', text: '📌 pinned', title: msg.pinnedBy ? `Pinned by ${msg.pinnedBy.username}` : 'Pinned' }) : null,
    starred ? h('span', { class: 'edited', testid: 'message-starred', text: '★', title: 'You starred this message' }) : null,
    msg.pending ? h('span', { class: 'edited', text: 'Sending…' }) : null);

  const text = h('div', { class: 'message-text', testid: 'message-text' });
  if (system) {
    const describe = SYSTEM_TEXT[msg.t];
    text.textContent = describe ? describe(msg) : msg.msg;
  } else {
    text.append(renderMarkdown(msg.msg || '', { username: viewer.username }));
  }

  const body = h('div', { class: 'message-body' }, text);
  if (msg.editedAt) {
    const edited = toDate(msg.editedAt);
    body.append(h('span', {
      class: 'edited', testid: 'message-edited', text: '(edited)',
      title: `Edited${msg.editedBy ? ` by ${msg.editedBy.username}` : ''} ${fullTime(edited)}`,
    }));
  }
  if (msg.ephemeral) body.append(h('div', { class: 'ephemeral-tag', testid: 'ephemeral-tag', text: 'Only you can see this message.' }));
  for (const att of Array.isArray(msg.attachments) ? msg.attachments : []) {
    const node = attachmentNode(att, { username: viewer.username });
    if (node) body.append(node);
  }
  for (const item of Array.isArray(msg.urls) ? msg.urls : []) {
    const node = linkPreviewNode(item);
    if (node) body.append(node);
  }
  if (!msg.ephemeral && !msg.pending) {
    const reactions = reactionsNode(msg, viewer, onAction);
    if (reactions) body.append(reactions);
  }
  // A discussion's announcement links to it, with its message count.
  if (typeof msg.drid === 'string' && msg.drid) {
    const n = msg.dcount || 0;
    body.append(h('div', { class: 'thread-link' }, h('a', {
      href: `#/rid/${encodeURIComponent(msg.drid)}`, class: 'link', testid: 'discussion-link',
      text: `Open discussion · ${n} ${n === 1 ? 'message' : 'messages'}`,
    })));
  }
  if (!inThread && msg.tcount) {
    body.append(h('div', { class: 'thread-link' }, h('button', {
      type: 'button', class: 'link', testid: 'thread-replies',
      text: `${msg.tcount} ${msg.tcount === 1 ? 'reply' : 'replies'}`,
      on: { click: () => onAction('thread', msg) },
    })));
  }

  let actions = null;
  if (!system && !msg.ephemeral && !msg.pending) {
    actions = h('div', { class: 'message-actions', attrs: { role: 'toolbar', 'aria-label': 'Message actions' } },
      h('button', { type: 'button', text: '☺+', title: 'Add reaction', testid: 'action-react', attrs: { 'aria-label': 'Add reaction' }, on: { click: (ev) => onAction('react-pick', msg, { anchor: ev.currentTarget }) } }),
      inThread ? null : h('button', { type: 'button', text: 'Reply', title: 'Reply in thread', testid: 'action-thread', attrs: { 'aria-label': 'Reply in thread' }, on: { click: () => onAction('thread', msg) } }),
      h('button', { type: 'button', text: starred ? '★' : '☆', title: starred ? 'Unstar' : 'Star', testid: 'action-star', attrs: { 'aria-label': starred ? 'Unstar' : 'Star' }, on: { click: () => onAction('star', msg, { starred: !starred }) } }),
      h('button', { type: 'button', text: msg.pinned ? 'Unpin' : 'Pin', testid: 'action-pin', on: { click: () => onAction('pin', msg, { pinned: !msg.pinned }) } }),
      mine || viewer.roles.includes('admin') ? h('button', { type: 'button', text: 'Edit', testid: 'action-edit', on: { click: () => onAction('edit', msg) } }) : null,
      mine || viewer.roles.includes('admin') ? h('button', { type: 'button', text: 'Delete', testid: 'action-delete', on: { click: () => onAction('delete', msg) } }) : null);
  }

  const li = h('li', {
    class: classes.join(' '), testid: msg.ephemeral ? 'ephemeral-message' : 'message',
    attrs: { 'data-id': msg._id, 'data-author': msg.u?.username, tabindex: '-1', 'aria-label': `${author}, ${shortTime(date)}` },
  }, avatar, head, body, actions);
  if (actions) {
    // Touch screens have no hover: a tap on the message shows its actions.
    li.addEventListener('click', (ev) => {
      if (ev.target.closest('a, button, textarea')) return;
      for (const other of li.parentElement?.querySelectorAll('.show-actions') || []) if (other !== li) other.classList.remove('show-actions');
      li.classList.toggle('show-actions');
    });
  }
  return li;
}
