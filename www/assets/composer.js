/** Sending: the composer, pending messages, retries. */

import { h, newClientId, setText } from './dom.js';
import { cancelReply } from './edits.js';
import { sealFor } from './encryption.js';
import { markDays, scrollToBottom } from './history.js';
import { renderMessage } from './messages.js';
import { drop, keep, waiting } from './outbox.js';
import { isCurrent } from './rooms.js';
import { MAX_MESSAGE_LENGTH, PENDING_TIMEOUT_MS, state, ui } from './state.js';

export function sendFrame(room, frame) {
  if (!room.ws || room.ws.readyState !== WebSocket.OPEN) return false;
  room.ws.send(JSON.stringify(frame));
  return true;
}

export function onComposerSubmit(event) {
  event.preventDefault();
  const room = state.room;
  if (!room || room.closed) return;
  const content = ui.messageInput.value.trim();
  if (!content) return;
  if ([...content].length > MAX_MESSAGE_LENGTH) {
    showChatError(`A message can be at most ${MAX_MESSAGE_LENGTH} characters; this one has ${[...content].length}.`);
    return;
  }
  setText(ui.chatError, '');
  const clientId = newClientId();
  if (content.startsWith('/')) {
    // A command: never stored, so never shown as pending (and, in an
    // encrypted room, sent in the clear, as the stock notice said).
    ui.stockNotice.hidden = true;
    if (!sendFrame(room, { type: 'chat_message', content, client_id: clientId })) {
      showChatError('Not connected: commands can be sent once the connection is back.');
      return;
    }
    ui.messageInput.value = '';
    return;
  }
  addPending(room, clientId, content, state.replyTo, room.encrypted ? { content } : null);
  cancelReply();
  ui.messageInput.value = '';
  renderCount();
  ui.messageInput.focus();
}

/**
 * Shows a message as pending and sends it. In an encrypted room `plaintext`
 * ({content, attachments?}) is sealed first, and `attachmentIds` names the
 * encrypted uploads it shows.
 */
export function addPending(room, clientId, content, replyTo = null, plaintext = null, attachmentIds = [], { kept = false } = {}) {
  const li = renderMessage({
    username: state.user.username,
    content,
    created_at: new Date().toISOString(),
    is_bot: false,
    reply_to: replyTo,
  }, { clientId });
  ui.messages.append(li);
  markDays();
  room.pending.set(clientId, {
    li, content, replyTo, status: 'pending', timer: null, plaintext, attachmentIds, encrypted: null, seals: 0,
  });
  if (!kept) {
    keep({ clientId, roomId: room.id, userId: state.user.id, content, replyTo, plaintext, attachmentIds, at: Date.now() });
  }
  scrollToBottom();
  sendPending(room, clientId);
}

/** Send a pending message if the socket is open; otherwise it waits for flushPending. */
export function sendPending(room, clientId) {
  const pending = room.pending.get(clientId);
  if (!pending) return;
  clearTimeout(pending.timer);
  pending.timer = null;
  if (pending.plaintext && !pending.encrypted) {
    sealPending(room, clientId, pending);
    return;
  }
  const frame = pending.encrypted
    ? { type: 'chat_message', encrypted: pending.encrypted, client_id: clientId }
    : { type: 'chat_message', content: pending.content, client_id: clientId };
  if (pending.attachmentIds.length) frame.attachment_ids = pending.attachmentIds;
  if (pending.replyTo) frame.reply_to = pending.replyTo.id;
  if (!sendFrame(room, frame)) return;
  pending.timer = setTimeout(() => {
    pending.timer = null;
    // No acknowledgement yet: the message waits in the outbox and is sent
    // again on the next connection; only the server's refusal fails it.
    if (room.pending.get(clientId) === pending && pending.status === 'pending') {
      pending.li.querySelector('.message-status').textContent = 'waiting for the server…';
    }
  }, PENDING_TIMEOUT_MS);
}

/** Seals a pending message for the room's current key, then sends it. */
function sealPending(room, clientId, pending) {
  if (pending.sealing) return;
  pending.sealing = true;
  pending.seals += 1;
  sealFor(room, pending.plaintext)
    .then((encrypted) => {
      pending.sealing = false;
      if (room.pending.get(clientId) !== pending) return;
      pending.encrypted = encrypted;
      sendPending(room, clientId);
    })
    .catch((err) => {
      pending.sealing = false;
      markFailed(room, clientId, `Could not encrypt: ${err.message}`);
    });
}

