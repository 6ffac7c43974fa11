/** The room lists (rooms, and direct messages), and opening and closing a room. */

import { api } from './api.js';
import { handleAuthLoss } from './auth.js';
import { restorePending, showChatError } from './composer.js';
import { h, sameUser, setText } from './dom.js';
import { renderHistoryStatus } from './history.js';
import { resetEdits } from './edits.js';
import { ensureIdentity, shareWithMissing } from './encryption.js';
import { resetMembersPanel } from './members.js';
import { renderTitle } from './notifications.js';
import { renderOnline, renderTyping } from './presence.js';
import { connect, retireSocket, setConnectionState } from './sockets.js';
import { MAX_ROOM_NAME_LENGTH, ROOMS_REFRESH_MS, state, ui } from './state.js';

export async function loadRooms() {
  try {
    const data = await api('/chatrooms');
    if (!state.user) return;
    state.rooms = Array.isArray(data && data.chatrooms) ? data.chatrooms : [];
    if (ui.roomError.textContent.startsWith('Could not load the rooms')) setText(ui.roomError, '');
    for (const room of state.rooms) {
      if (room.is_member) state.unread.set(room.id, { unread: room.unread || 0, mentions: room.mentions || 0 });
    }
    renderRoomList();
  } catch (err) {
    if (!handleAuthLoss(err)) setText(ui.roomError, `Could not load the rooms: ${err.message}`);
  }
}

/** What a room is called here: a direct room by the other person's name. */
export function roomLabel(room) {
  if (room.kind !== 'direct') return room.name;
  const peer = typeof room.peer === 'string' ? room.peer : room.name;
  return state.user && sameUser(peer, state.user.username) ? `${peer} (you)` : peer;
}

