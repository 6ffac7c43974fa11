/** One message as an element: text, author, time, the message it answers, files and reactions. */

import { formatTime, h, linkify, sameUser } from './dom.js';
import { decryptInto } from './encryption.js';
import { makeTombstone, markEdited, messageMenu } from './edits.js';
import { renderAttachments } from './files.js';
import { jumpTo } from './history.js';
import { personButton } from './members.js';
import { renderReactions } from './reactions.js';
import { state } from './state.js';

export function sortKey(message) {
  const t = Date.parse(message.created_at);
  return { t: Number.isNaN(t) ? 0 : t, id: String(message.id) };
}

export function compareKeys(a, b) {
  if (a.t !== b.t) return a.t - b.t;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The <li> of one message. Text goes in through textContent only. */
export function renderMessage(message, { clientId = null } = {}) {
  const isBot = message.is_bot === true;
  const isOwn = !isBot && state.user && sameUser(message.username, state.user.username);
  const created = new Date(message.created_at);
  const classes = ['message'];
  if (isBot) classes.push('is-bot');
  if (isOwn) classes.push('is-own');
  if (clientId) classes.push('is-pending');

  const me = state.user ? state.user.username : '';
  const mentionsMe = Array.isArray(message.mentions) && message.mentions.some((name) => sameUser(name, me));
  const li = h('li', {
    class: classes.join(' '),
    'data-testid': 'message',
    'data-id': clientId ? null : message.id,
    'data-client-id': clientId,
    'data-bot': isBot ? 'true' : null,
    'data-status': clientId ? 'pending' : 'sent',
    'data-pending': clientId ? 'true' : null,
    'data-mentions-me': mentionsMe && !message.deleted ? 'true' : null,
  },
  h('div', { class: 'message-meta' },
    isBot || isOwn || !message.username
      ? h('span', { class: 'message-author', 'data-testid': 'message-author', text: message.username || 'unknown' })
      : h('span', { class: 'message-author', 'data-testid': 'message-author' }, personButton(message.username, 'author-name')),
    isBot ? h('span', { class: 'badge', text: 'bot' }) : null,
    h('time', {
      class: 'message-time',
      datetime: Number.isNaN(created.getTime()) ? null : created.toISOString(),
      title: Number.isNaN(created.getTime()) ? null : created.toLocaleString(),
      text: formatTime(created),
    }),
    clientId ? h('span', { class: 'message-status', text: 'sending…' }) : null,
    clientId ? null : messageMenu(message)),
  renderQuote(message.reply_to),
  h('p', { class: 'message-content', 'data-testid': 'message-content' }, ...linkify(String(message.content ?? ''))),
  message.encrypted ? null : renderAttachments(message.attachments),
  clientId ? null : renderReactions(message.id, message.reactions));
  if (message.edited_at) markEdited(li, message.edited_at);
  if (message.deleted) makeTombstone(li);
  else if (message.encrypted && typeof message.encrypted === 'object' && state.room && !clientId) {
    decryptInto(state.room, li, message);
  }
  return li;
}

/** The line a reply quotes; a click shows the original in its place. */
function renderQuote(reply) {
  if (!reply || typeof reply !== 'object' || !reply.id) return null;
  const excerpt = String(reply.excerpt ?? '');
  // In an encrypted room the server quotes nothing: the original's text is
  // filled in here once it is decrypted.
  const sealed = !excerpt && state.room && state.room.encrypted;
  const original = sealed ? state.room.byId.get(reply.id) : null;
  const known = original && original.dataset.encrypted === 'true'
    ? original.querySelector('.message-content').textContent.slice(0, 100) : '';
  return h('button', {
    type: 'button',
    class: excerpt || sealed ? 'reply-quote' : 'reply-quote is-gone',
    'data-testid': 'reply-quote',
    'data-reply-to': reply.id,
    title: 'Show the message this answers',
    onclick: () => { if (state.room) jumpTo(state.room, reply.id); },
  },
  h('span', { class: 'reply-author', text: String(reply.username ?? '') }),
  ' ',
  h('span', { class: 'reply-excerpt', text: excerpt || known || (sealed ? '🔒 encrypted message' : 'deleted message') }));
}
