/**
 * Messages typed and not yet acknowledged, kept in IndexedDB: a reload, a
 * closed tab or a crash loses none. They are shown pending when their room
 * opens and sent again by the same client_id, which the server stores once.
 * One leaves the outbox when the server acknowledges or refuses it.
 */

const DB_NAME = 'chat-outbox';
const STORE = 'messages';

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'clientId' });
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

/** Keeps `entry` ({clientId, roomId, userId, content, replyTo, plaintext, attachmentIds, at}). */
export function keep(entry) {
  return run('readwrite', (store) => store.put(entry)).catch(() => {});
}

/** Forgets the message with `clientId` (acknowledged or refused). */
export function drop(clientId) {
  return run('readwrite', (store) => store.delete(clientId)).catch(() => {});
}

/** What `userId` left unsent in `roomId`, oldest first. */
export async function waiting(roomId, userId) {
  const all = await run('readonly', (store) => store.getAll()).catch(() => []);
  return all.filter((e) => e.roomId === roomId && e.userId === userId).sort((a, b) => a.at - b.at);
}
