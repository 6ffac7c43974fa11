'use strict';
/*
 * The chat page. Plain JavaScript, no framework, no build step.
 *
 * State
 *   state.user   the signed-in User ({id, username, ...}) or null.
 *   state.rooms  the last room list from GET /api/v1/chatrooms.
 *   state.room   the open room's session (see createRoomSession), or null.
 *                Every async callback checks isCurrent(room) so results that
 *                arrive after the user switched rooms or logged out are dropped.
 *
 * Flow
 *   boot → GET /auth/me → 200: enterApp (room list) | 401: the login form.
 *   login/register → POST /auth/(register then) login → enterApp.
 *   openRoom → POST /chatrooms/{id}/join → GET …/messages (last 50, oldest
 *   first) → WebSocket /ws/chat/{id}?after=<newest id> (the server replays
 *   anything newer, so nothing between the REST load and the socket is lost).
 *   Scrolling to the top loads ?before=<oldest id>&limit=50 and keeps the
 *   scroll position.
 *
 * Messages
 *   Confirmed messages are kept sorted by (created_at, id) and deduplicated
 *   by id (room.byId). A message the user sends is shown at once as pending
 *   (data-client-id), at the end of the list; the server's chat_message with
 *   the same client_id replaces it. An error frame with that client_id marks
 *   it failed (with a Retry button that resends the same client_id, which the
 *   server stores at most once). Commands (text starting with "/") are sent
 *   but never shown as pending: they are not stored as messages.
 *
 * Connection
 *   An unexpected close schedules a reconnect with exponential backoff and
 *   jitter (capped at 10 s); the new socket asks for ?after=<newest id>.
 *   A handshake that never opened is diagnosed through REST (401 → login,
 *   403 → join again, 404 → room gone). Close code 1008 means logged out.
 *   A "resync" frame reloads the last 50 through REST and reconnects.
 *   Pending messages are (re)sent whenever a socket opens. When the browser
 *   reports the network back ("online"), a waiting reconnect happens at once,
 *   and a socket that stayed open through the outage is replaced, since it
 *   may have died silently (the replay makes that free of gaps and repeats).
 *
 * Safety
 *   User data only ever reaches the DOM through textContent / text nodes
 *   (see h()). No inline styles: visibility is toggled with `hidden` and
 *   classes, as the Content-Security-Policy requires.
 */

const API_BASE = '/api/v1';
const HISTORY_PAGE = 50;
const MAX_MESSAGE_LENGTH = 1000;
/** The reaction picker's choices; any emoji can be sent, these are one click away. */
const PICKER_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '👀', '🙏'];
const READ_DEBOUNCE_MS = 400;
/** Shown inline: the server serves only these as images, and only when they are. */
const INLINE_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const TYPING_SEND_INTERVAL_MS = 2000;
const TYPING_SHOW_MS = 3000;
const RECONNECT_BASE_MS = 500;
const RECONNECT_MAX_MS = 10000;
const PENDING_TIMEOUT_MS = 15000;
const ROOMS_REFRESH_MS = 20000;
const NEAR_TOP_PX = 48;
const NEAR_BOTTOM_PX = 80;

const state = {
  user: null,
  rooms: [],
  room: null,
  roomsTimer: null,
  unread: new Map(),        // room id → {unread, mentions}
  notifier: null,           // the /ws/notifications socket
  notifierAttempts: 0,
  notifierTimer: null,
  baseTitle: document.title,
};

/** Elements looked up once, by id. */
const ui = {};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/**
 * Create an element. props: class, text (textContent), dataset, on<event>
 * listeners; anything else becomes an attribute. Children may be nodes or
 * strings (appended as text nodes, never parsed as HTML).
 */
function h(tag, props = {}, ...children) {
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

class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * The one REST helper: JSON in, JSON out, the session cookie included.
 * Throws ApiError with the server's {"error","code"} (status 0 = network).
 */
async function api(path, { method = 'GET', body } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API_BASE + path, init);
  } catch {
    throw new ApiError(0, 'NETWORK_ERROR', 'Cannot reach the server. Check your connection and try again.');
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data && data.error) || `The request failed (HTTP ${response.status}).`;
    const code = (data && data.code) || `HTTP_${response.status}`;
    throw new ApiError(response.status, code, message, response.headers.get('Retry-After'));
  }
  return data;
}

/** A random id for client_id: crypto.randomUUID where available (secure contexts). */
function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

