/** Members: the open room's members panel (add, remove as owner, leave), what
 * the room hears of member changes, and "Message" on a person's name, which
 * opens the direct room of the two. */

import { api } from './api.js';
import { handleAuthLoss } from './auth.js';
import { forgetMembers } from './autocomplete.js';
import { h, sameUser, setText } from './dom.js';
import { shareWithMissing } from './encryption.js';
import { addRoom, dropRoom, isCurrent, openRoom } from './rooms.js';
import { state, ui } from './state.js';

/** Shows or hides the open room's members panel. */
export function toggleMembersPanel() {
  const room = state.room;
  if (!room) return;
  const open = ui.membersPanel.hidden;
  ui.membersPanel.hidden = !open;
  ui.membersButton.setAttribute('aria-expanded', String(open));
  if (open) {
    loadMembers(room);
    ui.addMemberName.focus();
  }
}

/** Closes the panel (another room opened, or this one gone). */
export function resetMembersPanel() {
  ui.membersPanel.hidden = true;
  ui.membersButton.setAttribute('aria-expanded', 'false');
  ui.memberList.replaceChildren();
  setText(ui.membersError, '');
  setText(ui.memberNotice, '');
}

async function loadMembers(room) {
  try {
    const data = await api(`/chatrooms/${encodeURIComponent(room.id)}/members`);
    if (!isCurrent(room)) return;
    renderMembers(room, Array.isArray(data && data.members) ? data.members : []);
  } catch (err) {
    if (isCurrent(room) && !handleAuthLoss(err)) setText(ui.membersError, err.message);
  }
}

function renderMembers(room, members) {
  const me = state.user ? state.user.username : '';
  const mine = members.find((m) => sameUser(m.username, me));
  const owner = mine && mine.role === 'owner';
  const info = state.rooms.find((r) => r.id === room.id);
  const direct = info && info.kind === 'direct';
  ui.memberList.replaceChildren(...members.map((m) => h('li', {
    class: 'member', 'data-testid': 'member', 'data-username': m.username,
  },
  h('span', { class: 'member-name', text: m.username }),
  m.role === 'owner' ? h('span', { class: 'badge', text: 'owner' }) : null,
  owner && !direct && !sameUser(m.username, me)
    ? h('button', {
      type: 'button',
      class: 'btn btn-ghost btn-small',
      'data-testid': 'member-remove',
      'aria-label': `Remove ${m.username} from the room`,
      onclick: () => removeMember(room, m.username),
    }, 'Remove')
    : null)));
  ui.addMemberForm.hidden = direct;
  ui.leaveRoom.hidden = direct;
}

/** The add form: any member adds anyone by name. */
export async function onAddMemberSubmit(event) {
  event.preventDefault();
  const room = state.room;
  const username = ui.addMemberName.value.trim();
  setText(ui.membersError, '');
  if (!room || !username) return;
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/members`, { method: 'POST', body: { username } });
    ui.addMemberName.value = '';
    if (isCurrent(room)) loadMembers(room);
  } catch (err) {
    if (!handleAuthLoss(err) && isCurrent(room)) {
      setText(ui.membersError, err.code === 'USER_NOT_FOUND' ? `Nobody is called ${username}.` : err.message);
    }
  }
}

async function removeMember(room, username) {
  setText(ui.membersError, '');
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/members/${encodeURIComponent(username)}`, { method: 'DELETE' });
    if (isCurrent(room)) loadMembers(room);
  } catch (err) {
    if (!handleAuthLoss(err) && isCurrent(room)) setText(ui.membersError, err.message);
  }
}

/** Leaves the open room, after asking. */
export async function onLeaveClick() {
  const room = state.room;
  if (!room || !state.user) return;
  if (!window.confirm(`Leave ${room.name}?`)) return;
  room.leaving = true;
  try {
    await api(`/chatrooms/${encodeURIComponent(room.id)}/members/${encodeURIComponent(state.user.username)}`, { method: 'DELETE' });
    dropRoom(room.id, 'You left the room.');
  } catch (err) {
    room.leaving = false;
    if (!handleAuthLoss(err) && isCurrent(room)) setText(ui.membersError, err.message);
  }
}

/** A `member_added` or `member_removed` frame: said in the room, and the panel follows. */
export function onMemberFrame(room, frame) {
  const who = String(frame.username || '');
  const by = String(frame.by || '');
  let text;
  if (frame.type === 'member_added') text = `${who} was added by ${by}.`;
  else text = sameUser(who, by) ? `${who} left the room.` : `${who} was removed by ${by}.`;
  setText(ui.memberNotice, text);
  forgetMembers(room.id);
  if (!ui.membersPanel.hidden) loadMembers(room);
  // The newcomer needs the room key; any member who holds it sends it.
  if (room.encrypted && frame.type === 'member_added') shareWithMissing(room).catch(() => {});
}

/* ------------------------------------------------------------------ */
/* A person's name: "Message" opens the direct room of the two          */
/* ------------------------------------------------------------------ */

let openMenu = null;

/** A button showing `name` that offers "Message" (not for oneself or the bot). */
export function personButton(name, className) {
  return h('button', {
    type: 'button',
    class: `person ${className}`,
    'data-testid': 'person',
    'data-username': name,
    'aria-haspopup': 'menu',
    onclick: (event) => showPersonMenu(name, event.currentTarget),
  }, name);
}

function showPersonMenu(name, anchor) {
  closePersonMenu();
  const menu = h('div', { class: 'person-menu', role: 'menu', 'data-testid': 'person-menu' },
    h('button', {
      type: 'button',
      role: 'menuitem',
      class: 'btn btn-ghost',
      'data-testid': 'message-person',
      onclick: () => { closePersonMenu(); openDirect(name); },
    }, `Message ${name}`));
  anchor.after(menu);
  anchor.setAttribute('aria-expanded', 'true');
  openMenu = { menu, anchor };
  menu.querySelector('button').focus();
  setTimeout(() => document.addEventListener('click', onOutsideClick), 0);
  document.addEventListener('keydown', onMenuKey);
}

function closePersonMenu() {
  if (!openMenu) return;
  openMenu.menu.remove();
  openMenu.anchor.setAttribute('aria-expanded', 'false');
  openMenu = null;
  document.removeEventListener('click', onOutsideClick);
  document.removeEventListener('keydown', onMenuKey);
}

function onOutsideClick(event) {
  if (openMenu && !openMenu.menu.contains(event.target)) closePersonMenu();
}

function onMenuKey(event) {
  if (event.key !== 'Escape' || !openMenu) return;
  const { anchor } = openMenu;
  closePersonMenu();
  anchor.focus();
}

/** The "Message a username" form of the direct messages. */
export function onDirectSubmit(event) {
  event.preventDefault();
  const name = ui.directName.value.trim();
  if (!name) return;
  ui.directName.value = '';
  openDirect(name);
}

/** Opens (making it on first use) the direct room with `username`. */
export async function openDirect(username) {
  try {
    const room = await api('/direct', { method: 'POST', body: { username } });
    addRoom(room);
    openRoom(room);
  } catch (err) {
    if (!handleAuthLoss(err)) setText(ui.roomError, `Could not message ${username}: ${err.message}`);
  }
}
