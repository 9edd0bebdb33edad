// The account page's recovery flows: "Forgot password?", the reset form a mailed link opens,
// email verification (the banner with resend, the link), change of email, and sign-in links.
// Links carry their token in the URL fragment (#reset=…), which the browser never sends to a
// server or in a Referer; the page reads it once and removes it from the address bar at once.
import { TokenstileProblem, type TokenstileClient } from '../src/client/index.ts';

/** What the page lends this module: its status line and its signed-out view. */
export interface RecoveryPage {
  say(message: string, warn?: boolean): void;
  showSignedOut(message?: string, warn?: boolean): void;
}

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
}

function messageOf(err: unknown): string {
  if (err instanceof TokenstileProblem) {
    if (err.code === 'too_many_requests') return 'Too many requests. Wait a moment and try again.';
    if (err.code === 'invalid_code') return 'This link is not valid any more: it was used, replaced by a newer one, or it expired. Ask for a new one.';
    return err.detail;
  }
  return 'The server could not be reached. Check your connection and try again.';
}

/** Runs a form's action with its button disabled; errors go to `errorEl`. */
function onSubmit(formId: string, errorId: string, action: (form: HTMLFormElement) => Promise<void>): void {
  const form = $<HTMLFormElement>(formId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector<HTMLButtonElement>('button[type="submit"]');
    const errorEl = $(errorId);
    errorEl.textContent = '';
    if (button) button.disabled = true;
    void action(form)
      .catch((err: unknown) => {
        errorEl.textContent = messageOf(err);
      })
      .finally(() => {
        if (button) button.disabled = false;
      });
  });
}

function value(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement).value;
}

/** Shows one panel in place of the others, focusing its first field. */
function toggle(panel: HTMLElement, open: boolean, opener?: HTMLElement): void {
  panel.hidden = !open;
  if (open) panel.querySelector<HTMLInputElement>('input')?.focus();
  else opener?.focus();
  opener?.setAttribute('aria-expanded', String(open));
}

/** The verification banner: shown while the signed-in user's email is not verified. */
async function refreshBanner(auth: TokenstileClient): Promise<void> {
  try {
    const me = await auth.request<{ email: string; emailVerified?: boolean }>('/auth/me');
    $('verify-banner').hidden = me.emailVerified !== false;
    $('verify-banner-email').textContent = me.email;
  } catch {
    $('verify-banner').hidden = true;
  }
}

/** Takes the token of a mailed link out of the fragment (and the address bar); null when there is none. */
function linkInUrl(): { action: string; token: string } | null {
  const match = /^#(reset|verify|email-change|magic)=([A-Za-z0-9_-]{1,256})$/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, '', location.pathname + location.search);
  return { action: match[1]!, token: match[2]! };
}

/**
 * Wires the recovery forms, and acts on a mailed link in the URL. True when the link took over the
 * page (the reset form, or a sign-in by link); false when the page should start as usual.
 */