/** Local time as HH:MM. */
function formatTime(date) {
  return Number.isNaN(date.getTime()) ? '' : `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

function sameUser(a, b) {
  return typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
}

function setText(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

/* ------------------------------------------------------------------ */
/* Views: boot, auth, app                                              */
/* ------------------------------------------------------------------ */

function showView(name) {
  ui.boot.hidden = true;
  ui.authView.hidden = name !== 'auth';
  ui.appView.hidden = name !== 'app';
}

/** Show the login form; `notice` is an info line, `error` an error line. */
function showAuth({ error = '', notice = '' } = {}) {
  closeRoom();
  stopRoomsRefresh();
  closeNotifier();
  state.unread.clear();
  renderTitle();
  state.user = null;
  state.rooms = [];
  ui.roomList.replaceChildren();
  resetChatView();
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  ui.password.value = '';
  setText(ui.authError, error);
  setText(ui.authNotice, notice);
  showView('auth');
  ui.username.focus();
}

function enterApp(user) {
  state.user = user;
  ui.currentUser.textContent = user.username;
  setText(ui.authError, '');
  setText(ui.authNotice, '');
  ui.password.value = '';
  resetChatView();
  showView('app');
  renderNotifyButton();
  openNotifier();
  startRoomsRefresh();
  loadRooms().then(openRoomFromHash);
}

/** If an API error means "not signed in", go to the login form. */
function handleAuthLoss(err) {
  if (err && err.status === 401) {
    showAuth({ error: 'Your session has ended. Please log in again.' });
    return true;
  }
  return false;
}

/* ------------------------------------------------------------------ */
/* Authentication                                                      */
/* ------------------------------------------------------------------ */

function readCredentials() {
  const username = ui.username.value.trim();
  const password = ui.password.value;
  ui.username.removeAttribute('aria-invalid');
  ui.password.removeAttribute('aria-invalid');
  if (!username) {
    ui.username.setAttribute('aria-invalid', 'true');
    setText(ui.authError, 'Enter a username.');
    ui.username.focus();
    return null;
  }
  if (!password) {
    ui.password.setAttribute('aria-invalid', 'true');
    setText(ui.authError, 'Enter a password.');
    ui.password.focus();
    return null;
  }
  return { username, password };
}

function describeAuthError(err) {
  if (err.code === 'RATE_LIMITED' && err.retryAfter && /^\d+$/.test(err.retryAfter)) {
    return `${err.message} Try again in ${err.retryAfter} s.`;
  }
  return err.message;
}

function setAuthBusy(busy) {
  ui.loginButton.disabled = busy;
  ui.registerButton.disabled = busy;
  ui.authForm.setAttribute('aria-busy', busy ? 'true' : 'false');
}

async function login(credentials) {
  const result = await api('/auth/login', { method: 'POST', body: credentials });
  enterApp(result.user);
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const credentials = readCredentials();
  if (!credentials) return;
  setText(ui.authError, '');
  setText(ui.authNotice, '');
  setAuthBusy(true);
  try {
    await login(credentials);
  } catch (err) {
    setText(ui.authError, describeAuthError(err));
  } finally {
    setAuthBusy(false);
  }
}

async function onRegisterClick() {
  const credentials = readCredentials();
  if (!credentials) return;
  setText(ui.authError, '');
  setText(ui.authNotice, '');
  setAuthBusy(true);
  try {
    await api('/auth/register', { method: 'POST', body: credentials });
  } catch (err) {
    setText(ui.authError, describeAuthError(err));
    setAuthBusy(false);
    return;
  }
  try {
    await login(credentials);
  } catch (err) {
    setText(ui.authError, `Your account was created, but logging in failed: ${describeAuthError(err)}`);
  } finally {
    setAuthBusy(false);
  }
}

async function onLogoutClick() {
  ui.logoutButton.disabled = true;
  closeRoom();
  closeNotifier();
  state.unread.clear();
  renderTitle();
  try {
    await api('/auth/logout', { method: 'POST' });
  } catch {
    // 401: already logged out; a network error: the cookie stays, but we leave anyway.
  }
  ui.logoutButton.disabled = false;
  showAuth({ notice: 'You have logged out.' });
}

/* ------------------------------------------------------------------ */
/* Room list                                                           */
/* ------------------------------------------------------------------ */

async function loadRooms() {
  try {
    const data = await api('/chatrooms');
    if (!state.user) return;
    state.rooms = Array.isArray(data && data.chatrooms) ? data.chatrooms : [];
    for (const room of state.rooms) {
      if (room.is_member) state.unread.set(room.id, { unread: room.unread || 0, mentions: room.mentions || 0 });
    }
    renderRoomList();
  } catch (err) {
    if (!handleAuthLoss(err)) setText(ui.roomError, `Could not load the rooms: ${err.message}`);
  }
}

function renderRoomList() {
  const focusedId = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.roomId : undefined;
  const openId = state.room ? state.room.id : null;
  if (state.rooms.length === 0) {
    ui.roomList.replaceChildren(h('li', { class: 'room-list-empty', text: 'No rooms yet. Create the first one below.' }));
    return;
  }
  const items = state.rooms.map((room) => {
    const figures = state.unread.get(room.id) || { unread: 0, mentions: 0 };
    const label = [room.name,
      figures.unread ? `${figures.unread} unread` : null,
      figures.mentions ? `${figures.mentions} mentioning you` : null].filter(Boolean).join(', ');
    return h('li', {},
      h('button', {
        type: 'button',
        class: room.id === openId ? 'room is-active' : 'room',
        'data-testid': 'room',
        dataset: { roomId: room.id },
        'aria-current': room.id === openId ? 'true' : null,
        'aria-label': label,
        onclick: () => openRoom(room),
      },
      h('span', { class: 'room-name', text: room.name }),
      figures.mentions ? h('span', { class: 'mention-mark', 'data-testid': 'mention-mark', title: 'Mentions you', text: '@' }) : null,
      figures.unread ? h('span', { class: 'unread-badge', 'data-testid': 'unread-badge', text: figures.unread >= 999 ? '999+' : String(figures.unread) }) : null));
  });
  ui.roomList.replaceChildren(...items);
  renderTitle();
  if (focusedId) {
    const again = ui.roomList.querySelector(`[data-room-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
}

function startRoomsRefresh() {
  stopRoomsRefresh();
  state.roomsTimer = setInterval(() => {
    if (state.user && document.visibilityState === 'visible') loadRooms();
  }, ROOMS_REFRESH_MS);
}

function stopRoomsRefresh() {
  clearInterval(state.roomsTimer);
  state.roomsTimer = null;
}

async function onCreateRoomSubmit(event) {
  event.preventDefault();
  const name = ui.newRoomName.value.trim();
  setText(ui.roomError, '');
  if (!name) {
    setText(ui.roomError, 'Enter a room name.');
    ui.newRoomName.focus();
    return;
  }
  ui.createRoomButton.disabled = true;
  try {
    const room = await api('/chatrooms', { method: 'POST', body: { name } });
    ui.newRoomName.value = '';
    if (!state.rooms.some((r) => r.id === room.id)) state.rooms.push(room);
    renderRoomList();
    openRoom(room);
  } catch (err) {
    if (!handleAuthLoss(err)) setText(ui.roomError, err.message);
  } finally {
    ui.createRoomButton.disabled = false;
  }
}

function openRoomFromHash() {
  const match = /^#room=([0-9a-fA-F-]{36})$/.exec(location.hash);
  if (!match || state.room) return;
  const room = state.rooms.find((r) => r.id === match[1]);
  if (room) openRoom(room, { focusInput: false });
}

/* ------------------------------------------------------------------ */
/* Opening and closing a room                                          */
/* ------------------------------------------------------------------ */

function createRoomSession(info) {
  return {
    id: info.id,
    name: info.name,
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
    typing: new Map(),        // username → timeout id
    lastTypingSentAt: 0,
    wentOffline: false,       // the browser reported offline since the socket opened
  };
}

function isCurrent(room) {
  return state.room === room && !room.closed;
}

async function openRoom(info, { focusInput = true } = {}) {
  if (state.room && state.room.id === info.id) {
    if (focusInput) ui.messageInput.focus();
    return;
  }
  closeRoom();
  const room = createRoomSession(info);
  state.room = room;
  history.replaceState(null, '', `#room=${info.id}`);
  setText(ui.roomError, '');
  renderRoomList();
  showChatRoom(room);
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
  if (isCurrent(room)) connect(room);
}

/** Stop everything belonging to the open room (network, timers). */
function closeRoom() {
  const room = state.room;
  if (!room) return;
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
function failRoom(room, message) {
  clearTimeout(room.reconnectTimer);
  room.reconnectTimer = null;
  retireSocket(room, 'room unavailable');
  room.closed = true;
  showChatError(message);
  setConnectionState('offline');
  ui.messageInput.disabled = true;
  ui.sendButton.disabled = true;
}

function resetChatView() {
  ui.chatEmpty.hidden = false;
  ui.chatRoom.hidden = true;
  ui.messages.replaceChildren();
  ui.onlineUsers.replaceChildren();
  ui.onlineCount.textContent = '';
  setText(ui.typing, '');
  setText(ui.chatError, '');
  ui.jumpLatest.hidden = true;
  setConnectionState('offline');
}

function showChatRoom(room) {
  ui.chatEmpty.hidden = true;
  ui.chatRoom.hidden = false;
  ui.chatTitle.textContent = room.name;
  ui.messages.replaceChildren(h('li', { class: 'history-status', id: 'history-status' }));
  renderHistoryStatus(room);
  renderOnline(room);
  renderTyping(room);
  setText(ui.chatError, '');
  ui.jumpLatest.hidden = true;
  ui.messageInput.value = '';
  ui.messageInput.disabled = false;
  ui.sendButton.disabled = false;
}

/* ------------------------------------------------------------------ */
/* Connection: REST history + WebSocket, reconnect with backoff        */
/* ------------------------------------------------------------------ */

function setConnectionState(value) {
  ui.connectionState.dataset.state = value;
  ui.connectionState.textContent = value;
}

function wsUrl(room) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${scheme}//${location.host}/ws/chat/${encodeURIComponent(room.id)}`;
  if (room.newest) url += `?after=${encodeURIComponent(room.newest.id)}`;
  return url;
}

/** Load history if needed, then open the socket. Failures back off. */
async function connect(room) {
  if (!isCurrent(room) || room.connecting || room.ws) return;
  room.connecting = true;
  try {
    if (room.needsReload) {
      try {
        await loadLatest(room);
      } catch (err) {
        if (!isCurrent(room)) return;
        if (handleAuthLoss(err)) return;
        if (err.status === 403 || err.status === 404) {
          await diagnoseRoomAccess(room);
          return;
        }
        showChatError(`Could not load messages: ${err.message}`);
        scheduleReconnect(room);
        return;
      }
    }
    if (isCurrent(room)) openSocket(room);
  } finally {
    room.connecting = false;
  }
}

function openSocket(room) {
  let ws;
  try {
    ws = new WebSocket(wsUrl(room));
  } catch {
    scheduleReconnect(room);
    return;
  }
  room.ws = ws;
  room.wsOpened = false;
  room.gotFrame = false;
  room.refetchOnConnect = !room.newest;
  setConnectionState(room.everConnected || room.attempts > 0 ? 'reconnecting' : 'connecting');
  ws.addEventListener('open', () => onSocketOpen(room, ws));
  ws.addEventListener('message', (event) => onSocketMessage(room, ws, event));
  ws.addEventListener('close', (event) => onSocketClose(room, ws, event));
}

/** Detach the room's socket and close it; its events are ignored from now on. */
function retireSocket(room, reason) {
  const ws = room.ws;
  room.ws = null;
  if (!ws) return;
  try {
    ws.close(1000, reason);
  } catch {
    // already closing
  }
}

function onSocketOpen(room, ws) {
  if (ws !== room.ws || !isCurrent(room)) return;
  if (room.everConnected) mergeLatest(room);
  room.wsOpened = true;
  room.everConnected = true;
  room.wentOffline = false;
  setConnectionState(navigator.onLine === false ? 'offline' : 'connected');
  flushPending(room);
}

function onSocketClose(room, ws, event) {
  if (ws !== room.ws) return; // retired on purpose
  room.ws = null;
  clearAllTyping(room);
  if (!isCurrent(room)) return;
  if (event.code === 1008) {
    showAuth({ error: 'You have been logged out.' });
    return;
  }
  if (!room.wsOpened) {
    diagnoseRoomAccess(room);
    return;
  }
  scheduleReconnect(room);
}

/**
 * The handshake failed or REST refused: find out why through REST, since a
 * browser WebSocket cannot see the HTTP status.
 */
async function diagnoseRoomAccess(room) {
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/messages?limit=1`);
  } catch (err) {
    if (!isCurrent(room) || handleAuthLoss(err)) return;
    if (err.status === 404) {
      failRoom(room, 'This room no longer exists.');
      loadRooms();
      return;
    }
    if (err.status === 403) {
      try {
        await api(`/chatrooms/${encodeURIComponent(room.id)}/join`, { method: 'POST' });
      } catch (joinErr) {
        if (!isCurrent(room) || handleAuthLoss(joinErr)) return;
        if (joinErr.status === 404) {
          failRoom(room, 'This room no longer exists.');
          return;
        }
      }
    }
  }
  scheduleReconnect(room);
}

/** Exponential backoff with jitter: a random delay in [cap/2, cap], cap ≤ 10 s. */
function backoffDelay(attempt) {
  const cap = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}

function scheduleReconnect(room) {
  if (!isCurrent(room) || room.reconnectTimer || room.ws) return;
  const delay = backoffDelay(room.attempts);
  room.attempts += 1;
  setConnectionState(navigator.onLine === false ? 'offline' : 'reconnecting');
  ui.connectionState.title = `Next attempt in ${Math.ceil(delay / 1000)} s`;
  room.reconnectTimer = setTimeout(() => {
    room.reconnectTimer = null;
    ui.connectionState.title = 'Connection state';
    connect(room);
  }, delay);
}

/**
 * The browser says the network is back. A socket that stayed open through
 * the outage may be dead without knowing it (nothing tells a browser when a
 * path dies silently), and whatever was sent to it meanwhile is lost: replace
 * it; the new one asks for ?after=<newest id>, so the server replays what was
 * missed, and nothing is shown twice. Otherwise skip the backoff wait.
 */
function reconnectNow() {
  const room = state.room;
  if (!room || !isCurrent(room)) return;
  const wentOffline = room.wentOffline;
  room.wentOffline = false;
  if (room.ws && room.wsOpened) {
    if (!wentOffline) {
      setConnectionState('connected');
      return;
    }
    retireSocket(room, 'network changed');
    clearAllTyping(room);
  }
  if (room.ws || room.connecting) return; // a handshake is under way
  clearTimeout(room.reconnectTimer);
  room.reconnectTimer = null;
  room.attempts = 0;
  connect(room);
}

function onBrowserOffline() {
  const room = state.room;
  if (!room) return;
  room.wentOffline = true;
  setConnectionState('offline');
}

/* ------------------------------------------------------------------ */
/* Incoming frames                                                     */
/* ------------------------------------------------------------------ */

/** A socket's frame as an object, or null for anything else. */
function parseFrame(event) {
  try {
    const frame = JSON.parse(event.data);
    return frame && typeof frame === 'object' ? frame : null;
  } catch {
    return null;
  }
}

function onSocketMessage(room, ws, event) {
  if (ws !== room.ws || !isCurrent(room)) return;
  const frame = parseFrame(event);
  if (!frame) return;
  if (!room.gotFrame) onFirstFrame(room);

  switch (frame.type) {
    case 'chat_message': receiveMessage(room, frame); markReadSoon(room); break;
    case 'reactions': onReactions(room, frame); break;
    case 'presence': onPresence(room, frame); break;
    case 'user_joined': onUserJoined(room, frame); break;
    case 'user_left': onUserLeft(room, frame); break;
    case 'typing': onTyping(room, frame); break;
    case 'resync': onResync(room); break;
    case 'error': onErrorFrame(room, frame); break;
    default: break; // unknown frames are ignored
  }
}

/** The socket works: reset the backoff; close the REST→socket gap of an empty room. */
function onFirstFrame(room) {
  room.gotFrame = true;
  room.attempts = 0;
  if (room.refetchOnConnect) {
    room.refetchOnConnect = false;
    mergeLatest(room);
  }
}

function onPresence(room, frame) {
  room.online = new Set(Array.isArray(frame.users) ? frame.users.filter((u) => typeof u === 'string') : []);
  renderOnline(room);
}

function onUserJoined(room, frame) {
  if (typeof frame.username !== 'string') return;
  room.online.add(frame.username);
  renderOnline(room);
}

function onUserLeft(room, frame) {
  if (typeof frame.username !== 'string') return;
  room.online.delete(frame.username);
  clearTyping(room, frame.username);
  renderOnline(room);
}

function onResync(room) {
  retireSocket(room, 'resync');
  room.needsReload = true;
  setConnectionState('reconnecting');
  connect(room);
}

function onErrorFrame(room, frame) {
  const text = frame.message || frame.code || 'The server refused that.';
  showChatError(text);
  if (frame.client_id && room.pending.has(frame.client_id)) {
    markFailed(room, frame.client_id, text);
  }
}

/* ------------------------------------------------------------------ */
/* Messages: rendering, ordering, history                              */
/* ------------------------------------------------------------------ */

function sortKey(message) {
  const t = Date.parse(message.created_at);
  return { t: Number.isNaN(t) ? 0 : t, id: String(message.id) };
}

function compareKeys(a, b) {
  if (a.t !== b.t) return a.t - b.t;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The <li> of one message. Text goes in through textContent only. */
function renderMessage(message, { clientId = null } = {}) {
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
    h('span', { class: 'message-author', 'data-testid': 'message-author', text: message.username || 'unknown' }),
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

/* ------------------------------------------------------------------ */
/* Reactions                                                           */
/* ------------------------------------------------------------------ */

/** The counts under a message (who reacted on hover or focus), and the picker. */
function renderReactions(messageId, reactions) {
  const me = state.user ? state.user.username : '';
  const list = Array.isArray(reactions) ? reactions : [];
  const chips = list.map((reaction) => {
    const users = Array.isArray(reaction.users) ? reaction.users.map(String) : [];
    const mine = users.some((name) => sameUser(name, me));
    const who = `${users.join(', ')} reacted with ${reaction.emoji}`;
    return h('button', {
      type: 'button',
      class: mine ? 'reaction is-mine' : 'reaction',
      'data-testid': 'reaction',
      'data-emoji': reaction.emoji,
      'aria-pressed': mine ? 'true' : 'false',
      'aria-label': `${who}${mine ? '; press to remove yours' : '; press to add yours'}`,
      onclick: () => sendReaction(messageId, reaction.emoji, !mine),
    },
    h('span', { class: 'reaction-emoji', text: reaction.emoji }),
    h('span', { class: 'reaction-count', 'data-testid': 'reaction-count', text: String(reaction.count ?? users.length) }),
    h('span', { class: 'reaction-who', role: 'tooltip', 'data-testid': 'reaction-who', text: users.join(', ') }));
  });
  const picker = h('div', { class: 'reaction-picker', role: 'menu', 'aria-label': 'Pick a reaction', hidden: true },
    ...PICKER_EMOJI.map((emoji) => h('button', {
      type: 'button', role: 'menuitem', class: 'reaction-choice', 'data-testid': 'reaction-choice',
      'data-emoji': emoji, 'aria-label': `React with ${emoji}`, text: emoji,
      onclick: (event) => {
        event.currentTarget.closest('.reaction-picker').hidden = true;
        sendReaction(messageId, emoji, true);
      },
    })));
  picker.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      picker.hidden = true;
      picker.previousElementSibling.focus();
    }
  });
  const add = h('button', {
    type: 'button', class: 'reaction-add', 'data-testid': 'add-reaction',
    'aria-label': 'Add a reaction', 'aria-haspopup': 'menu', title: 'Add a reaction', text: '☺+',
    onclick: () => {
      picker.hidden = !picker.hidden;
      if (!picker.hidden) picker.querySelector('button').focus();
    },
  });
  return h('div', { class: 'reactions', 'data-testid': 'reactions' }, ...chips, add, picker);
}

function sendReaction(messageId, emoji, on) {
  const room = state.room;
  if (!room || !sendFrame(room, { type: 'reaction', message_id: messageId, emoji, on })) {
    showChatError('Not connected: reactions can be sent once the connection is back.');
  }
}

/** A `reactions` frame: the message's whole state replaces what is shown. */
function onReactions(room, frame) {
  const li = room.byId.get(frame.message_id);
  if (!li) return;
  const old = li.querySelector(':scope > .reactions');
  const focused = old && old.contains(document.activeElement) ? document.activeElement.dataset.emoji : null;
  const fresh = renderReactions(frame.message_id, frame.reactions);
  if (old) old.replaceWith(fresh); else li.append(fresh);
  if (focused) {
    const again = fresh.querySelector(`[data-emoji="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

/** A message's files: images inline (lazy, in a fixed box so the log does not jump), others as links. */
function renderAttachments(attachments) {
  if (!Array.isArray(attachments) || attachments.length === 0) return null;
  return h('ul', { class: 'attachments', 'data-testid': 'attachments' }, ...attachments.map((file) => {
    const url = typeof file.url === 'string' && file.url.startsWith(`${API_BASE}/attachments/`) ? file.url : null;
    if (!url) return null;
    const name = String(file.filename ?? 'file');
    if (INLINE_IMAGE_TYPES.includes(file.content_type)) {
      return h('li', { class: 'attachment is-image' },
        h('a', { href: url, target: '_blank', rel: 'noopener', title: name },
          h('img', { src: url, alt: name, loading: 'lazy', decoding: 'async', width: 320, height: 240,
            class: 'attachment-image', 'data-testid': 'attachment-image' })));
    }
    return h('li', { class: 'attachment' },
      h('a', { href: url, download: name, 'data-testid': 'attachment-link' }, name),
      h('span', { class: 'attachment-size', text: ` (${formatSize(Number(file.size) || 0)})` }));
  }));
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/* ------------------------------------------------------------------ */
/* Files: attach, drop, paste; one upload at a time with progress      */
/* ------------------------------------------------------------------ */

async function uploadFiles(files) {
  const room = state.room;
  if (!room || room.closed || files.length === 0) return;
  const caption = ui.messageInput.value.trim();
  ui.messageInput.value = '';
  setText(ui.chatError, '');
  for (const [index, file] of [...files].entries()) {
    try {
      const message = await uploadFile(room, file, index === 0 ? caption : '');
      if (isCurrent(room)) receiveMessage(room, message);
    } catch (err) {
      showChatError(`${file.name}: ${err.message}`);
      if (index === 0 && caption && !ui.messageInput.value) ui.messageInput.value = caption;
      break;
    }
  }
}

/** POSTs one file; XMLHttpRequest because fetch reports no upload progress. */
function uploadFile(room, file, caption) {
  const query = new URLSearchParams({ filename: file.name || 'pasted', client_id: newClientId() });
  if (caption) query.set('caption', caption);
  ui.uploadName.textContent = file.name || 'pasted';
  ui.uploadProgress.value = 0;
  ui.uploadStatus.hidden = false;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API_BASE}/chatrooms/${encodeURIComponent(room.id)}/attachments?${query}`);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) ui.uploadProgress.value = event.loaded / event.total;
    };
    xhr.onload = () => {
      ui.uploadStatus.hidden = true;
      const data = xhr.response;
      if (xhr.status === 200 || xhr.status === 201) resolve(data);
      else reject(new ApiError(xhr.status, data && data.code, (data && data.error) || `Upload failed (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => {
      ui.uploadStatus.hidden = true;
      reject(new ApiError(0, 'NETWORK_ERROR', 'The upload could not reach the server.'));
    };
    xhr.send(file);
  });
}

function onDragOver(event) {
  if (!state.room || !event.dataTransfer || ![...event.dataTransfer.types].includes('Files')) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = 'copy';
  ui.chatRoom.classList.add('is-dropping');
}

function onDrop(event) {
  ui.chatRoom.classList.remove('is-dropping');
  if (!event.dataTransfer || event.dataTransfer.files.length === 0) return;
  event.preventDefault();
  uploadFiles(event.dataTransfer.files);
}

function onPaste(event) {
  const files = event.clipboardData ? event.clipboardData.files : null;
  if (!files || files.length === 0) return;
  event.preventDefault();
  uploadFiles(files);
}

function isNearBottom() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
}

function scrollToBottom() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  ui.jumpLatest.hidden = true;
}

