/**
 * Encrypted rooms in the page: the identity key (made on first use, or
 * restored from its backup with the passphrase, then kept non-extractable
 * in IndexedDB), room keys (opened from envelopes, shared with members who
 * lack them, rotated when a member left: the first member to send rotates),
 * sealing what is sent and opening what arrives. The scheme itself is in
 * crypto.js.
 */

import { api } from './api.js';
import * as e2e from './crypto.js';
import { h, linkify, sameUser, setText } from './dom.js';
import { loadIdentity, saveIdentity } from './keystore.js';
import { imageButton } from './lightbox.js';
import { API_BASE, INLINE_IMAGE_TYPES, state, ui } from './state.js';

let identity = null;          // {privateKey, publicKey} of the signed-in user
let unlocking = null;         // the unlock under way, shared by all who wait
const roomKeys = new Map();   // room id → Map(epoch → CryptoKey)
const filesShown = new WeakMap(); // a sealed message's <li> → the files its plaintext names
const loading = new Map();    // room id → the GET …/keys under way

/** Forgets every key held in memory (signing out). */
export function forgetKeys() {
  identity = null;
  unlocking = null;
  roomKeys.clear();
  loading.clear();
}

function keysOf(roomId) {
  let keys = roomKeys.get(roomId);
  if (!keys) roomKeys.set(roomId, keys = new Map());
  return keys;
}

/* The identity key --------------------------------------------------- */

/** The user's identity key, asking for the passphrase when this browser has none. */
export function ensureIdentity() {
  if (identity) return Promise.resolve(identity);
  if (!unlocking) unlocking = unlock().finally(() => { unlocking = null; });
  return unlocking;
}

async function unlock() {
  const userId = state.user.id;
  const stored = await loadIdentity(userId).catch(() => undefined);
  let published = await ownKey();
  if (stored && published && stored.publicKey === published.public_key) return (identity = stored);
  let error = '';
  for (;;) {
    const passphrase = await askPassphrase(published ? 'restore' : 'create', error);
    if (passphrase === null) throw new Error('Encrypted rooms stay locked until you enter your passphrase.');
    if (published) {
      try {
        const pkcs8 = await e2e.openBackup(published.backup, userId, passphrase);
        identity = { privateKey: await e2e.importIdentity(pkcs8), publicKey: published.public_key };
      } catch {
        error = 'That passphrase does not open your key. Try again.';
        continue;
      }
    } else {
      if ([...passphrase].length < 8) {
        error = 'Use at least 8 characters.';
        continue;
      }
      const made = await e2e.generateIdentity();
      const backup = await e2e.sealBackup(made.pkcs8, userId, passphrase);
      try {
        await api('/keys', { method: 'PUT', body: { public_key: made.publicKey, backup } });
      } catch (err) {
        if (err.code !== 'KEY_EXISTS') throw err;
        published = await ownKey(); // made meanwhile in another browser: open that one
        error = 'Your key was just made in another window: enter its passphrase.';
        continue;
      }
      identity = { privateKey: made.privateKey, publicKey: made.publicKey };
    }
    closePassphrase();
    await saveIdentity(userId, identity).catch(() => {});
    return identity;
  }
}

async function ownKey() {
  try {
    return await api('/keys/me');
  } catch (err) {
    if (err.status === 404) return null;
    throw err;
  }
}

/** The passphrase dialog; resolves with the passphrase, or null when dismissed. */
function askPassphrase(mode, error) {
  ui.encryptionTitle.textContent = mode === 'create' ? 'Choose an encryption passphrase' : 'Unlock your encrypted rooms';
  ui.encryptionExplain.textContent = mode === 'create'
    ? 'It protects your encryption key, so you can read encrypted rooms in another browser. Nobody, not even the server, can recover it: keep it safe.'
    : 'Enter the encryption passphrase you chose, to read encrypted rooms in this browser.';
  ui.encryptionPassphrase.autocomplete = mode === 'create' ? 'new-password' : 'current-password';
  ui.encryptionUnlock.textContent = mode === 'create' ? 'Create key' : 'Unlock';
  setText(ui.encryptionError, error);
  ui.encryptionPassphrase.value = '';
  if (!ui.encryptionDialog.open) ui.encryptionDialog.showModal();
  ui.encryptionPassphrase.focus();
  return new Promise((resolve) => {
    const done = (value) => {
      ui.encryptionForm.removeEventListener('submit', onSubmit);
      ui.encryptionCancel.removeEventListener('click', onCancel);
      ui.encryptionDialog.removeEventListener('cancel', onCancel);
      resolve(value);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      ui.encryptionUnlock.disabled = true;
      setText(ui.encryptionError, 'Working…');
      done(ui.encryptionPassphrase.value);
    };
    const onCancel = (event) => {
      event.preventDefault();
      closePassphrase();
      done(null);
    };
    ui.encryptionUnlock.disabled = false;
    ui.encryptionForm.addEventListener('submit', onSubmit);
    ui.encryptionCancel.addEventListener('click', onCancel);
    ui.encryptionDialog.addEventListener('cancel', onCancel);
  });
}