export async function setUpRecovery(auth: TokenstileClient, page: RecoveryPage): Promise<boolean> {
  const forgotPanel = $('forgot-panel');
  const resendPanel = $('resend-panel');
  $('forgot-open').addEventListener('click', () => toggle(forgotPanel, forgotPanel.hidden, $('forgot-open')));
  $('resend-open').addEventListener('click', () => toggle(resendPanel, resendPanel.hidden, $('resend-open')));

  onSubmit('forgot-form', 'forgot-error', async (form) => {
    await auth.request('/auth/password/forgot', { method: 'POST', json: { email: value(form, 'email').trim() } });
    form.reset();
    toggle(forgotPanel, false, $('forgot-open'));
    page.say('If an account uses that address, a link to reset its password is on its way. Check your inbox.');
  });
  // Sign-in links are offered only where the server has them on (GET /auth/magic-link).
  const magicPanel = $('magic-panel');
  $('magic-open').addEventListener('click', () => toggle(magicPanel, magicPanel.hidden, $('magic-open')));
  void fetch('/auth/magic-link', { credentials: 'same-origin' })
    .then(async (res) => {
      // The body is read even when unused: an unread one keeps the request open in Chromium.
      const status: unknown = await res.json().catch(() => null);
      $('magic-row').hidden = !(res.ok && typeof status === 'object' && status !== null && (status as { enabled?: unknown }).enabled === true);
    })
    .catch(() => {});
  onSubmit('magic-form', 'magic-error', async (form) => {
    await auth.request('/auth/magic-link', { method: 'POST', json: { email: value(form, 'email').trim() } });
    form.reset();
    toggle(magicPanel, false, $('magic-open'));
    page.say('If an account uses that address, a sign-in link is on its way. Check your inbox.');
  });
  onSubmit('resend-form', 'resend-error', async (form) => {
    await auth.request('/auth/email/verify/resend', { method: 'POST', json: { email: value(form, 'email').trim() } });
    form.reset();
    toggle(resendPanel, false, $('resend-open'));
    page.say('If that address has an account waiting for confirmation, a new link is on its way.');
  });
  onSubmit('reset-form', 'reset-error', async (form) => {
    await auth.request('/auth/password/reset', { method: 'POST', json: { token: form.dataset.token ?? '', newPassword: value(form, 'newPassword') } });
    form.reset();
    $('reset-view').hidden = true;
    page.showSignedOut('Your password is changed, and every device was signed out. Sign in with your new password.');
    $('login-email').focus();
  });
  $('verify-resend').addEventListener('click', () => {
    const button = $<HTMLButtonElement>('verify-resend');
    button.disabled = true;
    auth
      .request('/auth/email/verify/request', { method: 'POST' })
      .then(() => page.say('A new confirmation link is on its way. Check your inbox.'))
      .catch((err: unknown) => page.say(messageOf(err), true))
      .finally(() => {
        button.disabled = false;
      });
  });
  onSubmit('email-form', 'email-error', async (form) => {
    const newEmail = value(form, 'newEmail').trim();
    // An account without a password (the field is hidden) sends none: its recent sign-in stands in.
    const password = value(form, 'password');
    await auth.request('/auth/email/change', { method: 'POST', json: { newEmail, ...(password !== '' && { password }) } });
    form.reset();
    page.say(`We sent a link to ${newEmail}. Your address changes when you follow it.`);
  });
  // The banner follows the signed-in view: checked each time it is shown.
  new MutationObserver(() => {
    if (!$('signed-in').hidden) void refreshBanner(auth);
  }).observe($('signed-in'), { attributes: true, attributeFilter: ['hidden'] });

  // A link pasted into a tab that already shows the page changes only the fragment: start afresh.
  window.addEventListener('hashchange', () => {
    if (/^#(reset|verify|email-change|magic)=/.test(location.hash)) location.reload();
  });
  const link = linkInUrl();
  if (link === null) return false;
  if (link.action === 'reset') {
    $('signed-in').hidden = true;
    $('signed-out').hidden = true;
    $('title').textContent = 'Choose a new password';
    document.title = 'Reset password';
    $<HTMLFormElement>('reset-form').dataset.token = link.token;
    $('reset-view').hidden = false;
    $('reset-password').focus();
    return true;
  }
  try {
    if (link.action === 'verify') {
      await auth.request('/auth/email/verify', { method: 'POST', json: { token: link.token } });
      page.say('Your email address is confirmed.');
    } else if (link.action === 'email-change') {
      await auth.request('/auth/email/change/confirm', { method: 'POST', json: { token: link.token } });
      page.say('Your email address is changed. Your other devices were signed out.');
    } else {
      await auth.signIn('/auth/magic-link/verify', { token: link.token });
      page.say('You are signed in.');
    }
  } catch (err) {
    page.say(messageOf(err), true);
  }
  return false;
}
