// The account page: sign up, sign in, profile, devices, sign-outs and password change, on the
// browser client (cookie transport). Text is always set with textContent: user agents and names
// come from users.
import { createClient, TokenstileProblem, type DeviceSession } from '../src/client/index.ts';
import { describeUserAgent } from './user-agent.ts';
import { setUpRecovery } from './recovery.ts';
import { setupSecurity } from './security.ts';
import { startSocial } from './social.ts';

// DPoP on: a server with TOKENSTILE_DPOP=optional or required binds the session to this browser's
// non-extractable key (kept in IndexedDB); one with DPoP off ignores the proofs.
const auth = createClient({ dpop: true });

function $<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
}

const signedOutView = $('signed-out');
const signedInView = $('signed-in');
const status = $('status');
const whoami = $('whoami');

function say(message: string, warn = false): void {
  status.textContent = message;
  status.classList.toggle('warn', warn);
}

/** A message for the user from any failure. */
function messageOf(err: unknown): string {
  if (err instanceof TokenstileProblem) {
    if (err.code === 'too_many_requests') return 'Too many attempts. Wait a moment and try again.';
    return err.detail;
  }
  return 'The server could not be reached. Check your connection and try again.';
}

/** Runs a form or button action with the control disabled and errors shown in `errorEl`. */
async function busy(control: HTMLButtonElement | null, errorEl: HTMLElement, action: () => Promise<void>): Promise<void> {
  errorEl.textContent = '';
  if (control) control.disabled = true;
  try {
    await action();
  } catch (err) {
    errorEl.textContent = messageOf(err);
  } finally {
    if (control) control.disabled = false;
  }
}

function submitter(form: HTMLFormElement): HTMLButtonElement | null {
  return form.querySelector('button[type="submit"]');
}

function field(form: HTMLFormElement, name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement;
}

function showSignedOut(message?: string, warn = false): void {
  signedInView.hidden = true;
  signedOutView.hidden = false;
  whoami.hidden = true;
  $('title').textContent = 'Sign in to your account';
  document.title = 'Sign in';
  if (message !== undefined) say(message, warn);
}

function relative(iso: string): string {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 60) return 'just now';
  const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (seconds < 3600) return fmt.format(-Math.round(seconds / 60), 'minute');
  if (seconds < 86400) return fmt.format(-Math.round(seconds / 3600), 'hour');
  return fmt.format(-Math.round(seconds / 86400), 'day');
}

function deviceItem(s: DeviceSession): HTMLLIElement {
  const { browser, os } = describeUserAgent(s.userAgent);
  const li = document.createElement('li');
  li.dataset.sessionId = s.id;
  if (s.current) li.dataset.current = 'true';
  const text = document.createElement('div');
  const name = document.createElement('div');
  name.className = 'device-name';
  name.textContent = `${browser} on ${os}`;
  if (s.current) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'This device';
    name.append(badge);
  }
  const meta = document.createElement('div');
  meta.className = 'device-meta';
  const when = document.createElement('time');
  when.dateTime = s.lastUsedAt;
  when.title = new Date(s.lastUsedAt).toLocaleString();
  when.textContent = relative(s.lastUsedAt);
  meta.append(`IP ${s.ip ?? 'unknown'} · Last used `, when);
  text.append(name, meta);
  li.append(text);
  if (!s.current) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'Sign out';
    button.setAttribute('aria-label', `Sign out ${browser} on ${os}, last used ${when.textContent}`);
    button.addEventListener('click', () =>
      busy(button, $('devices-error'), async () => {
        await auth.endSession(s.id);
        say(`${browser} on ${os} is signed out.`);
        await loadDevices();
      }),
    );
    li.append(button);
  }
  return li;
}

async function loadDevices(): Promise<void> {
  const sessions = await auth.sessions();
  // This device first, then the most recently used.
  sessions.sort((a, b) => Number(b.current) - Number(a.current) || b.lastUsedAt.localeCompare(a.lastUsedAt));
  $('devices').replaceChildren(...sessions.map(deviceItem));
}