/**
 * The room took a new key (a member left) before this message arrived:
 * seal it again with the new one and resend, a few times at most.
 */
export function resealPending(room, clientId) {
  const pending = room.pending.get(clientId);
  if (!pending || !pending.plaintext || pending.seals >= 3) return false;
  pending.encrypted = null;
  sendPending(room, clientId);
  return true;
}

/** What was left unsent in this room (a reload, a closed tab): shown pending, and sent once the socket opens. */
export async function restorePending(room) {
  if (!state.user) return;
  const left = await waiting(room.id, state.user.id);
  if (!isCurrent(room)) return;
  for (const entry of left) {
    if (room.pending.has(entry.clientId)) continue;
    addPending(room, entry.clientId, entry.content, entry.replyTo, entry.plaintext, entry.attachmentIds || [], { kept: true });
  }
}

/**
 * Over the message rate limit: the message stays pending, says when it will
 * be sent, counting down, and is sent again then.
 */
export function waitAndResend(room, clientId, seconds) {
  const pending = room.pending.get(clientId);
  if (!pending) return;
  clearTimeout(pending.timer);
  clearInterval(pending.countdown);
  const at = Date.now() + seconds * 1000;
  const status = pending.li.querySelector('.message-status');
  const tick = () => {
    const left = Math.ceil((at - Date.now()) / 1000);
    if (room.pending.get(clientId) !== pending || left <= 0) {
      clearInterval(pending.countdown);
      pending.countdown = null;
      if (room.pending.get(clientId) === pending) {
        status.textContent = 'sending…';
        sendPending(room, clientId);
      }
      return;
    }
    status.textContent = `too many messages: sending in ${left} s`;
  };
  pending.countdown = setInterval(tick, 250);
  tick();
}

/** The server acknowledged (or refused for good) a pending message. */
export function settled(clientId) {
  drop(clientId);
}

export function flushPending(room) {
  for (const [clientId, pending] of room.pending) {
    if (pending.status === 'pending') sendPending(room, clientId);
  }
}

export function markFailed(room, clientId, reason) {
  const pending = room.pending.get(clientId);
  if (!pending) return;
  clearTimeout(pending.timer);
  pending.timer = null;
  pending.status = 'failed';
  drop(clientId);
  const { li } = pending;
  li.classList.remove('is-pending');
  li.classList.add('is-failed');
  li.dataset.status = 'failed';
  delete li.dataset.pending;
  const status = li.querySelector('.message-status');
  status.replaceChildren(
    h('span', { text: 'not sent', title: reason || null }),
    ' ',
    h('button', { type: 'button', class: 'link-btn', text: 'Retry', onclick: () => retryPending(room, clientId) }));
}

export function retryPending(room, clientId) {
  const pending = room.pending.get(clientId);
  if (!pending || !isCurrent(room)) return;
  pending.status = 'pending';
  const { li } = pending;
  li.classList.remove('is-failed');
  li.classList.add('is-pending');
  li.dataset.status = 'pending';
  li.dataset.pending = 'true';
  keep({
    clientId, roomId: room.id, userId: state.user.id, content: pending.content, replyTo: pending.replyTo,
    plaintext: pending.plaintext, attachmentIds: pending.attachmentIds, at: Date.now(),
  });
  li.querySelector('.message-status').replaceChildren('sending…');
  setText(ui.chatError, '');
  sendPending(room, clientId);
  ui.messageInput.focus();
}

/** Enter sends; Shift+Enter (or Enter while composing with an input method) is a new line. */
export function onComposerEnter(event) {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  ui.composer.requestSubmit();
}

/** Past 90% of the limit, how many characters are left (or how many too many). */
export function renderCount() {
  const length = [...ui.messageInput.value.trim()].length;
  const over = length > MAX_MESSAGE_LENGTH;
  ui.messageCount.classList.toggle('is-over', over);
  setText(ui.messageCount, length > MAX_MESSAGE_LENGTH * 0.9
    ? (over
      ? `${length - MAX_MESSAGE_LENGTH} characters over the limit of ${MAX_MESSAGE_LENGTH}`
      : `${MAX_MESSAGE_LENGTH - length} characters left`)
    : '');
}

export function showChatError(text) {
  setText(ui.chatError, text);
}
