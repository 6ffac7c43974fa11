/** One message as an element: text, author, time, files and reactions. */

import { formatTime, h, sameUser } from './dom.js';
import { renderAttachments } from './files.js';
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

  const li = h('li', {
    class: classes.join(' '),
    'data-testid': 'message',
    'data-id': clientId ? null : message.id,
    'data-client-id': clientId,
    'data-bot': isBot ? 'true' : null,
    'data-status': clientId ? 'pending' : 'sent',
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
    clientId ? h('span', { class: 'message-status', text: 'sending…' }) : null),
  h('p', { class: 'message-content', 'data-testid': 'message-content', text: String(message.content ?? '') }),
  renderAttachments(message.attachments),
  clientId ? null : renderReactions(message.id, message.reactions));
  return li;
}
