/** The views (boot, sign-in, the app) and signing in, up and out. */

import { api } from './api.js';
import { setText } from './dom.js';
import { forgetKeys } from './encryption.js';
import { closeNotifier, openNotifier, renderNotifyButton, renderTitle } from './notifications.js';
import {
  closeRoom,
  loadRooms,
  openRoomFromHash,
  resetChatView,
  startRoomsRefresh,
  stopRoomsRefresh,
} from './rooms.js';
import { state, ui } from './state.js';

export function showView(name) {
  ui.boot.hidden = true;
  ui.authView.hidden = name !== 'auth';
  ui.appView.hidden = name !== 'app';
}

/** Show the login form; `notice` is an info line, `error` an error line. */
export function showAuth({ error = '', notice = '' } = {}) {
  closeRoom();
  stopRoomsRefresh();
  closeNotifier();
  state.unread.clear();
  renderTitle();
  forgetKeys();
  state.user = null;
  state.rooms = [];
  ui.roomList.replaceChildren();
  resetChatView();
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  ui.password.value = '';
  setText(ui.authError, error);
  setText(ui.authNotice, notice);
  showView('auth');
  ui.username.focus();
}

export function enterApp(user) {
  state.user = user;
  ui.currentUser.textContent = user.username;
  setText(ui.authError, '');
  setText(ui.authNotice, '');
  ui.password.value = '';
  resetChatView();
  showView('app');
  renderNotifyButton();
  openNotifier();
  startRoomsRefresh();
  // Focus moves into the app rather than staying on the hidden form.
  ui.searchInput.focus();
  loadRooms().then(openRoomFromHash);
}

/** If an API error means "not signed in", go to the login form. */
export function handleAuthLoss(err) {
  if (err && err.status === 401) {
    showAuth({ error: 'Your session has ended. Please log in again.' });
    return true;
  }
  return false;
}

/* ------------------------------------------------------------------ */
/* Authentication                                                      */
/* ------------------------------------------------------------------ */

export function readCredentials() {
  const username = ui.username.value.trim();
  const password = ui.password.value;
  ui.username.removeAttribute('aria-invalid');
  ui.password.removeAttribute('aria-invalid');
  if (!username) {
    ui.username.setAttribute('aria-invalid', 'true');
    setText(ui.authError, 'Enter a username.');
    ui.username.focus();
    return null;
  }
  if (!password) {
    ui.password.setAttribute('aria-invalid', 'true');
    setText(ui.authError, 'Enter a password.');
    ui.password.focus();
    return null;
  }
  return { username, password };
}

export function describeAuthError(err) {
  if (err.code === 'RATE_LIMITED' && err.retryAfter && /^\d+$/.test(err.retryAfter)) {
    return `${err.message} Try again in ${err.retryAfter} s.`;
  }
  return err.message;
}

export function setAuthBusy(busy) {
  ui.loginButton.disabled = busy;
  ui.registerButton.disabled = busy;
  ui.authForm.setAttribute('aria-busy', busy ? 'true' : 'false');
}

export async function login(credentials) {
  const result = await api('/auth/login', { method: 'POST', body: credentials });
  enterApp(result.user);
}

export async function onLoginSubmit(event) {
  event.preventDefault();
  const credentials = readCredentials();
  if (!credentials) return;
  setText(ui.authError, '');
  setText(ui.authNotice, '');
  setAuthBusy(true);
  try {
    await login(credentials);
  } catch (err) {
    setText(ui.authError, describeAuthError(err));
  } finally {
    setAuthBusy(false);
  }
}

export async function onRegisterClick() {
  const credentials = readCredentials();
  if (!credentials) return;
  setText(ui.authError, '');
  setText(ui.authNotice, '');
  setAuthBusy(true);
  try {
    await api('/auth/register', { method: 'POST', body: credentials });
  } catch (err) {
    setText(ui.authError, describeAuthError(err));
    setAuthBusy(false);
    return;
  }
  try {
    await login(credentials);
  } catch (err) {
    setText(ui.authError, `Your account was created, but logging in failed: ${describeAuthError(err)}`);
  } finally {
    setAuthBusy(false);
  }
}

export async function onLogoutClick() {
  ui.logoutButton.disabled = true;
  closeRoom();
  closeNotifier();
  state.unread.clear();
  renderTitle();
  try {
    await api('/auth/logout', { method: 'POST' });
  } catch {
    // 401: already logged out; a network error: the cookie stays, but we leave anyway.
  }
  ui.logoutButton.disabled = false;
  showAuth({ notice: 'You have logged out.' });
}