async function showSignedIn(): Promise<void> {
  const me = await auth.me();
  $('me-email').textContent = me.email;
  $<HTMLInputElement>('profile-name').value = me.name ?? '';
  whoami.textContent = me.name ? `${me.name} · ${me.email}` : me.email;
  whoami.hidden = false;
  await Promise.all([loadDevices(), security.load()]);
  $('title').textContent = 'Your account';
  document.title = 'Your account';
  signedOutView.hidden = true;
  signedInView.hidden = false;
}

async function signedIn(): Promise<void> {
  say('You are signed in.');
  await showSignedIn();
  $('main').focus();
}

const security = setupSecurity(auth, { signedIn, messageOf });

const signedOutMessages: Record<string, string> = {
  logout: 'You are signed out.',
  session_revoked: 'You were signed out: this device’s session was ended (from another device, or by a password change).',
  refresh_token_reused: 'You were signed out for safety: an old sign-in token of this device was used again.',
  invalid_refresh_token: 'Your session has expired. Sign in again.',
  csrf_failed: 'Your session could not be verified. Sign in again.',
  dpop_key_missing: 'This browser no longer has the key your session was tied to (private browsing, or site data cleared). Sign in again.',
};

auth.on('signedout', ({ reason }) => showSignedOut(signedOutMessages[reason] ?? 'You are signed out.', reason !== 'logout'));

$<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void busy(submitter(form), $('login-error'), async () => {
    const email = field(form, 'email').value.trim();
    const password = field(form, 'password').value;
    if (!email || !password) throw new TokenstileProblem(400, 'invalid_request', 'Enter your email and password.');
    try {
      await auth.login({ email, password });
    } catch (err) {
      if (!security.takeOver(err)) throw err;
      return form.reset();
    }
    form.reset();
    await signedIn();
  });
});

$<HTMLFormElement>('register-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void busy(submitter(form), $('register-error'), async () => {
    const name = field(form, 'name').value.trim();
    const email = field(form, 'email').value.trim();
    const password = field(form, 'password').value;
    if (!email || !password) throw new TokenstileProblem(400, 'invalid_request', 'Enter an email and a password.');
    await auth.register({ email, password, ...(name && { name }) });
    await auth.login({ email, password });
    form.reset();
    say('Your account is ready and you are signed in.');
    await showSignedIn();
    $('main').focus();
  });
});

$<HTMLFormElement>('name-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void busy(submitter(form), $('name-error'), async () => {
    const name = field(form, 'name').value.trim();
    const me = await auth.updateName(name === '' ? null : name);
    whoami.textContent = me.name ? `${me.name} · ${me.email}` : me.email;
    say('Your name is saved.');
  });
});

$<HTMLFormElement>('password-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  void busy(submitter(form), $('password-error'), async () => {
    const [current, next] = [field(form, 'currentPassword').value, field(form, 'newPassword').value];
    await security.guard(async () => {
      await auth.changePassword(current, next);
      form.reset();
      say('Your password is changed. Your other devices are signed out.');
      await loadDevices();
    });
  });
});

const scopes = { 'signout-this': 'local', 'signout-others': 'others', 'signout-all': 'global' } as const;
for (const [id, scope] of Object.entries(scopes)) {
  const button = $<HTMLButtonElement>(id);
  button.addEventListener('click', () =>
    busy(button, $('devices-error'), async () => {
      await auth.logout(scope);
      if (scope === 'others') {
        say('Your other devices are signed out.');
        await loadDevices();
      }
    }),
  );
}

async function start(): Promise<void> {
  // A mailed link (reset, verification, change of email, sign-in) is handled first.
  if (await setUpRecovery(auth, { say, showSignedOut })) return;
  // Nothing stored: signed out, and no request. Something stored: looked at without an error
  // answer first (a signed-out visitor's console stays clean); `signedout` switches the view.
  if (auth.user === null) {
    showSignedOut();
    return;
  }
  if (!(await auth.resume())) return;
  try {
    await showSignedIn();
  } catch (err) {
    // A signed-out event has already switched the view when the session ended.
    if (signedInView.hidden) showSignedOut(err instanceof TokenstileProblem ? undefined : messageOf(err), true);
  }
}

void startSocial({ auth, say, takeOver: (err) => security.takeOver(err) }).then(start);
