/** The message list: order, pending and confirmed messages, history pages and scrolling. */

import { api } from './api.js';
import { handleAuthLoss } from './auth.js';
import { settled, showChatError } from './composer.js';
import { dayLabel, h } from './dom.js';
import { compareKeys, renderMessage, sortKey } from './messages.js';
import { markReadSoon } from './notifications.js';
import { clearTyping } from './presence.js';
import { onReactions } from './reactions.js';
import { isCurrent } from './rooms.js';
import { HISTORY_PAGE, NEAR_BOTTOM_PX, NEAR_TOP_PX, state, ui } from './state.js';

export function isNearBottom() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

export function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  ui.jumpLatest.hidden = true;
}

/** Run fn (which adds content above) without moving what the user sees. */
export function preserveScroll(fn) {
  const list = ui.messages;
  const height = list.scrollHeight;
  const top = list.scrollTop;
  fn();
  list.scrollTop = top + (list.scrollHeight - height);
}

export function firstPendingElement() {
  return ui.messages.querySelector('li.message:not([data-id])');
}

export function trackKey(room, li, key) {
  room.keyOf.set(li, key);
  if (!room.oldest || compareKeys(key, room.oldest) < 0) room.oldest = key;
  if (!room.newest || compareKeys(key, room.newest) > 0) room.newest = key;
}

/** Put a confirmed message in its sorted place (before any pending ones). */
export function insertConfirmed(room, message, li) {
  const key = sortKey(message);
  let before = firstPendingElement();
  let node = before ? before.previousElementSibling : ui.messages.lastElementChild;
  while (node && (isSeparator(node) || (node.dataset.id && compareKeys(room.keyOf.get(node), key) > 0))) {
    before = node;
    node = node.previousElementSibling;
  }
  ui.messages.insertBefore(li, before);
  room.byId.set(message.id, li);
  trackKey(room, li, key);
  markDays();
}

function isSeparator(node) {
  return node.classList.contains('day-separator');
}

/** The local day a message was sent, from its <time>. */
function messageDay(li) {
  const time = li.querySelector('.message-time');
  const date = time && time.dateTime ? new Date(time.dateTime) : null;
  if (!date || Number.isNaN(date.getTime())) return null;
  return { key: date.toDateString(), label: dayLabel(date) };
}

/** Messages by one person this close together read as one group. */
const GROUP_MS = 5 * 60 * 1000;

/** Whether `li` follows `previous` (the message before it) in one group. */
function continues(previous, li) {
  if (!previous) return false;
  const author = (m) => m.querySelector('.message-author')?.textContent;
  const at = (m) => Date.parse(m.querySelector('.message-time')?.dateTime || '');
  const gap = at(li) - at(previous);
  return author(li) === author(previous) && previous.dataset.bot === li.dataset.bot
    && gap >= 0 && gap < GROUP_MS;
}

/**
 * A separator before the first message of each day ("Today", "Yesterday",
 * the date), kept in step with the list by changing only what moved, so
 * that the live region does not announce them again; and consecutive
 * messages of one person within minutes grouped (`is-continued`).
 */
export function markDays() {
  const list = ui.messages;
  let lastDay = null;
  let previous = null;
  let node = list.firstElementChild;
  while (node) {
    const next = node.nextElementSibling;
    if (isSeparator(node)) {
      const day = next && next.classList.contains('message') ? messageDay(next) : null;
      if (!day || day.key === lastDay) node.remove();
      else if (node.textContent !== day.label) node.textContent = day.label;
    } else if (node.classList.contains('message')) {
      const day = messageDay(node);
      if (day && day.key !== lastDay) {
        const before = node.previousElementSibling;
        if (!before || !isSeparator(before)) {
          list.insertBefore(h('li', { class: 'day-separator', 'data-testid': 'day-separator', text: day.label }), node);
        }
        lastDay = day.key;
        previous = null;
      }
      node.classList.toggle('is-continued', continues(previous, node));
      previous = node;
    } else {
      previous = null;
    }
    node = next;
  }
}

/** A chat_message frame (live or replayed): confirm a pending one, or add. */
export function receiveMessage(room, message) {
  if (!message.id) return;
  if (typeof message.username === 'string') clearTyping(room, message.username);
  const pending = message.client_id ? room.pending.get(message.client_id) : undefined;
  if (pending) {
    clearTimeout(pending.timer);
    room.pending.delete(message.client_id);
    pending.li.remove();
    settled(message.client_id);
  }
  if (room.byId.has(message.id)) {
    if (pending) markDays();
    return;
  }
  const stick = isNearBottom();
  insertConfirmed(room, message, renderMessage(message));
  if (stick || pending) scrollToBottom();
  else ui.jumpLatest.hidden = false;
}

