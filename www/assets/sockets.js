/** A room's connection: REST history, then the WebSocket, reconnecting with backoff; and the frames it receives. */

import { api } from './api.js';
import { handleAuthLoss, showAuth } from './auth.js';
import { flushPending, markFailed, resealPending, showChatError, waitAndResend } from './composer.js';
import { loadLatest, mergeLatest, receiveMessage } from './history.js';
import { markReadSoon } from './notifications.js';
import { clearAllTyping, clearTyping, onTyping, renderOnline } from './presence.js';
import { onReactions } from './reactions.js';
import { onMemberFrame } from './members.js';
import { onMessageDeleted, onMessageEdited } from './edits.js';
import { dropRoom, failRoom, isCurrent, loadRooms } from './rooms.js';
import { RECONNECT_BASE_MS, RECONNECT_MAX_MS, state, ui } from './state.js';

export function setConnectionState(value) {
  ui.connectionState.dataset.state = value;
  ui.connectionState.textContent = value;
}

export function wsUrl(room) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${scheme}//${location.host}/ws/chat/${encodeURIComponent(room.id)}`;
  if (room.newest) url += `?after=${encodeURIComponent(room.newest.id)}`;
  return url;
}

/** Load history if needed, then open the socket. Failures back off. */
export async function connect(room) {
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

export function openSocket(room) {
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
export function retireSocket(room, reason) {
  const ws = room.ws;
  room.ws = null;
  if (!ws) return;
  try {
    ws.close(1000, reason);
  } catch {
    // already closing
  }
}

export function onSocketOpen(room, ws) {
  if (ws !== room.ws || !isCurrent(room)) return;
  if (room.everConnected) mergeLatest(room);
  room.wsOpened = true;
  room.everConnected = true;
  room.wentOffline = false;
  setConnectionState(navigator.onLine === false ? 'offline' : 'connected');
  // What the outage said is no longer true.
  if (/^(Not connected|Could not (load|join))/.test(ui.chatError.textContent)) showChatError('');
  flushPending(room);
}

export function onSocketClose(room, ws, event) {
  if (ws !== room.ws) return; // retired on purpose
  room.ws = null;
  clearAllTyping(room);
  if (!isCurrent(room)) return;
  if (event.code === 1008) {
    showAuth({ error: 'You have been logged out.' });
    return;
  }
  if (event.code === 4403) {
    dropRoom(room.id, 'You are no longer a member of this room.');
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
export async function diagnoseRoomAccess(room) {
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/messages?limit=1`);
  } catch (err) {
    if (!isCurrent(room) || handleAuthLoss(err)) return;
    if (err.status === 404) {
      dropRoom(room.id, 'This room no longer exists, or you are no longer a member.');
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
export function backoffDelay(attempt) {
  const cap = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}

export function scheduleReconnect(room) {
  if (!isCurrent(room) || room.reconnectTimer || room.ws) return;
  const delay = backoffDelay(room.attempts);
  room.attempts += 1;
  setConnectionState(navigator.onLine === false ? 'offline' : 'reconnecting');
  ui.connectionState.title = `Next attempt in ${Math.ceil(delay / 1000)} s`;
  showCountdown(room, Date.now() + delay);
  room.reconnectTimer = setTimeout(() => {
    room.reconnectTimer = null;
    ui.connectionState.title = 'Connection state';
    connect(room);
  }, delay);
}

/** "reconnecting in N s" in the connection pill, ticking, until the attempt. */
function showCountdown(room, at) {
  const tick = () => {
    if (!isCurrent(room) || !room.reconnectTimer || ui.connectionState.dataset.state !== 'reconnecting') {
      clearInterval(timer);
      return;
    }
    const seconds = Math.max(1, Math.ceil((at - Date.now()) / 1000));
    ui.connectionState.textContent = `reconnecting in ${seconds} s`;
  };
  const timer = setInterval(tick, 250);
  queueMicrotask(tick);
}

/**
 * The browser says the network is back. A socket that stayed open through
 * the outage may be dead without knowing it (nothing tells a browser when a
 * path dies silently), and whatever was sent to it meanwhile is lost: replace
 * it; the new one asks for ?after=<newest id>, so the server replays what was
 * missed, and nothing is shown twice. Otherwise skip the backoff wait.
 */
export function reconnectNow() {
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

export function onBrowserOffline() {
  const room = state.room;
  if (!room) return;
  room.wentOffline = true;
  setConnectionState('offline');
}

/* ------------------------------------------------------------------ */
/* Incoming frames                                                     */
/* ------------------------------------------------------------------ */

/** A socket's frame as an object, or null for anything else. */
export function parseFrame(event) {
  try {
    const frame = JSON.parse(event.data);
    return frame && typeof frame === 'object' ? frame : null;
  } catch {
    return null;
  }
}

export function onSocketMessage(room, ws, event) {
  if (ws !== room.ws || !isCurrent(room)) return;
  const frame = parseFrame(event);
  if (!frame) return;
  if (!room.gotFrame) onFirstFrame(room);

  switch (frame.type) {
    case 'chat_message': receiveMessage(room, frame); markReadSoon(room); break;
    case 'reactions': onReactions(room, frame); break;
    case 'message_edited': onMessageEdited(room, frame); break;
    case 'message_deleted': onMessageDeleted(room, frame); break;
    case 'member_added':
    case 'member_removed': onMemberFrame(room, frame); break;
    case 'presence': onPresence(room, frame); break;
    case 'presence_diff': onPresenceDiff(room, frame); break;
    case 'user_joined': onUserJoined(room, frame); break;
    case 'user_left': onUserLeft(room, frame); break;
    case 'typing': onTyping(room, frame); break;
    case 'resync': onResync(room); break;
    case 'error': onErrorFrame(room, frame); break;
    default: break; // unknown frames are ignored
  }
}

/** The socket works: reset the backoff; close the REST→socket gap of an empty room. */
export function onFirstFrame(room) {
  room.gotFrame = true;
  room.attempts = 0;
  if (room.refetchOnConnect) {
    room.refetchOnConnect = false;
    mergeLatest(room);
  }
}

export function onPresence(room, frame) {
  room.online = new Set(Array.isArray(frame.users) ? frame.users.filter((u) => typeof u === 'string') : []);
  room.onlineTotal = Number.isInteger(frame.online) ? frame.online : null;
  renderOnline(room);
}

/**
 * A big room's `presence_diff`: how its list of the first hundred names
 * moved, and how many are online. A name out of the list may still be
 * online (pushed past the hundredth), so its typing notice runs its course.
 */
export function onPresenceDiff(room, frame) {
  const names = (list) => (Array.isArray(list) ? list.filter((u) => typeof u === 'string') : []);
  for (const name of names(frame.joined)) room.online.add(name);
  for (const name of names(frame.left)) room.online.delete(name);
  room.onlineTotal = Number.isInteger(frame.online) ? frame.online : null;
  renderOnline(room);
}

export function onUserJoined(room, frame) {
  if (typeof frame.username !== 'string') return;
  room.online.add(frame.username);
  renderOnline(room);
}

export function onUserLeft(room, frame) {
  if (typeof frame.username !== 'string') return;
  room.online.delete(frame.username);
  clearTyping(room, frame.username);
  renderOnline(room);
}

export function onResync(room) {
  retireSocket(room, 'resync');
  room.needsReload = true;
  setConnectionState('reconnecting');
  connect(room);
}

export function onErrorFrame(room, frame) {
  if (frame.code === 'STALE_EPOCH' && frame.client_id && resealPending(room, frame.client_id)) return;
  if (frame.code === 'RATE_LIMITED' && frame.client_id && room.pending.has(frame.client_id)) {
    const seconds = Number((/retry in (\d+) s/.exec(String(frame.message)) || [])[1]) || 5;
    waitAndResend(room, frame.client_id, seconds);
    return;
  }
  const text = frame.message || frame.code || 'The server refused that.';
  showChatError(text);
  if (frame.client_id && room.pending.has(frame.client_id)) {
    markFailed(room, frame.client_id, text);
  }
}
