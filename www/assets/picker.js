/**
 * The reaction picker: one dialog for the page, opened beside a message's ☺+
 * (or its menu's "React"), kept on screen; a search box filters the emoji by
 * name; arrow keys move between them; Escape or a click outside closes it,
 * and the focus goes back to what opened it.
 */

import { h } from './dom.js';

/** Emoji one click away, each with the words a search finds it by. */
const CHOICES = [
  ['👍', 'thumbs up yes like agree'], ['👎', 'thumbs down no dislike'], ['❤️', 'heart love red'],
  ['😂', 'joy laugh tears funny lol'], ['🎉', 'party tada celebrate congrats'], ['😮', 'wow surprised open mouth'],
  ['😢', 'sad cry tear'], ['👀', 'eyes look watching'], ['🙏', 'pray thanks please'],
  ['🔥', 'fire hot lit'], ['✅', 'check done yes ok'], ['❌', 'cross no wrong'],
  ['👏', 'clap applause bravo'], ['🙌', 'hands raised hooray'], ['😄', 'smile happy grin'],
  ['😅', 'sweat smile phew'], ['😍', 'heart eyes love'], ['🤔', 'thinking hmm'],
  ['😎', 'cool sunglasses'], ['😴', 'sleep tired zzz'], ['😡', 'angry mad'],
  ['🤯', 'mind blown exploding'], ['🥳', 'party face celebrate'], ['🤝', 'handshake deal agree'],
  ['💯', 'hundred perfect score'], ['🚀', 'rocket launch ship fast'], ['⭐', 'star favourite'],
  ['💡', 'idea bulb light'], ['📈', 'chart up stocks rise'], ['📉', 'chart down stocks fall'],
  ['💰', 'money bag cash'], ['☕', 'coffee break'], ['🍕', 'pizza food'],
  ['🎯', 'target bullseye goal'], ['⚠️', 'warning caution'], ['❓', 'question'],
  ['👋', 'wave hello bye'], ['💪', 'strong muscle flex'], ['🤞', 'fingers crossed luck'],
  ['😬', 'grimace awkward'], ['🙈', 'see no evil monkey oops'], ['✨', 'sparkles shiny new'],
];
const COLUMNS = 8;

let menu = null;
let opener = null;
let onPick = null;

function build() {
  const search = h('input', {
    type: 'search', class: 'picker-search', 'data-testid': 'reaction-search',
    placeholder: 'Search emoji', 'aria-label': 'Search emoji', autocomplete: 'off',
  });
  const grid = h('div', { class: 'picker-grid', role: 'group', 'aria-label': 'Emoji' },
    ...CHOICES.map(([emoji, words]) => h('button', {
      type: 'button', class: 'reaction-choice', 'data-testid': 'reaction-choice',
      'data-emoji': emoji, 'data-words': words, 'aria-label': `React with ${emoji} (${words.split(' ')[0]})`,
      title: words.split(' ')[0], text: emoji, tabindex: '-1',
    })));
  menu = h('div', { class: 'reaction-picker', role: 'dialog', 'aria-label': 'Pick a reaction', 'data-testid': 'reaction-picker', hidden: true },
    search, grid);
  grid.addEventListener('click', (event) => {
    const choice = event.target.closest('.reaction-choice');
    if (!choice) return;
    const pick = onPick;
    closePicker();
    if (pick) pick(choice.dataset.emoji);
  });
  search.addEventListener('input', () => {
    const words = search.value.trim().toLowerCase();
    for (const choice of grid.children) {
      choice.hidden = Boolean(words) && !choice.dataset.words.includes(words) && choice.dataset.emoji !== words;
    }
  });
  menu.addEventListener('keydown', onKey);
  document.body.append(menu);
}

function visibleChoices() {
  return [...menu.querySelectorAll('.reaction-choice:not([hidden])')];
}

function onKey(event) {
  if (event.key === 'Escape') {
    event.preventDefault();
    closePicker();
    return;
  }
  const choices = visibleChoices();
  const at = choices.indexOf(document.activeElement);
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS };
  if (!(event.key in moves) || choices.length === 0) return;
  if (at < 0 && event.key !== 'ArrowDown') return; // in the search box, arrows edit the text
  event.preventDefault();
  const next = at < 0 ? 0 : Math.min(choices.length - 1, Math.max(0, at + moves[event.key]));
  choices[next].focus();
}

function onOutside(event) {
  if (menu && !menu.hidden && !menu.contains(event.target) && event.target !== opener) closePicker();
}

/** Opens the picker beside `anchor`; `pick(emoji)` is called with the choice. */
export function openPicker(anchor, pick) {
  if (!menu) build();
  if (!menu.hidden && opener === anchor) {
    closePicker();
    return;
  }
  opener = anchor;
  onPick = pick;
  anchor.setAttribute('aria-expanded', 'true');
  const search = menu.querySelector('.picker-search');
  search.value = '';
  for (const choice of menu.querySelectorAll('.reaction-choice')) choice.hidden = false;
  menu.hidden = false;
  // Fixed to the window, beside the anchor, and inside the window.
  const at = anchor.getBoundingClientRect();
  const size = menu.getBoundingClientRect();
  const left = Math.max(8, Math.min(at.left, innerWidth - size.width - 8));
  const below = at.bottom + 4 + size.height <= innerHeight;
  const top = below ? at.bottom + 4 : Math.max(8, at.top - size.height - 4);
  menu.style.setProperty('left', `${left}px`);
  menu.style.setProperty('top', `${top}px`);
  search.focus();
  document.addEventListener('pointerdown', onOutside, true);
}

export function closePicker() {
  if (!menu || menu.hidden) return;
  menu.hidden = true;
  document.removeEventListener('pointerdown', onOutside, true);
  const back = opener;
  opener = null;
  onPick = null;
  if (back) {
    back.setAttribute('aria-expanded', 'false');
    if (back.isConnected) back.focus();
  }
}
