/**
 * Where this browser keeps each user's identity key: IndexedDB, as a
 * non-extractable CryptoKey (the page can use it, never read it out), with
 * its public point to tell whether it is still the account's current key.
 */

import { storeOf } from './idb.js';

const run = storeOf('chat-keys', 'identities');

/** {privateKey, publicKey} of `userId` in this browser, or undefined. */
export function loadIdentity(userId) {
  return run('readonly', (store) => store.get(userId));
}

export function saveIdentity(userId, identity) {
  return run('readwrite', (store) => store.put({ privateKey: identity.privateKey, publicKey: identity.publicKey }, userId));
}
