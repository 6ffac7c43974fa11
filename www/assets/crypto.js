/**
 * The encrypted rooms' scheme (docs/encryption.md) over WebCrypto, and
 * nothing else: no page state, no network. ECDH P-256 identity keys,
 * PBKDF2-SHA256 + AES-256-GCM key backups, HKDF-SHA256 + AES-KW envelopes
 * of 32-byte room keys, AES-256-GCM messages and files. Every binary value
 * crosses the wire as base64url without padding.
 */

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const ECDH = { name: 'ECDH', namedCurve: 'P-256' };

export const MIN_ITERATIONS = 310000;

export function b64u(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = '';
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromB64u(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export function randomBytes(length) {
  return globalThis.crypto.getRandomValues(new Uint8Array(length));
}

/* Identity keys and their backup ------------------------------------ */

/** A new identity: the private key as a non-extractable CryptoKey, its PKCS#8 (for the backup) and its public point. */
export async function generateIdentity() {
  const pair = await subtle.generateKey(ECDH, true, ['deriveBits']);
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey));
  const publicKey = b64u(await subtle.exportKey('raw', pair.publicKey));
  return { privateKey: await importIdentity(pkcs8), publicKey, pkcs8 };
}

/** A PKCS#8 private key, imported so that it can never be read back. */
export function importIdentity(pkcs8) {
  return subtle.importKey('pkcs8', pkcs8, ECDH, false, ['deriveBits']);
}

/** The 32 bytes PBKDF2-SHA256 derives from a passphrase. */
export async function backupKeyBytes(passphrase, salt, iterations) {
  const base = await subtle.importKey('raw', encoder.encode(passphrase), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, base, 256));
}

async function backupKey(passphrase, salt, iterations) {
  const bytes = await backupKeyBytes(passphrase, salt, iterations);
  return subtle.importKey('raw', bytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

/** `PUT /keys`'s backup: the PKCS#8 key sealed under the passphrase, bound to the user. */
export async function sealBackup(pkcs8, userId, passphrase,
  { iterations = MIN_ITERATIONS, salt = randomBytes(16), iv = randomBytes(12) } = {}) {
  const key = await backupKey(passphrase, salt, iterations);
  const ciphertext = await subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(`chat-key-backup/v1|${userId}`) }, key, pkcs8);
  return { salt: b64u(salt), iterations, iv: b64u(iv), ciphertext: b64u(ciphertext) };
}

/** The PKCS#8 key a backup holds; throws when the passphrase is wrong. */
export async function openBackup(backup, userId, passphrase) {
  const key = await backupKey(passphrase, fromB64u(backup.salt), backup.iterations);
  const pkcs8 = await subtle.decrypt(
    { name: 'AES-GCM', iv: fromB64u(backup.iv), additionalData: encoder.encode(`chat-key-backup/v1|${userId}`) },
    key, fromB64u(backup.ciphertext));
  return new Uint8Array(pkcs8);
}

/* Room keys in envelopes --------------------------------------------- */

export function importPublicKey(text) {
  return subtle.importKey('raw', fromB64u(text), ECDH, true, []);
}

/** ECDH's shared x coordinate of a private and a public key. */
export async function sharedSecret(privateKey, publicKey) {
  return new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: publicKey }, privateKey, 256));
}

/** The key that wraps a room key for one recipient at one epoch of one room. */
export async function envelopeKek(shared, roomId, epoch, recipientId, usages = ['wrapKey', 'unwrapKey']) {
  const base = await subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey', 'deriveBits']);
  const info = encoder.encode(`chat-room-key/v1|${roomId}|${epoch}|${recipientId}`);
  return subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info },
    base, { name: 'AES-KW', length: 256 }, false, usages);
}

/** The HKDF output itself (for the known-answer check). */
export async function envelopeKekBytes(shared, roomId, epoch, recipientId) {
  const base = await subtle.importKey('raw', shared, 'HKDF', false, ['deriveBits']);
  const info = encoder.encode(`chat-room-key/v1|${roomId}|${epoch}|${recipientId}`);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info }, base, 256));
}

