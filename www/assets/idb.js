/** IndexedDB in one function: a database with one object store, one request per transaction. */

/**
 * `run(mode, work)` for the store `storeName` of the database `dbName`
 * (made with `options` on first use): `work(store)` makes one request, whose
 * result the promise gives once the transaction is done.
 */
export function storeOf(dbName, storeName, options = undefined) {
  const open = () => new Promise((resolve, reject) => {
    const request = indexedDB.open(dbName, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(storeName, options);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return (mode, work) => open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const request = work(tx.objectStore(storeName));
    tx.oncomplete = () => { db.close(); resolve(request.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  }));
}