/** Run fn (which adds content above) without moving what the user sees. */
function preserveScroll(fn) {
  const list = ui.messages;
  const height = list.scrollHeight;
  const top = list.scrollTop;
  fn();
  list.scrollTop = top + (list.scrollHeight - height);
}

function firstPendingElement() {
  return ui.messages.querySelector('li.message:not([data-id])');
}

function trackKey(room, li, key) {
  room.keyOf.set(li, key);
  if (!room.oldest || compareKeys(key, room.oldest) < 0) room.oldest = key;
  if (!room.newest || compareKeys(key, room.newest) > 0) room.newest = key;
}

/** Put a confirmed message in its sorted place (before any pending ones). */
function insertConfirmed(room, message, li) {
  const key = sortKey(message);
  let before = firstPendingElement();
  let node = before ? before.previousElementSibling : ui.messages.lastElementChild;
  while (node && node.dataset.id && compareKeys(room.keyOf.get(node), key) > 0) {
    before = node;
    node = node.previousElementSibling;
  }
  ui.messages.insertBefore(li, before);
  room.byId.set(message.id, li);
  trackKey(room, li, key);
}

/** A chat_message frame (live or replayed): confirm a pending one, or add. */
function receiveMessage(room, message) {
  if (!message.id) return;
  if (typeof message.username === 'string') clearTyping(room, message.username);
  const pending = message.client_id ? room.pending.get(message.client_id) : undefined;
  if (pending) {
    clearTimeout(pending.timer);
    room.pending.delete(message.client_id);
    pending.li.remove();
  }
  if (room.byId.has(message.id)) return;
  const stick = isNearBottom();
  insertConfirmed(room, message, renderMessage(message));
  if (stick || pending) scrollToBottom();
  else ui.jumpLatest.hidden = false;
}

