/** Who is online and who is typing. */

import { sendFrame } from './composer.js';
import { h, sameUser, setText } from './dom.js';
import { personButton } from './members.js';
import { isCurrent } from './rooms.js';
import { TYPING_SEND_INTERVAL_MS, TYPING_SHOW_MS, state, ui } from './state.js';

/** Names listed at most; a big room shows these and how many more. */
const MAX_LISTED = 100;

export function renderOnline(room) {
  const names = [...room.online].sort((a, b) => a.localeCompare(b)).slice(0, MAX_LISTED);
  const total = Math.max(room.onlineTotal ?? 0, room.online.size);
  const me = state.user ? state.user.username : '';
  const items = names.map((name) => (sameUser(name, me)
    ? h('li', { class: 'online-user is-self', text: name })
    : h('li', { class: 'online-user' }, personButton(name, 'online-name'))));
  if (total > names.length) {
    items.push(h('li', { class: 'online-more', 'data-testid': 'online-more', text: `and ${total - names.length} more` }));
  }
  ui.onlineUsers.replaceChildren(...items);
  ui.onlineCount.textContent = total ? `(${total})` : '';
}

export function onTyping(room, frame) {
  const name = frame.username;
  if (typeof name !== 'string' || (state.user && sameUser(name, state.user.username))) return;
  clearTimeout(room.typing.get(name));
  room.typing.set(name, setTimeout(() => clearTyping(room, name), TYPING_SHOW_MS));
  renderTyping(room);
}

export function clearTyping(room, name) {
  if (!room.typing.has(name)) return;
  clearTimeout(room.typing.get(name));
  room.typing.delete(name);
  if (isCurrent(room)) renderTyping(room);
}

export function clearAllTyping(room) {
  for (const timer of room.typing.values()) clearTimeout(timer);
  room.typing.clear();
  if (isCurrent(room)) renderTyping(room);
}

export function renderTyping(room) {
  const names = [...room.typing.keys()];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  setText(ui.typing, text);
}

/** Tell the room we are typing, at most once every 2 s. */
export function onMessageInput() {
  const room = state.room;
  if (!room || !ui.messageInput.value.trim()) return;
  const now = Date.now();
  if (now - room.lastTypingSentAt < TYPING_SEND_INTERVAL_MS) return;
  if (sendFrame(room, { type: 'typing' })) room.lastTypingSentAt = now;
}