function closePassphrase() {
  ui.encryptionPassphrase.value = '';
  setText(ui.encryptionError, '');
  if (ui.encryptionDialog.open) ui.encryptionDialog.close();
}

/* Room keys ---------------------------------------------------------- */

/** Reads the room's keys and opens every envelope not opened yet. */
function fetchKeys(room) {
  let pending = loading.get(room.id);
  if (!pending) {
    pending = (async () => {
      const info = await api(`/chatrooms/${encodeURIComponent(room.id)}/keys`);
      const me = await ensureIdentity();
      const keys = keysOf(room.id);
      for (const envelope of info.envelopes || []) {
        if (keys.has(envelope.epoch)) continue;
        try {
          keys.set(envelope.epoch, await e2e.unwrapRoomKey(me.privateKey, envelope, room.id, state.user.id));
        } catch {
          // Wrapped for an identity this account had before: that epoch stays unreadable here.
        }
      }
      return info;
    })().finally(() => loading.delete(room.id));
    loading.set(room.id, pending);
  }
  return pending;
}

/** The key of `epoch`, reading the room's keys once when it is not known yet. */
async function keyFor(room, epoch) {
  const keys = keysOf(room.id);
  if (!keys.has(epoch)) await fetchKeys(room);
  const key = keys.get(epoch);
  if (!key) throw new Error(`no key for epoch ${epoch}`);
  return key;
}

/**
 * The epoch and key to seal with now: a key the room takes, made here when
 * the room needs a new one (a member left) or this member holds none.
 */
async function currentKey(room) {
  let info = await fetchKeys(room);
  let claimed = false;
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const key = keysOf(room.id).get(info.epoch);
    if (key && !info.rotation_needed) {
      if (info.missing && info.missing.length) shareKey(room, info.epoch, key, info.missing).catch(() => {});
      return { epoch: info.epoch, key };
    }
    // A key nobody holds yet at this epoch (a new room) is claimed there,
    // once; otherwise, and after a member left, a new epoch begins.
    const claim = !info.rotation_needed && !key && !claimed;
    claimed = claimed || claim;
    await makeKey(room, claim ? info.epoch : info.epoch + 1);
    info = await fetchKeys(room);
  }
  throw new Error('The room key could not be agreed on; try again.');
}

/** Makes a key for `epoch` and sends it to every member; another member's may win. */
async function makeKey(room, epoch) {
  const key = await e2e.newRoomKey();
  const people = await recipients(room, null);
  const envelopes = await Promise.all(people.map((person) => e2e.wrapRoomKey(key, room.id, epoch, person)));
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/keys`, { method: 'POST', body: { epoch, envelopes } });
    keysOf(room.id).set(epoch, key);
  } catch (err) {
    // Another member's key won (409), or the members changed meanwhile:
    // the caller reads the keys again.
    if (err.status !== 409 && err.code !== 'ENVELOPES_INCOMPLETE') throw err;
  }
}

/** Sends `key` of `epoch` to the members named (or to everyone). */
async function shareKey(room, epoch, key, names) {
  const people = await recipients(room, names);
  if (!people.length) return;
  const envelopes = await Promise.all(people.map((person) => e2e.wrapRoomKey(key, room.id, epoch, person)));
  await api(`/chatrooms/${encodeURIComponent(room.id)}/keys`, { method: 'POST', body: { epoch, envelopes } });
}

/** {username, userId, publicKey} of the room's members (or of `names`). */
async function recipients(room, names) {
  let list = names;
  if (!list) {
    const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/members`);
    list = (data.members || []).map((m) => m.username);
  }
  const people = await Promise.all(list.map(async (username) => {
    try {
      const key = await api(`/users/${encodeURIComponent(username)}/key`);
      return { username: key.username, userId: key.user_id, publicKey: key.public_key };
    } catch {
      return null;
    }
  }));
  return people.filter(Boolean);
}

/** An encrypted room was opened, or someone joined it: share the key with whoever lacks it. */
export async function shareWithMissing(room) {
  const info = await fetchKeys(room);
  if (info.rotation_needed) return; // the next message rotates
  const key = keysOf(room.id).get(info.epoch);
  if (!key) {
    // A new room has no key yet: make its first one. (Where others hold
    // one, the server refuses this one and they share theirs.)
    await makeKey(room, info.epoch);
    return;
  }
  if (info.missing && info.missing.length) await shareKey(room, info.epoch, key, info.missing);
}

/* Sealing and opening ------------------------------------------------ */

/** The mentions a text makes, as the plaintext carries them. */
function mentionsIn(content) {
  const names = new Set();
  for (const match of content.matchAll(/(?:^|[^A-Za-z0-9_])@([A-Za-z0-9_]{3,50})(?![A-Za-z0-9_])/g)) names.add(match[1]);
  return [...names];
}