export function renderRoomList() {
  const focusedId = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.roomId : undefined;
  const rooms = state.rooms.filter((room) => room.kind !== 'direct');
  const direct = state.rooms.filter((room) => room.kind === 'direct');
  ui.roomList.replaceChildren(...(rooms.length
    ? rooms.map(roomItem)
    : [h('li', { class: 'room-list-empty', text: 'No rooms yet. Create the first one below.' })]));
  ui.directList.replaceChildren(...(direct.length
    ? direct.map(roomItem)
    : [h('li', { class: 'room-list-empty', text: 'Click a name to message someone.' })]));
  renderTitle();
  if (focusedId) {
    const again = document.querySelector(`.rooms [data-room-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
}

function roomItem(room) {
  const openId = state.room ? state.room.id : null;
  const figures = state.unread.get(room.id) || { unread: 0, mentions: 0 };
  const name = roomLabel(room);
  const isPrivateRoom = room.private && room.kind !== 'direct';
  const label = [name, room.encrypted ? 'encrypted' : (isPrivateRoom ? 'private' : null),
    figures.unread ? `${figures.unread} unread` : null,
    figures.mentions ? `${figures.mentions} mentioning you` : null].filter(Boolean).join(', ');
  return h('li', {},
    h('button', {
      type: 'button',
      class: ['room', room.id === openId ? 'is-active' : '', room.kind === 'direct' ? 'is-direct' : ''].filter(Boolean).join(' '),
      'data-testid': 'room',
      dataset: { roomId: room.id },
      'aria-current': room.id === openId ? 'true' : null,
      'aria-label': label,
      onclick: () => openRoom(room),
    },
    h('span', { class: 'room-name', text: name }),
    room.encrypted
      ? h('span', { class: 'encrypted-mark', 'data-testid': 'encrypted-mark', title: 'End-to-end encrypted', text: '🔒' })
      : (isPrivateRoom ? h('span', { class: 'private-mark', 'data-testid': 'private-mark', title: 'Private: members only', text: 'private' }) : null),
    figures.mentions ? h('span', { class: 'mention-mark', 'data-testid': 'mention-mark', title: 'Mentions you', text: '@' }) : null,
    figures.unread ? h('span', { class: 'unread-badge', 'data-testid': 'unread-badge', text: figures.unread >= 999 ? '999+' : String(figures.unread) }) : null));
}

/** A room the user became a member of (created, added, a direct room): listed at once. */
export function addRoom(chatroom) {
  if (!chatroom || typeof chatroom.id !== 'string') return;
  const entry = { ...chatroom, is_member: true };
  const index = state.rooms.findIndex((r) => r.id === chatroom.id);
  if (index >= 0) state.rooms[index] = { ...state.rooms[index], ...entry };
  else state.rooms.push(entry);
  if (!state.unread.has(chatroom.id)) state.unread.set(chatroom.id, { unread: 0, mentions: 0 });
  renderRoomList();
}

/** A room the user is no longer in: unlisted, and closed if open, saying `why`. */
export function dropRoom(id, why) {
  const room = state.rooms.find((r) => r.id === id);
  state.unread.delete(id);
  if (room && room.private) state.rooms = state.rooms.filter((r) => r.id !== id);
  else if (room) room.is_member = false;
  // Told once: by the leave's answer, the socket's close or the notification, whichever comes first.
  const open = state.room;
  if (open && open.id === id && !open.closed) failRoom(open, open.leaving ? 'You left the room.' : why);
  renderRoomList();
}

export function startRoomsRefresh() {
  stopRoomsRefresh();
  state.roomsTimer = setInterval(() => {
    if (state.user && document.visibilityState === 'visible') loadRooms();
  }, ROOMS_REFRESH_MS);
}

export function stopRoomsRefresh() {
  clearInterval(state.roomsTimer);
  state.roomsTimer = null;
}

export async function onCreateRoomSubmit(event) {
  event.preventDefault();
  const name = ui.newRoomName.value.trim();
  const encrypted = ui.newRoomEncrypted.checked;
  const isPrivate = ui.newRoomPrivate.checked || encrypted;
  setText(ui.roomError, '');
  if (!name) {
    setText(ui.roomError, 'Enter a room name.');
    ui.newRoomName.focus();
    return;
  }
  if ([...name].length > MAX_ROOM_NAME_LENGTH) {
    setText(ui.roomError, `A room name can be at most ${MAX_ROOM_NAME_LENGTH} characters; this one has ${[...name].length}.`);
    ui.newRoomName.focus();
    return;
  }
  ui.createRoomButton.disabled = true;
  try {
    // The first encrypted room makes the user's key (asking for a passphrase).
    if (encrypted) await ensureIdentity();
    const room = await api('/chatrooms', { method: 'POST', body: { name, private: isPrivate, encrypted } });
    ui.newRoomName.value = '';
    ui.newRoomPrivate.checked = false;
    ui.newRoomEncrypted.checked = false;
    onEncryptedToggle();
    addRoom(room);
    openRoom(room);
  } catch (err) {
    if (!handleAuthLoss(err)) setText(ui.roomError, err.message);
  } finally {
    ui.createRoomButton.disabled = false;
  }
}

/** An encrypted room is always private. */
export function onEncryptedToggle() {
  if (ui.newRoomEncrypted.checked) ui.newRoomPrivate.checked = true;
  ui.newRoomPrivate.disabled = ui.newRoomEncrypted.checked;
}

/** In an encrypted room, a stock command is said to be in the clear before it is sent. */
export function renderStockNotice() {
  const room = state.room;
  ui.stockNotice.hidden = !(room && room.encrypted && /^\s*\/stock=/i.test(ui.messageInput.value));
}

/** On a phone the room list is a drawer behind the Rooms button. */
export function setRoomsOpen(open) {
  ui.roomsDrawer.dataset.open = String(open);
  ui.roomsToggle.setAttribute('aria-expanded', String(open));
  if (open) ui.roomsDrawer.querySelector('.room, input')?.focus();
}

/**
 * Where the browser overlays an on-screen keyboard instead of resizing the
 * page, the app takes the visual viewport's height, so the composer stays
 * above the keyboard.
 */
export function followKeyboard() {
  const viewport = window.visualViewport;
  if (!viewport) return;
  const follow = () => document.documentElement.style.setProperty('--app-height', `${viewport.height}px`);
  viewport.addEventListener('resize', follow);
  follow();
}

export function openRoomFromHash() {
  const match = /^#room=([0-9a-fA-F-]{36})$/.exec(location.hash);
  if (!match || state.room) return;
  const room = state.rooms.find((r) => r.id === match[1]);
  if (room) openRoom(room, { focusInput: false });
}

/* ------------------------------------------------------------------ */
/* Opening and closing a room                                          */
/* ------------------------------------------------------------------ */

export function createRoomSession(info) {
  return {
    id: info.id,
    name: roomLabel(info),
    encrypted: info.encrypted === true,
    closed: false,
    ws: null,
    wsOpened: false,
    everConnected: false,
    gotFrame: false,
    refetchOnConnect: false,
    connecting: false,
    attempts: 0,
    reconnectTimer: null,
    needsReload: true,
    byId: new Map(),          // message id → <li>
    keyOf: new WeakMap(),     // <li> → {t, id} sort key
    oldest: null,             // {t, id} of the first confirmed message
    newest: null,             // {t, id} of the last confirmed message
    pending: new Map(),       // client_id → {li, content, status, timer}
    exhausted: false,
    loadingOlder: false,
    online: new Set(),
    onlineTotal: null,        // how many are online, when a big room names only some
    typing: new Map(),        // username → timeout id
    lastTypingSentAt: 0,
    wentOffline: false,       // the browser reported offline since the socket opened
    jumpTarget: null,         // a message to show once the history is loaded
    unreadAtOpen: (state.unread.get(info.id) || {}).unread || 0, // where the "new messages" line goes
  };
}

export function isCurrent(room) {
  return state.room === room && !room.closed;
}

export async function openRoom(info, { focusInput = true, jumpTarget = null } = {}) {
  // A room that failed (left, removed, gone) opens afresh when clicked again.
  if (state.room && state.room.id === info.id && !state.room.closed) {
    if (focusInput) ui.messageInput.focus();
    return;
  }
  closeRoom();
  setRoomsOpen(false);
  const room = createRoomSession(info);
  room.jumpTarget = jumpTarget;
  state.room = room;
  history.replaceState(null, '', `#room=${info.id}`);
  setText(ui.roomError, '');
  renderRoomList();
  showChatRoom(room);
  restorePending(room);
  setConnectionState('connecting');
  if (focusInput) ui.messageInput.focus();
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/join`, { method: 'POST' });
  } catch (err) {
    if (!isCurrent(room) || handleAuthLoss(err)) return;
    if (err.status === 404) {
      failRoom(room, 'This room no longer exists.');
      loadRooms();
      return;
    }
    // Network trouble: the reconnect loop will retry (join is idempotent, and
    // a 403 from the handshake triggers another join).
    showChatError(`Could not join the room: ${err.message}`);
  }
  if (!isCurrent(room)) return;
  if (room.encrypted) {
    // Messages load meanwhile and open once the key is unlocked; whoever
    // lacks the room key then gets it.
    ensureIdentity()
      .then(() => shareWithMissing(room))
      .catch((err) => { if (isCurrent(room)) showChatError(err.message); });
  }
  connect(room);
}

/** Stop everything belonging to the open room (network, timers). */
export function closeRoom() {
  const room = state.room;
  if (!room) return;
  // What was typed and not sent waits for the user's return to the room.
  const draft = ui.messageInput.value;
  if (draft.trim()) state.drafts.set(room.id, draft);
  else state.drafts.delete(room.id);
  room.closed = true;
  clearTimeout(room.readTimer);
  state.room = null;
  clearTimeout(room.reconnectTimer);
  room.reconnectTimer = null;
  for (const timer of room.typing.values()) clearTimeout(timer);
  for (const p of room.pending.values()) clearTimeout(p.timer);
  retireSocket(room, 'leaving the room');
  setConnectionState('offline');
}

/** A room that cannot be used any more (deleted, access lost). */
export function failRoom(room, message) {
  clearTimeout(room.reconnectTimer);
  room.reconnectTimer = null;
  retireSocket(room, 'room unavailable');
  room.closed = true;
  showChatError(message);
  setConnectionState('offline');
  ui.messageInput.disabled = true;
  ui.sendButton.disabled = true;
}

export function resetChatView() {
  ui.chatEmpty.hidden = false;
  ui.chatRoom.hidden = true;
  ui.messages.replaceChildren();
  ui.onlineUsers.replaceChildren();
  ui.onlineCount.textContent = '';
  setText(ui.typing, '');
  setText(ui.chatError, '');
  ui.jumpLatest.hidden = true;
  resetMembersPanel();
  setConnectionState('offline');
}

export function showChatRoom(room) {
  ui.chatEmpty.hidden = true;
  ui.chatRoom.hidden = false;
  ui.chatTitle.textContent = room.name;
  const info = state.rooms.find((r) => r.id === room.id);
  ui.chatPrivate.hidden = !(info && info.private && info.kind !== 'direct' && !info.encrypted);
  ui.chatEncrypted.hidden = !room.encrypted;
  ui.stockNotice.hidden = true;
  ui.chatTitle.classList.toggle('is-direct', Boolean(info && info.kind === 'direct'));
  resetMembersPanel();
  ui.messages.replaceChildren(h('li', { class: 'history-status', id: 'history-status' }));
  renderHistoryStatus(room);
  renderOnline(room);
  renderTyping(room);
  setText(ui.chatError, '');
  ui.jumpLatest.hidden = true;
  ui.jumpUnread.hidden = true;
  resetEdits();
  ui.messageInput.value = state.drafts.get(room.id) || '';
  ui.messageInput.disabled = false;
  ui.sendButton.disabled = false;
}
