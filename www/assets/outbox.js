/**
 * Messages typed and not yet acknowledged, kept in IndexedDB: a reload, a
 * closed tab or a crash loses none. They are shown pending when their room
 * opens and sent again by the same client_id, which the server stores once.
 * One leaves the outbox when the server acknowledges or refuses it.
 */

import { storeOf } from './idb.js';

const run = storeOf('chat-outbox', 'messages', { keyPath: 'clientId' });

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
