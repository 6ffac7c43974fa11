/** Files: shown under their message; attached, dropped or pasted, and uploaded with progress. */

import { ApiError } from './api.js';
import { addPending, showChatError } from './composer.js';
import { h, newClientId, setText } from './dom.js';
import { sealUpload } from './encryption.js';
import { imageButton } from './lightbox.js';
import { receiveMessage } from './history.js';
import { isCurrent } from './rooms.js';
import { API_BASE, INLINE_IMAGE_TYPES, state, ui } from './state.js';

/** A message's files: images inline at their own aspect ratio (a click shows them full size), others as links. */
export function renderAttachments(attachments) {
  if (!Array.isArray(attachments) || attachments.length === 0) return null;
  return h('ul', { class: 'attachments', 'data-testid': 'attachments' }, ...attachments.map((file) => {
    const url = typeof file.url === 'string' && file.url.startsWith(`${API_BASE}/attachments/`) ? file.url : null;
    if (!url) return null;
    const name = String(file.filename ?? 'file');
    if (INLINE_IMAGE_TYPES.includes(file.content_type)) {
      return h('li', { class: 'attachment is-image' }, imageButton(url, name));
    }
    return h('li', { class: 'attachment' },
      h('a', { href: url, download: name, 'data-testid': 'attachment-link' }, name),
      h('span', { class: 'attachment-size', text: ` (${formatSize(Number(file.size) || 0)})` }));
  }));
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}


/** The largest file this server takes (0: not said), from the page's meta tag. */
function uploadLimit() {
  const meta = document.querySelector('meta[name="max-upload-bytes"]');
  return Number(meta && meta.content) || 0;
}

/** Files over the server's limit, said in MiB before any byte is sent; true when all fit. */
function checkSizes(files, sealed) {
  const limit = uploadLimit();
  // A sealed file is its bytes and a 16-byte tag.
  const over = files.filter((file) => limit && file.size + (sealed ? 16 : 0) > limit);
  if (over.length === 0) return true;
  const mib = (bytes) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  showChatError(over.map((file) => `${file.name} is ${mib(file.size)}: files can be at most ${mib(limit)}.`).join(' '));
  return false;
}

export async function uploadFiles(files) {
  const room = state.room;
  if (!room || room.closed || files.length === 0) return;
  if (!checkSizes([...files], room.encrypted)) return;
  const caption = ui.messageInput.value.trim();
  ui.messageInput.value = '';
  setText(ui.chatError, '');
  if (room.encrypted) {
    await uploadSealed(room, [...files], caption);
    return;
  }
  for (const [index, file] of [...files].entries()) {
    try {
      const message = await uploadFile(room, file, index === 0 ? caption : '');
      if (isCurrent(room)) receiveMessage(room, message);
    } catch (err) {
      showChatError(`${file.name}: ${err.message}`);
      if (index === 0 && caption && !ui.messageInput.value) ui.messageInput.value = caption;
      break;
    }
  }
}

/**
 * An encrypted room's files: each sealed with a key of its own and uploaded
 * without a name, then one sealed message that names them (with their keys
 * inside), sent like any other.
 */
async function uploadSealed(room, files, caption) {
  const shown = [];
  for (const file of files) {
    try {
      const sealed = await sealUpload(file);
      const stored = await uploadFile(room, file, '', sealed.body);
      shown.push(sealed.describe(stored.id));
    } catch (err) {
      showChatError(`${file.name}: ${err.message}`);
      break;
    }
  }
  if (!shown.length) {
    if (caption && !ui.messageInput.value) ui.messageInput.value = caption;
    return;
  }
  if (!isCurrent(room)) return;
  const plaintext = { content: caption, attachments: shown };
  addPending(room, newClientId(), caption || shown.map((file) => file.filename).join(', '), null,
    plaintext, shown.map((file) => file.id));
}

/**
 * POSTs one file (or, in an encrypted room, `sealed`: its ciphertext, with
 * no name); XMLHttpRequest because fetch reports no upload progress.
 */
export function uploadFile(room, file, caption, sealed = null) {
  const query = sealed
    ? new URLSearchParams({ encrypted: 'true' })
    : new URLSearchParams({ filename: file.name || 'pasted', client_id: newClientId() });
  if (caption) query.set('caption', caption);
  ui.uploadName.textContent = file.name || 'pasted';
  ui.uploadProgress.value = 0;
  ui.uploadStatus.hidden = false;
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API_BASE}/chatrooms/${encodeURIComponent(room.id)}/attachments?${query}`);
    xhr.setRequestHeader('Content-Type', sealed ? 'application/octet-stream' : (file.type || 'application/octet-stream'));
    xhr.responseType = 'json';
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) ui.uploadProgress.value = event.loaded / event.total;
    };
    xhr.onload = () => {
      ui.uploadStatus.hidden = true;
      const data = xhr.response;
      if (xhr.status === 200 || xhr.status === 201) resolve(data);
      else reject(new ApiError(xhr.status, data && data.code, (data && data.error) || `Upload failed (HTTP ${xhr.status}).`));
    };
    xhr.onerror = () => {
      ui.uploadStatus.hidden = true;
      reject(new ApiError(0, 'NETWORK_ERROR', 'The upload could not reach the server.'));
    };
    xhr.send(sealed || file);
  });
}

export function onDragOver(event) {
  if (!state.room || !event.dataTransfer || ![...event.dataTransfer.types].includes('Files')) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = 'copy';
  ui.chatRoom.classList.add('is-dropping');
}

export function onDrop(event) {
  ui.chatRoom.classList.remove('is-dropping');
  if (!event.dataTransfer || event.dataTransfer.files.length === 0) return;
  event.preventDefault();
  uploadFiles(event.dataTransfer.files);
}

export function onPaste(event) {
  const files = event.clipboardData ? event.clipboardData.files : null;
  if (!files || files.length === 0) return;
  event.preventDefault();
  uploadFiles(files);
}