/** Replace all confirmed messages with `messages` (oldest first); pending ones stay last. */
export function replaceHistory(room, messages) {
  const list = ui.messages;
  list.setAttribute('aria-busy', 'true');
  for (const li of room.byId.values()) li.remove();
  list.querySelector('.history-gap')?.remove();
  for (const separator of list.querySelectorAll('.day-separator, .unread-divider')) separator.remove();
  room.byId.clear();
  room.oldest = null;
  room.newest = null;
  const fragment = document.createDocumentFragment();
  for (const message of messages) {
    if (!message || !message.id || room.byId.has(message.id)) continue;
    const li = renderMessage(message);
    fragment.append(li);
    room.byId.set(message.id, li);
    trackKey(room, li, sortKey(message));
  }
  list.insertBefore(fragment, firstPendingElement());
  markDays();
  list.setAttribute('aria-busy', 'false');
}

/** Add older messages (oldest first) at the top; returns how many were new. */
export function prependHistory(room, messages) {
  const fragment = document.createDocumentFragment();
  let added = 0;
  for (const message of messages) {
    if (!message || !message.id || room.byId.has(message.id)) continue;
    const li = renderMessage(message);
    fragment.append(li);
    room.byId.set(message.id, li);
    trackKey(room, li, sortKey(message));
    added += 1;
  }
  const status = ui.messages.querySelector('.history-status');
  ui.messages.insertBefore(fragment, status ? status.nextSibling : ui.messages.firstChild);
  markDays();
  return added;
}

/** GET the newest page and show it (used on open and after resync). */
export async function loadLatest(room) {
  const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/messages?limit=${HISTORY_PAGE}`);
  if (!isCurrent(room)) return;
  const messages = Array.isArray(data && data.messages) ? data.messages : [];
  room.exhausted = messages.length < HISTORY_PAGE;
  room.needsReload = false;
  renderHistoryStatus(room);
  replaceHistory(room, messages);
  const divider = room.unreadAtOpen > 0 ? placeUnreadDivider(room, room.unreadAtOpen) : null;
  room.unreadAtOpen = 0;
  // With unread messages the room opens at the first of them; the read
  // marker moves once the user is at the bottom.
  if (divider) divider.scrollIntoView({ block: 'start' });
  else scrollToBottom();
  fillViewport(room);
  markReadSoon(room);
  if (room.jumpTarget) {
    const target = room.jumpTarget;
    room.jumpTarget = null;
    jumpTo(room, target);
  }
}

/** Shows the "N new messages" line at the top of the log. */
export function scrollToFirstUnread() {
  ui.messages.querySelector('.unread-divider')?.scrollIntoView({ block: 'start' });
  ui.jumpUnread.hidden = true;
}

/**
 * A line before the first of the `unread` newest messages by others ("N new
 * messages"); at the top when the first of them is older than what is loaded.
 */
export function placeUnreadDivider(room, unread) {
  const others = [...ui.messages.querySelectorAll('li.message[data-id]:not(.is-own):not([data-deleted="true"])')];
  const first = others.length >= unread ? others[others.length - unread] : others[0];
  if (!first) return null;
  const text = unread === 1 ? '1 new message' : `${unread > 999 ? '999+' : unread} new messages`;
  const divider = h('li', {
    class: 'unread-divider', 'data-testid': 'unread-divider', role: 'separator',
    text: others.length >= unread ? text : `${text} (some are earlier than these)`,
  });
  const day = first.previousElementSibling;
  // Above the day's name when it starts the unread ones.
  ui.messages.insertBefore(divider, day && day.classList.contains('day-separator') ? day : first);
  return divider;
}

/**
 * Show message `id` in its place: from what is loaded, or from the page
 * around it (then a marker says newer messages are not shown, and leads
 * back to the latest). The socket still resumes from the newest message seen.
 */
export async function jumpTo(room, id) {
  let li = room.byId.get(id);
  if (!li) {
    let messages = [];
    try {
      const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/messages?around=${encodeURIComponent(id)}&limit=${HISTORY_PAGE}`);
      messages = Array.isArray(data && data.messages) ? data.messages : [];
    } catch (err) {
      if (isCurrent(room) && !handleAuthLoss(err)) showChatError(`Could not show that message: ${err.message}`);
      return;
    }
    if (!isCurrent(room)) return;
    const newest = room.newest;
    replaceHistory(room, messages);
    room.exhausted = false;
    renderHistoryStatus(room);
    if (newest && (!room.newest || compareKeys(newest, room.newest) > 0)) {
      room.newest = newest;
      ui.messages.insertBefore(gapMarker(room), firstPendingElement());
    }
    li = room.byId.get(id);
    if (!li) return;
  }
  li.scrollIntoView({ block: 'center' });
  li.classList.add('is-target');
  li.tabIndex = -1;
  li.focus({ preventScroll: true });
  setTimeout(() => li.classList.remove('is-target'), 2000);
}

