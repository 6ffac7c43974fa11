/** Reading: read markers, unread figures in the list and the title, mention notifications. */

import { api } from './api.js';
import { handleAuthLoss } from './auth.js';
import { isNearBottom } from './history.js';
import { addRoom, dropRoom, isCurrent, loadRooms, openRoom, renderRoomList } from './rooms.js';
import { backoffDelay, parseFrame } from './sockets.js';
import { READ_DEBOUNCE_MS, state, ui } from './state.js';

/** Marks the room read up to its newest message once the user can see it. */
export function markReadSoon(room) {
  clearTimeout(room.readTimer);
  room.readTimer = setTimeout(() => markRead(room), READ_DEBOUNCE_MS);
}

export async function markRead(room) {
  if (!isCurrent(room) || document.visibilityState !== 'visible' || !isNearBottom()) return;
  const newest = room.newest;
  if (!newest || newest.id === room.readUpTo) return;
  room.readUpTo = newest.id;
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/read`, { method: 'POST', body: { message_id: newest.id } });
  } catch (err) {
    room.readUpTo = null;
    handleAuthLoss(err);
  }
}

/** The tab's title carries the unread total, so a background tab shows it. */
export function renderTitle() {
  let total = 0;
  for (const figures of state.unread.values()) total += figures.unread || 0;
  document.title = total > 0 ? `(${total > 999 ? '999+' : total}) ${state.baseTitle}` : state.baseTitle;
}

export function openNotifier() {
  if (!state.user || state.notifier) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws/notifications`);
  state.notifier = ws;
  ws.addEventListener('open', () => { state.notifierAttempts = 0; });
  ws.addEventListener('message', onNotification);
  ws.addEventListener('close', (event) => {
    if (state.notifier !== ws) return;
    state.notifier = null;
    // 1008: logged out or the session expired; the page handles that itself.
    if (!state.user || event.code === 1008) return;
    clearTimeout(state.notifierTimer);
    state.notifierTimer = setTimeout(openNotifier, backoffDelay(state.notifierAttempts++));
  });
}

export function closeNotifier() {
  clearTimeout(state.notifierTimer);
  const ws = state.notifier;
  state.notifier = null;
  if (ws) ws.close(1000, 'signed out');
}

export function onNotification(event) {
  const frame = parseFrame(event);
  if (!frame) return;
  if (frame.type === 'unread' && typeof frame.chatroom_id === 'string') {
    state.unread.set(frame.chatroom_id, { unread: Number(frame.unread) || 0, mentions: Number(frame.mentions) || 0 });
    if (!state.rooms.some((room) => room.id === frame.chatroom_id)) loadRooms();
    else renderRoomList();
  } else if (frame.type === 'mention' && frame.message) {
    notifyMention(frame.message);
  } else if (frame.type === 'room_added' && frame.chatroom) {
    addRoom(frame.chatroom);
  } else if (frame.type === 'room_removed' && typeof frame.chatroom_id === 'string') {
    dropRoom(frame.chatroom_id, 'You are no longer a member of this room.');
  }
}

/** A desktop notification for a mention, only while the tab is hidden and only with permission. */
export function notifyMention(message) {
  if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
  const room = state.rooms.find((r) => r.id === message.chatroom_id);
  const title = `${message.username} mentioned you${room ? ` in #${room.name}` : ''}`;
  // A sealed message's text is not in the notification: the server never had it.
  const body = message.encrypted ? 'A new encrypted message' : String(message.content ?? '').slice(0, 200);
  const notification = new Notification(title, { body, tag: message.id });
  notification.addEventListener('click', () => {
    window.focus();
    if (room) openRoom(room);
    notification.close();
  });
}

/** The button asking for permission: shown only while the browser has not been asked. */
export function renderNotifyButton() {
  ui.notifyButton.hidden = !('Notification' in window) || Notification.permission !== 'default';
}

export async function onNotifyClick() {
  try {
    await Notification.requestPermission();
  } finally {
    renderNotifyButton();
  }
}

export function onVisibilityChange() {
  if (document.visibilityState === 'visible' && state.room) markReadSoon(state.room);
}