/** The `encrypted` object of `plaintext` ({content, attachments?}) for the room now. */
export async function sealFor(room, plaintext, { editOf = null } = {}) {
  const { epoch, key } = await currentKey(room);
  const body = { ...plaintext, mentions: mentionsIn(plaintext.content) };
  return e2e.sealMessage(key, room.id, epoch, state.user.id, body, { editOf });
}

/** The files a sealed message's plaintext names: an edit keeps them. */
export function sealedFilesOf(li) {
  return filesShown.get(li) || null;
}

/** A sealed message's plaintext; an edited one is sealed with its id. */
async function openSealed(room, sealed, senderId, editOf) {
  const key = await keyFor(room, sealed.epoch);
  return e2e.openMessage(key, room.id, senderId, sealed, editOf);
}

/** Shows a sealed message once opened (or says it cannot be). */
export function decryptInto(room, li, message) {
  li.dataset.authorId = message.user_id;
  const content = li.querySelector('.message-content');
  content.replaceChildren(h('span', { class: 'sealed-note', text: 'Decrypting…' }));
  const editOf = message.edited_at ? message.id : null;
  openSealed(room, message.encrypted, message.user_id, editOf)
    .then((plain) => showPlain(room, li, plain, message.attachments))
    .catch(() => markUndecryptable(li));
}

/** A `message_edited` frame of an encrypted room. */
export function decryptEdit(room, li, frame) {
  const author = li.dataset.authorId;
  openSealed(room, frame.encrypted, author, frame.message_id)
    .then((plain) => showPlain(room, li, plain, null))
    .catch(() => markUndecryptable(li));
}

function showPlain(room, li, plain, shown) {
  if (li.dataset.deleted === 'true') return;
  delete li.dataset.undecryptable;
  li.dataset.encrypted = 'true';
  li.querySelector('.message-content').replaceChildren(...linkify(plain.content));
  const me = state.user ? state.user.username : '';
  // The sender's client lists whom it mentions; a client that does not is read for @names.
  const names = Array.isArray(plain.mentions) ? plain.mentions : mentionsIn(plain.content);
  const mentioned = names.some((name) => sameUser(String(name), me));
  if (mentioned) li.dataset.mentionsMe = 'true';
  else delete li.dataset.mentionsMe;
  if (Array.isArray(plain.attachments)) filesShown.set(li, plain.attachments);
  if (shown) showSealedFiles(li, plain.attachments, shown);
  for (const quote of ui.messages.querySelectorAll(`.reply-quote[data-reply-to="${CSS.escape(li.dataset.id || '')}"] .reply-excerpt`)) {
    quote.textContent = plain.content.slice(0, 100);
  }
}

function markUndecryptable(li) {
  if (li.dataset.deleted === 'true') return;
  delete li.dataset.encrypted;
  li.dataset.undecryptable = 'true';
  li.querySelector('.message-content').replaceChildren(h('span', {
    class: 'sealed-note', text: '🔒 This message could not be decrypted: it was sealed with a key this browser does not have.',
  }));
}

/** The files a sealed message names, fetched and opened here: images inline, the rest as downloads. */
function showSealedFiles(li, files, shown) {
  if (!Array.isArray(files) || !files.length) return;
  const allowed = new Set((shown || []).map((file) => file.id));
  const list = h('ul', { class: 'attachments', 'data-testid': 'attachments' });
  for (const file of files) {
    if (!file || !allowed.has(file.id)) continue;
    const item = h('li', { class: 'attachment', text: `${file.filename} (decrypting…)` });
    list.append(item);
    openSealedFile(file).then((url) => {
      const name = String(file.filename || 'file');
      if (INLINE_IMAGE_TYPES.includes(file.content_type)) {
        item.className = 'attachment is-image';
        item.replaceChildren(imageButton(url, name));
      } else {
        item.replaceChildren(h('a', { href: url, download: name, 'data-testid': 'attachment-link' }, name));
      }
    }).catch(() => { item.textContent = `${file.filename}: could not be decrypted`; });
  }
  li.querySelector('.message-content').after(list);
}

async function openSealedFile(file) {
  const response = await fetch(`${API_BASE}/attachments/${encodeURIComponent(file.id)}`, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const bytes = await e2e.openFile(await response.arrayBuffer(), file.key, file.iv);
  const type = INLINE_IMAGE_TYPES.includes(file.content_type) ? file.content_type : 'application/octet-stream';
  return URL.createObjectURL(new Blob([bytes], { type }));
}

/** Seals a file for an encrypted room: the bytes to upload and what the message says of it. */
export async function sealUpload(file) {
  const sealed = await e2e.sealFile(new Uint8Array(await file.arrayBuffer()));
  return {
    body: new Blob([sealed.ciphertext], { type: 'application/octet-stream' }),
    describe: (id) => ({
      id, filename: file.name || 'pasted', content_type: file.type || 'application/octet-stream',
      size: file.size, key: sealed.key, iv: sealed.iv,
    }),
  };
}