function gapMarker(room) {
  return h('li', { class: 'history-gap', 'data-testid': 'history-gap' },
    h('span', { class: 'muted', text: 'Newer messages are not shown. ' }),
    h('button', {
      type: 'button', class: 'link-btn', 'data-testid': 'jump-to-latest', text: 'Jump to the latest',
      onclick: () => loadLatest(room).catch((err) => handleAuthLoss(err)),
    }));
}

/**
 * Merge what REST has now: after connecting without ?after (an empty room),
 * and after a reconnect, whose replay carries the newer messages but not
 * the reactions that changed on older ones meanwhile.
 */
export async function mergeLatest(room) {
  try {
    const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/messages?limit=${HISTORY_PAGE}`);
    if (!isCurrent(room)) return;
    for (const message of (data && data.messages) || []) {
      if (room.byId.has(message.id)) onReactions(room, { message_id: message.id, reactions: message.reactions });
      else receiveMessage(room, message);
    }
    markReadSoon(room);
  } catch (err) {
    if (isCurrent(room)) handleAuthLoss(err);
  }
}

export async function loadOlder(room) {
  if (!isCurrent(room) || room.loadingOlder || room.exhausted || !room.oldest) return;
  room.loadingOlder = true;
  renderHistoryStatus(room);
  let messages = [];
  try {
    const before = encodeURIComponent(room.oldest.id);
    const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/messages?before=${before}&limit=${HISTORY_PAGE}`);
    messages = Array.isArray(data && data.messages) ? data.messages : [];
  } catch (err) {
    if (!isCurrent(room)) return;
    room.loadingOlder = false;
    renderHistoryStatus(room);
    if (!handleAuthLoss(err)) showChatError(`Could not load older messages: ${err.message}`);
    return;
  }
  if (!isCurrent(room)) return;
  room.loadingOlder = false;
  preserveScroll(() => {
    const added = prependHistory(room, messages);
    room.exhausted = messages.length < HISTORY_PAGE || added === 0;
    renderHistoryStatus(room);
  });
  fillViewport(room);
}

/** If the list does not overflow yet, scrolling cannot trigger: load more now. */
export function fillViewport(room) {
  const list = ui.messages;
  if (!room.exhausted && !room.loadingOlder && list.scrollHeight <= list.clientHeight + NEAR_TOP_PX) {
    loadOlder(room);
  }
}

export function renderHistoryStatus(room) {
  const status = ui.messages.querySelector('.history-status');
  if (!status) return;
  if (room.loadingOlder) {
    status.replaceChildren(h('span', { class: 'muted', text: 'Loading older messages…' }));
  } else if (room.needsReload && room.byId.size === 0) {
    status.replaceChildren(h('span', { class: 'muted', text: 'Loading messages…' }));
  } else if (room.exhausted) {
    status.replaceChildren(h('span', { class: 'muted', text: 'This is the beginning of the conversation.' }));
  } else {
    status.replaceChildren(h('button', {
      type: 'button',
      class: 'link-btn',
      text: 'Load older messages',
      onclick: () => loadOlder(room),
    }));
  }
}

export function onMessagesScroll() {
  const room = state.room;
  if (!room) return;
  if (ui.messages.scrollTop < NEAR_TOP_PX) loadOlder(room);
  // The way back to where the unread messages start, once it is out of sight above.
  const divider = ui.messages.querySelector('.unread-divider');
  ui.jumpUnread.hidden = !divider
    || divider.getBoundingClientRect().bottom > ui.messages.getBoundingClientRect().top;
  if (isNearBottom()) {
    ui.jumpLatest.hidden = true;
    markReadSoon(room);
  }
}
