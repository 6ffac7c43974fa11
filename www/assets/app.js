/*
 * The chat page. Plain JavaScript in ES modules, no framework, no build step.
 * This module starts it: it looks the elements up, binds their events, and
 * asks who is signed in.
 *
 * Modules, one concern each (they import one another; only this one runs
 * anything when loaded)
 *   state.js          settings, `state` and `ui`, shared by all.
 *   dom.js, api.js    element and time helpers; the REST helper.
 *   auth.js           the views, and signing in, up and out.
 *   rooms.js          the room list; opening and closing a room.
 *   sockets.js        a room's WebSocket, reconnecting, and its frames.
 *   history.js        the message list: order, pending, pages, scrolling.
 *   messages.js       one message as an element.
 *   reactions.js      reactions under a message.
 *   picker.js         the reaction picker: one menu, searchable, kept on screen.
 *   files.js          files shown, attached, dropped, pasted, uploaded.
 *   lightbox.js       an image full size in a dialog.
 *   notifications.js  read markers, unread figures, mention notifications.
 *   composer.js       sending, pending messages, retries.
 *   autocomplete.js   @-mention suggestions of the room's members.
 *   outbox.js         unsent messages kept in IndexedDB across reloads.
 *   presence.js       who is online and who is typing.
 *   members.js        the members panel, member changes, "Message" on a name.
 *   edits.js          a message's menu: reply, edit (also the up arrow), delete;
 *                     message_edited and message_deleted.
 *   search.js         the search box and its results.
 *   crypto.js         the encrypted rooms' scheme over WebCrypto (no page state).
 *   keystore.js       the identity key in IndexedDB, non-extractable.
 *   idb.js            IndexedDB: one store, one request per transaction.
 *   encryption.js     encrypted rooms: the passphrase, room keys, sealing and
 *                     opening messages and files.
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
 *   but never shown as pending: they are not stored as messages. Edits and
 *   deletions arrive in the room's order like messages (and are replayed on
 *   ?after=); a deleted message stays as a tombstone. A reply's quote, or a
 *   search result, shows its message in place, loading the page around it
 *   when it is not loaded (jumpTo).
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

import { api } from './api.js';
import { closeSuggestions, onMentionInput, onMentionKeydown } from './autocomplete.js';
import { enterApp, onLoginSubmit, onLogoutClick, onRegisterClick, showAuth } from './auth.js';
import { onComposerEnter, onComposerSubmit, renderCount } from './composer.js';
import { onComposerKeydown } from './edits.js';
import { onDragOver, onDrop, onPaste, uploadFiles } from './files.js';
import { onMessagesScroll, scrollToBottom, scrollToFirstUnread } from './history.js';
import { onAddMemberSubmit, onDirectSubmit, onLeaveClick, toggleMembersPanel } from './members.js';
import { onNotifyClick, onVisibilityChange } from './notifications.js';
import { onMessageInput } from './presence.js';
import { followKeyboard, loadRooms, onCreateRoomSubmit, onEncryptedToggle, renderStockNotice, setRoomsOpen } from './rooms.js';
import { closeResults, onSearchKeydown, onSearchSubmit } from './search.js';
import { onBrowserOffline, reconnectNow } from './sockets.js';
import { ui } from './state.js';

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
    roomsToggle: 'rooms-toggle',
    roomsDrawer: 'rooms-drawer',
    directList: 'direct-list',
    newRoomPrivate: 'new-room-private',
    newRoomEncrypted: 'new-room-encrypted',
    chatEncrypted: 'chat-encrypted',
    stockNotice: 'stock-notice',
    directForm: 'direct-form',
    directName: 'direct-name',
    encryptionDialog: 'encryption-dialog',
    encryptionForm: 'encryption-form',
    encryptionTitle: 'encryption-title',
    encryptionExplain: 'encryption-explain',
    encryptionPassphrase: 'encryption-passphrase',
    encryptionError: 'encryption-error',
    encryptionUnlock: 'encryption-unlock',
    encryptionCancel: 'encryption-cancel',
    chatPrivate: 'chat-private',
    membersButton: 'members-button',
    memberNotice: 'member-notice',
    membersPanel: 'members-panel',
    memberList: 'member-list',
    addMemberForm: 'add-member-form',
    addMemberName: 'add-member-name',
    membersError: 'members-error',
    leaveRoom: 'leave-room',
    createRoomForm: 'create-room-form',
    newRoomName: 'new-room-name',
    createRoomButton: 'create-room-button',
    roomError: 'room-error',
    chatEmpty: 'chat-empty',
    chatRoom: 'chat-room',
    chatTitle: 'chat-title',
    messages: 'messages',
    jumpLatest: 'jump-latest',
    jumpUnread: 'jump-unread',
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
    replyPreview: 'reply-preview',
    messageCount: 'message-count',
    mentionSuggestions: 'mention-suggestions',
    searchForm: 'search-form',
    searchInput: 'search-input',
    searchPanel: 'search-panel',
    searchSummary: 'search-summary',
    searchResults: 'search-results',
    searchError: 'search-error',
    searchClose: 'search-close',
  };
  for (const [key, id] of Object.entries(ids)) ui[key] = document.getElementById(id);
}

function bindEvents() {
  ui.authForm.addEventListener('submit', onLoginSubmit);
  ui.registerButton.addEventListener('click', onRegisterClick);
  ui.logoutButton.addEventListener('click', onLogoutClick);
  ui.refreshRooms.addEventListener('click', () => loadRooms());
  ui.roomsToggle.addEventListener('click', () => setRoomsOpen(ui.roomsDrawer.dataset.open !== 'true'));
  ui.roomsDrawer.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || ui.roomsDrawer.dataset.open !== 'true') return;
    setRoomsOpen(false);
    ui.roomsToggle.focus();
  });
  followKeyboard();
  ui.createRoomForm.addEventListener('submit', onCreateRoomSubmit);
  ui.newRoomEncrypted.addEventListener('change', onEncryptedToggle);
  ui.directForm.addEventListener('submit', onDirectSubmit);
  ui.messageInput.addEventListener('input', renderStockNotice);
  ui.composer.addEventListener('submit', onComposerSubmit);
  ui.membersButton.addEventListener('click', toggleMembersPanel);
  ui.addMemberForm.addEventListener('submit', onAddMemberSubmit);
  ui.leaveRoom.addEventListener('click', onLeaveClick);
  ui.messageInput.addEventListener('input', onMessageInput);
  ui.messageInput.addEventListener('keydown', onMentionKeydown);
  ui.messageInput.addEventListener('input', onMentionInput);
  ui.messageInput.addEventListener('blur', closeSuggestions);
  ui.messageInput.addEventListener('keydown', onComposerKeydown);
  ui.messageInput.addEventListener('keydown', onComposerEnter);
  ui.messageInput.addEventListener('input', renderCount);
  ui.searchForm.addEventListener('submit', onSearchSubmit);
  ui.searchInput.addEventListener('keydown', onSearchKeydown);
  ui.searchClose.addEventListener('click', closeResults);
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
  ui.jumpUnread.addEventListener('click', scrollToFirstUnread);
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
