/** Changing messages: the message menu (reply, edit, delete), the edit form, and the frames that tell of changes. */

import { sendFrame, showChatError } from './composer.js';
import { h, linkify, sameUser, setText } from './dom.js';
import { decryptEdit, sealFor, sealedFilesOf } from './encryption.js';
import { pickReaction } from './reactions.js';
import { MAX_MESSAGE_LENGTH, state, ui } from './state.js';

const EXCERPT_CHARS = 100;

/** Whether the signed-in user owns the open room. */
function ownsRoom(room) {
  const info = state.rooms.find((r) => r.id === room.id);
  return Boolean(info && state.user && info.created_by === state.user.id);
}

function isMine(message) {
  return !message.is_bot && state.user && sameUser(message.username, state.user.username);
}

/** The menu of a stored message: reply, and edit or delete where the user may. */
export function messageMenu(message) {
  if (message.deleted) return null;
  const items = [h('button', {
    type: 'button', role: 'menuitem', 'data-testid': 'reply', text: 'Reply',
    onclick: (event) => {
      closeMenus();
      // The text as it reads now, edits included.
      const text = event.currentTarget.closest('li.message').querySelector('.message-content').textContent;
      startReply({ id: message.id, username: message.username, content: text });
    },
  })];
  items.push(h('button', {
    type: 'button', role: 'menuitem', 'data-testid': 'react', text: 'React…', 'aria-haspopup': 'dialog',
    onclick: (event) => {
      const toggle = event.currentTarget.closest('.message-actions').querySelector('.message-menu-button');
      closeMenus();
      pickReaction(message.id, toggle);
    },
  }));
  if (isMine(message)) {
    items.push(h('button', {
      type: 'button', role: 'menuitem', 'data-testid': 'edit', text: 'Edit',
      onclick: (event) => { closeMenus(); startEdit(event.currentTarget.closest('li.message')); },
    }));
  }
  const room = state.room;
  if (isMine(message) || (room && ownsRoom(room))) {
    items.push(h('button', {
      type: 'button', role: 'menuitem', 'data-testid': 'delete', text: 'Delete',
      onclick: (event) => { closeMenus(); confirmDelete(event.currentTarget.closest('li.message')); },
    }));
  }
  const menu = h('div', { class: 'message-menu', role: 'menu', 'aria-label': 'Message actions', hidden: true }, ...items);
  menu.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      closeMenus();
      menu.previousElementSibling.focus();
    }
  });
  const toggle = h('button', {
    type: 'button', class: 'message-menu-button', 'data-testid': 'message-menu',
    'aria-label': 'Message actions', 'aria-haspopup': 'menu', title: 'Reply, edit or delete', text: '⋯',
    'aria-expanded': 'false',
    onclick: (event) => {
      const open = menu.hidden;
      closeMenus();
      menu.hidden = !open;
      event.currentTarget.setAttribute('aria-expanded', String(open));
      if (open) menu.querySelector('button').focus();
    },
  });
  return h('div', { class: 'message-actions' }, toggle, menu);
}

function closeMenus() {
  for (const menu of ui.messages.querySelectorAll('.message-menu:not([hidden])')) {
    menu.hidden = true;
    menu.previousElementSibling.setAttribute('aria-expanded', 'false');
  }
}

/* Replies ------------------------------------------------------------ */

/** The composer answers `message` until sent or cancelled. */
export function startReply(message) {
  const excerpt = String(message.content ?? '').slice(0, EXCERPT_CHARS);
  state.replyTo = { id: message.id, username: message.username, excerpt };
  ui.replyPreview.replaceChildren(
    h('span', { class: 'reply-preview-text' }, 'Replying to ', h('strong', { text: message.username }), `: ${excerpt}`),
    h('button', {
      type: 'button', class: 'icon-btn', 'data-testid': 'cancel-reply', 'aria-label': 'Cancel the reply',
      text: '✕', onclick: cancelReply,
    }));
  ui.replyPreview.hidden = false;
  ui.messageInput.focus();
}

export function cancelReply() {
  state.replyTo = null;
  ui.replyPreview.replaceChildren();
  ui.replyPreview.hidden = true;
}

/* Editing ------------------------------------------------------------ */

/** Replace the message's text with a form that edits it (Enter saves, Escape cancels). */
export function startEdit(li) {
  if (!li || li.querySelector('.edit-form')) return;
  const content = li.querySelector('.message-content');
  const input = h('textarea', {
    class: 'edit-input', 'data-testid': 'edit-input', rows: 2, maxlength: MAX_MESSAGE_LENGTH,
    'aria-label': 'Edit your message',
  });
  input.value = content.textContent;
  const cancel = () => { form.remove(); content.hidden = false; };
  const save = () => {
    const text = input.value.trim();
    if (!text) return;
    if (text === content.textContent) {
      cancel();
      return;
    }
    const room = state.room;
    if (room && room.encrypted) {
      const files = sealedFilesOf(li);
      sealFor(room, files ? { content: text, attachments: files } : { content: text }, { editOf: li.dataset.id })
        .then((encrypted) => {
          if (!sendFrame(room, { type: 'edit', message_id: li.dataset.id, encrypted })) {
            showChatError('Not connected: the edit can be saved once the connection is back.');
          }
        })
        .catch((err) => showChatError(`The edit could not be encrypted: ${err.message}`));
    } else if (!sendFrame(room, { type: 'edit', message_id: li.dataset.id, content: text })) {
      showChatError('Not connected: the edit can be saved once the connection is back.');
      return;
    }
    cancel();
    li.querySelector('.message-menu-button')?.focus();
  };
  const form = h('form', { class: 'edit-form', novalidate: true, onsubmit: (event) => { event.preventDefault(); save(); } },
    input,
    h('div', { class: 'edit-buttons' },
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'save-edit', text: 'Save' }),
      h('button', { type: 'button', class: 'btn', 'data-testid': 'cancel-edit', text: 'Cancel', onclick: cancel }),
      h('span', { class: 'hint', text: 'Enter saves, Escape cancels' })));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); save(); }
    if (event.key === 'Escape') { event.preventDefault(); cancel(); ui.messageInput.focus(); }
  });
  content.hidden = true;
  content.after(form);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}