/** A fresh room (or file) key: AES-256-GCM, extractable so it can be wrapped for others. */
export function newRoomKey() {
  return subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
}

export function importRoomKey(bytes) {
  return subtle.importKey('raw', bytes, 'AES-GCM', true, ['encrypt', 'decrypt']);
}

/**
 * An envelope of `roomKey` for `recipient` ({username, userId, publicKey}),
 * with a fresh ephemeral key pair (or `ephemeral`, a {privateKey, publicKey}).
 */
export async function wrapRoomKey(roomKey, roomId, epoch, recipient, ephemeral = null) {
  let pair = ephemeral;
  if (!pair) {
    const made = await subtle.generateKey(ECDH, false, ['deriveBits']);
    pair = { privateKey: made.privateKey, publicKey: b64u(await subtle.exportKey('raw', made.publicKey)) };
  }
  const shared = await sharedSecret(pair.privateKey, await importPublicKey(recipient.publicKey));
  const kek = await envelopeKek(shared, roomId, epoch, recipient.userId);
  const wrapped = await subtle.wrapKey('raw', roomKey, kek, 'AES-KW');
  return { recipient: recipient.username, ephemeral_public_key: pair.publicKey, wrapped_key: b64u(wrapped) };
}

/** The room key an envelope addressed to `myId` carries. */
export async function unwrapRoomKey(privateKey, envelope, roomId, myId) {
  const shared = await sharedSecret(privateKey, await importPublicKey(envelope.ephemeral_public_key));
  const kek = await envelopeKek(shared, roomId, envelope.epoch, myId);
  return subtle.unwrapKey('raw', fromB64u(envelope.wrapped_key), kek, 'AES-KW',
    { name: 'AES-GCM' }, true, ['encrypt', 'decrypt']);
}

/* Messages and files ------------------------------------------------- */

export function messageAad(roomId, epoch, senderId, editOf = null) {
  return `chat-msg/v1|${roomId}|${epoch}|${senderId}${editOf ? `|${editOf}` : ''}`;
}

/** The `encrypted` object of a message (or, with `editOf`, an edit). */
export async function sealMessage(roomKey, roomId, epoch, senderId, plaintext,
  { editOf = null, iv = randomBytes(12) } = {}) {
  const text = typeof plaintext === 'string' ? plaintext : JSON.stringify(plaintext);
  const ciphertext = await subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(messageAad(roomId, epoch, senderId, editOf)) },
    roomKey, encoder.encode(text));
  return { epoch, iv: b64u(iv), ciphertext: b64u(ciphertext) };
}

/** The plaintext object of a sealed message; throws when it does not open. */
export async function openMessage(roomKey, roomId, senderId, sealed, editOf = null) {
  const plaintext = await subtle.decrypt(
    { name: 'AES-GCM', iv: fromB64u(sealed.iv),
      additionalData: encoder.encode(messageAad(roomId, sealed.epoch, senderId, editOf)) },
    roomKey, fromB64u(sealed.ciphertext));
  const value = JSON.parse(decoder.decode(plaintext));
  if (!value || typeof value !== 'object' || typeof value.content !== 'string') throw new Error('not a sealed message');
  return value;
}

/** A file sealed with a fresh key and iv: the bytes to upload, and what its message names. */
export async function sealFile(bytes, { key = null, iv = randomBytes(12) } = {}) {
  const fileKey = key || await newRoomKey();
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, fileKey, bytes));
  return { ciphertext, key: b64u(await subtle.exportKey('raw', fileKey)), iv: b64u(iv) };
}

export async function openFile(bytes, key, iv) {
  const fileKey = await subtle.importKey('raw', fromB64u(key), 'AES-GCM', false, ['decrypt']);
  return subtle.decrypt({ name: 'AES-GCM', iv: fromB64u(iv) }, fileKey, bytes);
}