/** Replace all confirmed messages with `messages` (oldest first); pending ones stay last. */
function replaceHistory(room, messages) {
  const list = ui.messages;
  list.setAttribute('aria-busy', 'true');
  for (const li of room.byId.values()) li.remove();
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
  list.setAttribute('aria-busy', 'false');
}

/** Add older messages (oldest first) at the top; returns how many were new. */
function prependHistory(room, messages) {
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
  return added;
}

/** GET the newest page and show it (used on open and after resync). */
async function loadLatest(room) {
  const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/messages?limit=${HISTORY_PAGE}`);
  if (!isCurrent(room)) return;
  const messages = Array.isArray(data && data.messages) ? data.messages : [];
  room.exhausted = messages.length < HISTORY_PAGE;
  room.needsReload = false;
  renderHistoryStatus(room);
  replaceHistory(room, messages);
  scrollToBottom();
  fillViewport(room);
  markReadSoon(room);
}

/**
 * Merge what REST has now: after connecting without ?after (an empty room),
 * and after a reconnect, whose replay carries the newer messages but not
 * the reactions that changed on older ones meanwhile.
 */
async function mergeLatest(room) {
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

async function loadOlder(room) {
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
function fillViewport(room) {
  const list = ui.messages;
  if (!room.exhausted && !room.loadingOlder && list.scrollHeight <= list.clientHeight + NEAR_TOP_PX) {
    loadOlder(room);
  }
}

function renderHistoryStatus(room) {
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

function onMessagesScroll() {
  const room = state.room;
  if (!room) return;
  if (ui.messages.scrollTop < NEAR_TOP_PX) loadOlder(room);
  if (isNearBottom()) {
    ui.jumpLatest.hidden = true;
    markReadSoon(room);
  }
}

/* ------------------------------------------------------------------ */
/* Reading, unread figures, notifications                              */
/* ------------------------------------------------------------------ */

/** Marks the room read up to its newest message once the user can see it. */
function markReadSoon(room) {
  clearTimeout(room.readTimer);
  room.readTimer = setTimeout(() => markRead(room), READ_DEBOUNCE_MS);
}

async function markRead(room) {
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
function renderTitle() {
  let total = 0;
  for (const figures of state.unread.values()) total += figures.unread || 0;
  document.title = total > 0 ? `(${total > 999 ? '999+' : total}) ${state.baseTitle}` : state.baseTitle;
}

function openNotifier() {
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

function closeNotifier() {
  clearTimeout(state.notifierTimer);
  const ws = state.notifier;
  state.notifier = null;
  if (ws) ws.close(1000, 'signed out');
}

function onNotification(event) {
  const frame = parseFrame(event);
  if (!frame) return;
  if (frame.type === 'unread' && typeof frame.chatroom_id === 'string') {
    state.unread.set(frame.chatroom_id, { unread: Number(frame.unread) || 0, mentions: Number(frame.mentions) || 0 });
    if (!state.rooms.some((room) => room.id === frame.chatroom_id)) loadRooms();
    else renderRoomList();
  } else if (frame.type === 'mention' && frame.message) {
    notifyMention(frame.message);
  }
}

/** A desktop notification for a mention, only while the tab is hidden and only with permission. */
function notifyMention(message) {
  if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
  const room = state.rooms.find((r) => r.id === message.chatroom_id);
  const title = `${message.username} mentioned you${room ? ` in #${room.name}` : ''}`;
  const notification = new Notification(title, { body: String(message.content ?? '').slice(0, 200), tag: message.id });
  notification.addEventListener('click', () => {
    window.focus();
    if (room) openRoom(room);
    notification.close();
  });
}

/** The button asking for permission: shown only while the browser has not been asked. */
function renderNotifyButton() {
  ui.notifyButton.hidden = !('Notification' in window) || Notification.permission !== 'default';
}

async function onNotifyClick() {
  try {
    await Notification.requestPermission();
  } finally {
    renderNotifyButton();
  }
}

function onVisibilityChange() {
  if (document.visibilityState === 'visible' && state.room) markReadSoon(state.room);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

function sendFrame(room, frame) {
  if (!room.ws || room.ws.readyState !== WebSocket.OPEN) return false;
  room.ws.send(JSON.stringify(frame));
  return true;
}

function onComposerSubmit(event) {
  event.preventDefault();
  const room = state.room;
  if (!room || room.closed) return;
  const content = ui.messageInput.value.trim();
  if (!content) return;
  if (content.length > MAX_MESSAGE_LENGTH) {
    showChatError(`A message can be at most ${MAX_MESSAGE_LENGTH} characters.`);
    return;
  }
  setText(ui.chatError, '');
  const clientId = newClientId();
  if (content.startsWith('/')) {
    // A command: never stored, so never shown as pending.
    if (!sendFrame(room, { type: 'chat_message', content, client_id: clientId })) {
      showChatError('Not connected: commands can be sent once the connection is back.');
      return;
    }
    ui.messageInput.value = '';
    return;
  }
  addPending(room, clientId, content);
  ui.messageInput.value = '';
  ui.messageInput.focus();
}

function addPending(room, clientId, content) {
  const li = renderMessage({
    username: state.user.username,
    content,
    created_at: new Date().toISOString(),
    is_bot: false,
  }, { clientId });
  ui.messages.append(li);
  room.pending.set(clientId, { li, content, status: 'pending', timer: null });
  scrollToBottom();
  sendPending(room, clientId);
}

/** Send a pending message if the socket is open; otherwise it waits for flushPending. */
function sendPending(room, clientId) {
  const pending = room.pending.get(clientId);
  if (!pending) return;
  clearTimeout(pending.timer);
  pending.timer = null;
  if (!sendFrame(room, { type: 'chat_message', content: pending.content, client_id: clientId })) return;
  pending.timer = setTimeout(() => {
    pending.timer = null;
    // Still open and no acknowledgement: let the user retry. (When the socket
    // dropped instead, flushPending resends on the next open.)
    if (room.pending.get(clientId) === pending && room.ws && room.ws.readyState === WebSocket.OPEN) {
      markFailed(room, clientId, 'No confirmation from the server.');
    }
  }, PENDING_TIMEOUT_MS);
}

function flushPending(room) {
  for (const [clientId, pending] of room.pending) {
    if (pending.status === 'pending') sendPending(room, clientId);
  }
}

function markFailed(room, clientId, reason) {
  const pending = room.pending.get(clientId);
  if (!pending) return;
  clearTimeout(pending.timer);
  pending.timer = null;
  pending.status = 'failed';
  const { li } = pending;
  li.classList.remove('is-pending');
  li.classList.add('is-failed');
  li.dataset.status = 'failed';
  const status = li.querySelector('.message-status');
  status.replaceChildren(
    h('span', { text: 'not sent', title: reason || null }),
    ' ',
    h('button', { type: 'button', class: 'link-btn', text: 'Retry', onclick: () => retryPending(room, clientId) }));
}

function retryPending(room, clientId) {
  const pending = room.pending.get(clientId);
  if (!pending || !isCurrent(room)) return;
  pending.status = 'pending';
  const { li } = pending;
  li.classList.remove('is-failed');
  li.classList.add('is-pending');
  li.dataset.status = 'pending';
  li.querySelector('.message-status').replaceChildren('sending…');
  setText(ui.chatError, '');
  sendPending(room, clientId);
  ui.messageInput.focus();
}

function showChatError(text) {
  setText(ui.chatError, text);
}

/* ------------------------------------------------------------------ */
/* Presence and typing                                                 */
/* ------------------------------------------------------------------ */

function renderOnline(room) {
  const names = [...room.online].sort((a, b) => a.localeCompare(b));
  const me = state.user ? state.user.username : '';
  ui.onlineUsers.replaceChildren(...names.map((name) => h('li', {
    class: sameUser(name, me) ? 'online-user is-self' : 'online-user',
    text: name,
  })));
  ui.onlineCount.textContent = names.length ? `(${names.length})` : '';
}

function onTyping(room, frame) {
  const name = frame.username;
  if (typeof name !== 'string' || (state.user && sameUser(name, state.user.username))) return;
  clearTimeout(room.typing.get(name));
  room.typing.set(name, setTimeout(() => clearTyping(room, name), TYPING_SHOW_MS));
  renderTyping(room);
}

function clearTyping(room, name) {
  if (!room.typing.has(name)) return;
  clearTimeout(room.typing.get(name));
  room.typing.delete(name);
  if (isCurrent(room)) renderTyping(room);
}

function clearAllTyping(room) {
  for (const timer of room.typing.values()) clearTimeout(timer);
  room.typing.clear();
  if (isCurrent(room)) renderTyping(room);
}

function renderTyping(room) {
  const names = [...room.typing.keys()];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  setText(ui.typing, text);
}

/** Tell the room we are typing, at most once every 2 s. */
function onMessageInput() {
  const room = state.room;
  if (!room || !ui.messageInput.value.trim()) return;
  const now = Date.now();
  if (now - room.lastTypingSentAt < TYPING_SEND_INTERVAL_MS) return;
  if (sendFrame(room, { type: 'typing' })) room.lastTypingSentAt = now;
}

/* ------------------------------------------------------------------ */
/* Start                                                               */
/* ------------------------------------------------------------------ */

function collectElements() {
  const ids = {
    boot: 'boot',
    authView: 'auth-view',
    authForm: 'auth-form',
    username: 'username',
    password: 'password',
    authError: 'auth-error',
    authNotice: 'auth-notice',
    loginButton: 'login-button',
    registerButton: 'register-button',
    appView: 'app-view',
    connectionState: 'connection-state',
    currentUser: 'current-user',
    logoutButton: 'logout-button',
    refreshRooms: 'refresh-rooms',
    roomList: 'room-list',
    createRoomForm: 'create-room-form',
    newRoomName: 'new-room-name',
    createRoomButton: 'create-room-button',
    roomError: 'room-error',
    chatEmpty: 'chat-empty',
    chatRoom: 'chat-room',
    chatTitle: 'chat-title',
    messages: 'messages',
    jumpLatest: 'jump-latest',
    typing: 'typing',
    composer: 'composer',
    messageInput: 'message-input',
    sendButton: 'send-button',
    chatError: 'chat-error',
    fileInput: 'file-input',
    attachButton: 'attach-button',
    uploadStatus: 'upload-status',
    uploadName: 'upload-name',
    uploadProgress: 'upload-progress',
    notifyButton: 'notify-button',
    onlineUsers: 'online-users',
    onlineCount: 'online-count',
  };
  for (const [key, id] of Object.entries(ids)) ui[key] = document.getElementById(id);
}

function bindEvents() {
  ui.authForm.addEventListener('submit', onLoginSubmit);
  ui.registerButton.addEventListener('click', onRegisterClick);
  ui.logoutButton.addEventListener('click', onLogoutClick);
  ui.refreshRooms.addEventListener('click', () => loadRooms());
  ui.createRoomForm.addEventListener('submit', onCreateRoomSubmit);
  ui.composer.addEventListener('submit', onComposerSubmit);
  ui.messageInput.addEventListener('input', onMessageInput);
  ui.messageInput.addEventListener('paste', onPaste);
  ui.notifyButton.addEventListener('click', onNotifyClick);
  document.addEventListener('visibilitychange', onVisibilityChange);
  ui.attachButton.addEventListener('click', () => ui.fileInput.click());
  ui.fileInput.addEventListener('change', () => {
    uploadFiles(ui.fileInput.files).finally(() => { ui.fileInput.value = ''; });
  });
  ui.chatRoom.addEventListener('dragover', onDragOver);
  ui.chatRoom.addEventListener('dragleave', () => ui.chatRoom.classList.remove('is-dropping'));
  ui.chatRoom.addEventListener('drop', onDrop);
  ui.messages.addEventListener('scroll', onMessagesScroll, { passive: true });
  ui.jumpLatest.addEventListener('click', scrollToBottom);
  window.addEventListener('online', reconnectNow);
  window.addEventListener('offline', onBrowserOffline);
}

async function boot() {
  collectElements();
  bindEvents();
  try {
    const user = await api('/auth/me');
    enterApp(user);
  } catch (err) {
    showAuth({ error: err.status === 401 ? '' : err.message });
  }
}

boot();