/** The up arrow in an empty composer edits the user's last message. */
export function onComposerKeydown(event) {
  if (event.key !== 'ArrowUp' || ui.messageInput.value !== '' || !state.room) return;
  const own = ui.messages.querySelectorAll('li.message.is-own[data-id]:not([data-deleted="true"])');
  if (own.length === 0) return;
  event.preventDefault();
  const last = own[own.length - 1];
  last.scrollIntoView({ block: 'nearest' });
  startEdit(last);
}

/* Deleting ----------------------------------------------------------- */

/** Ask before deleting, inside the message itself. */
export function confirmDelete(li) {
  if (!li || li.querySelector('.delete-confirm')) return;
  const id = li.dataset.id;
  const box = h('div', { class: 'delete-confirm', role: 'group', 'aria-label': 'Confirm the deletion' },
    h('span', { text: 'Delete this message for everyone?' }),
    h('button', {
      type: 'button', class: 'btn btn-danger', 'data-testid': 'confirm-delete', text: 'Delete',
      onclick: () => {
        if (!sendFrame(state.room, { type: 'delete', message_id: id })) {
          showChatError('Not connected: the message can be deleted once the connection is back.');
          return;
        }
        box.remove();
      },
    }),
    h('button', {
      type: 'button', class: 'btn', 'data-testid': 'cancel-delete', text: 'Cancel',
      onclick: () => { box.remove(); li.querySelector('.message-menu-button')?.focus(); },
    }));
  li.append(box);
  box.querySelector('[data-testid="cancel-delete"]').focus();
}

/* Frames ------------------------------------------------------------- */

/** `message_edited`: the new text and "(edited)"; quotes of it follow. */
export function onMessageEdited(room, frame) {
  const content = typeof frame.content === 'string' ? frame.content : '';
  const li = room.byId.get(frame.message_id);
  if (frame.encrypted && typeof frame.encrypted === 'object') {
    if (li && li.dataset.deleted !== 'true') {
      markEdited(li, frame.edited_at);
      decryptEdit(room, li, frame);
    }
    return;
  }
  if (li && li.dataset.deleted !== 'true') {
    li.querySelector('.message-content').replaceChildren(...linkify(content));
    markEdited(li, frame.edited_at);
    const me = state.user ? state.user.username : '';
    const mentioned = Array.isArray(frame.mentions) && frame.mentions.some((name) => sameUser(name, me));
    li.toggleAttribute('data-mentions-me', mentioned);
    if (mentioned) li.dataset.mentionsMe = 'true';
  }
  updateQuotes(frame.message_id, content.slice(0, EXCERPT_CHARS));
  if (state.replyTo && state.replyTo.id === frame.message_id) startReply({ id: frame.message_id, username: state.replyTo.username, content });
}

/** `message_deleted`: the message becomes a tombstone; quotes of it empty. */
export function onMessageDeleted(room, frame) {
  const li = room.byId.get(frame.message_id);
  if (li) makeTombstone(li);
  updateQuotes(frame.message_id, '');
  if (state.replyTo && state.replyTo.id === frame.message_id) cancelReply();
}

/** "(edited)" after the time, with when on hover. */
export function markEdited(li, editedAt) {
  const when = new Date(editedAt);
  const title = Number.isNaN(when.getTime()) ? 'edited' : `edited ${when.toLocaleString()}`;
  let mark = li.querySelector('.message-edited');
  if (!mark) {
    mark = h('span', { class: 'message-edited', 'data-testid': 'edited', text: '(edited)' });
    li.querySelector('.message-time').after(mark);
  }
  mark.title = title;
}

/** What is left of a deleted message: its place and a sentence. */
export function makeTombstone(li) {
  li.dataset.deleted = 'true';
  li.classList.add('is-deleted');
  li.removeAttribute('data-mentions-me');
  for (const part of li.querySelectorAll(':scope > :not(.message-meta):not(.message-content)')) part.remove();
  li.querySelector('.message-edited')?.remove();
  li.querySelector('.message-actions')?.remove();
  li.querySelector('.edit-form')?.remove();
  const content = li.querySelector('.message-content');
  content.hidden = false;
  content.textContent = 'This message was deleted';
}

function updateQuotes(id, excerpt) {
  for (const quote of ui.messages.querySelectorAll(`.reply-quote[data-reply-to="${CSS.escape(id)}"]`)) {
    const text = quote.querySelector('.reply-excerpt');
    text.textContent = excerpt || 'deleted message';
    quote.classList.toggle('is-gone', !excerpt);
  }
}

export function resetEdits() {
  cancelReply();
  setText(ui.chatError, '');
}
