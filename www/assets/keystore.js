/**
 * Where this browser keeps each user's identity key: IndexedDB, as a
 * non-extractable CryptoKey (the page can use it, never read it out), with
 * its public point to tell whether it is still the account's current key.
 */

const DB_NAME = 'chat-keys';
const STORE = 'identities';

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function run(mode, work) {
  return openDb().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(request.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  }));
}

/** {privateKey, publicKey} of `userId` in this browser, or undefined. */
export function loadIdentity(userId) {
  return run('readonly', (store) => store.get(userId));
}

export function saveIdentity(userId, identity) {
  return run('readwrite', (store) => store.put({ privateKey: identity.privateKey, publicKey: identity.publicKey }, userId));
}
