/** An image at full size in a modal dialog: Escape (or the close button) closes it, and focus goes back to the image that opened it. */

import { h } from './dom.js';

let dialog = null;
let opener = null;

function ensureDialog() {
  if (dialog) return dialog;
  const image = h('img', { class: 'lightbox-image', 'data-testid': 'lightbox-image', alt: '' });
  const caption = h('p', { class: 'lightbox-caption', id: 'lightbox-caption' });
  const download = h('a', { class: 'btn', 'data-testid': 'lightbox-download', text: 'Download' });
  const close = h('button', {
    type: 'button', class: 'btn btn-primary', 'data-testid': 'lightbox-close', text: 'Close',
    onclick: () => dialog.close(),
  });
  dialog = h('dialog', { class: 'lightbox', 'data-testid': 'lightbox', 'aria-labelledby': 'lightbox-caption' },
    image, h('div', { class: 'lightbox-bar' }, caption, download, close));
  // A click on the backdrop (the dialog itself, outside its content) closes it.
  dialog.addEventListener('click', (event) => { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener('close', () => {
    image.removeAttribute('src');
    if (opener && opener.isConnected) opener.focus();
    opener = null;
  });
  document.body.append(dialog);
  return dialog;
}

/** Shows `src` (named `name`) over the page; `from` gets the focus back. */
export function openLightbox(src, name, from) {
  const box = ensureDialog();
  opener = from;
  const image = box.querySelector('.lightbox-image');
  image.src = src;
  image.alt = name;
  box.querySelector('.lightbox-caption').textContent = name;
  const download = box.querySelector('[data-testid="lightbox-download"]');
  download.href = src;
  download.download = name;
  box.showModal();
  box.querySelector('[data-testid="lightbox-close"]').focus();
}

/** An image of a message: its own aspect ratio within a box, never enlarged; a click shows it full size. */
export function imageButton(src, name) {
  const button = h('button', {
    type: 'button', class: 'attachment-open', 'aria-label': `Show ${name} full size`,
    onclick: (event) => openLightbox(src, name, event.currentTarget),
  }, h('img', { src, alt: name, loading: 'lazy', decoding: 'async', class: 'attachment-image', 'data-testid': 'attachment-image' }));
  return button;
}
