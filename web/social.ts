// The account page's social sign-in: "Sign in with <provider>" buttons when signed out, the
// connected providers (connect, disconnect) when signed in, and the outcome of a provider
// redirect, which the callback puts in the fragment (#tokenstile_signed_in=…, …_linked, …_error;
// with mfa_required, …_mfa_token and …_mfa_methods for the second step).
import { TokenstileProblem, type TokenstileClient } from '../src/client/index.ts';

interface Provider {
  readonly id: string;
  readonly name: string;
  readonly startUrl: string;
}

interface Identity {
  readonly id: string;
  readonly provider: string;
  readonly providerName: string;
  readonly email: string | null;
}

/** What the page lends this module. */
export interface SocialPage {
  readonly auth: TokenstileClient;
  say(message: string, warn?: boolean): void;
  /** Shows the second step for a sign-in that answered `mfa_required` (as after a password). */
  takeOver(err: unknown): boolean;
}

/** Messages for the codes a provider sign-in can end with. */
const errorMessages: Record<string, string> = {
  link_required: 'An account with this email already exists. Sign in with your password, then connect the provider under “Connected accounts”.',
  identity_in_use: 'That provider account is already connected to another account.',
  oauth_email_missing: 'The provider did not share an email address with us, so no account could be made.',
  oauth_flow_invalid: 'The sign-in could not be completed (it expired or was started elsewhere). Please try again.',
  oauth_provider_error: 'The provider refused the sign-in or could not be reached. Please try again.',
  account_disabled: 'This account is disabled.',
  email_not_verified: 'Confirm your email address first: follow the link in the mail we sent.',
};

function el<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing`);
  return found as T;
}

async function providers(): Promise<Provider[]> {
  try {
    const res = await fetch('/auth/oauth/providers', { credentials: 'same-origin' });
    return res.ok ? ((await res.json()) as { providers: Provider[] }).providers : [];
  } catch {
    return [];
  }
}

function signInButtons(auth: TokenstileClient, list: readonly Provider[]): void {
  const here = `${location.pathname}${location.search}`;
  el('social-signin').hidden = list.length === 0;
  el('social-buttons').replaceChildren(
    ...list.map((p) => {
      const a = document.createElement('a');
      a.className = 'button social';
      a.href = `${p.startUrl}?${new URLSearchParams({ returnTo: here })}`;
      a.textContent = `Sign in with ${p.name}`;
      // With DPoP the session the callback starts is bound to a new key: its thumbprint goes along (dpop_jkt).
      a.addEventListener('click', (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        void auth.redirectSignInUrl(a.href).then(
          (url) => location.assign(url),
          () => location.assign(a.href),
        );
      });
      return a;
    }),
  );
}

/**
 * Shows the password change, and the change of email's password field, only to accounts that have
 * a password (one made by a provider sign-in has none: its recent sign-in stands in for it).
 */
function showPasswordChange(passwordSet: boolean): void {
  const card = document.getElementById('password-form')?.closest('section');
  if (card) card.hidden = !passwordSet;
  const emailPassword = document.getElementById('email-password') as HTMLInputElement | null;
  if (emailPassword) {
    emailPassword.hidden = !passwordSet;
    emailPassword.required = passwordSet;
    const label = document.querySelector<HTMLElement>('label[for=email-password]');
    if (label) label.hidden = !passwordSet;
  }
  const hint = el('social-accounts').querySelector('.hint');
  if (hint) {
    hint.textContent = passwordSet
      ? 'Providers you can sign in with. You cannot disconnect the last way to sign in.'
      : 'Your account has no password: you sign in with these providers, and cannot disconnect the last one.';
  }
}

async function loadIdentities(page: SocialPage, list: readonly Provider[]): Promise<void> {
  const { identities, passwordSet } = await page.auth.request<{ identities: Identity[]; passwordSet: boolean }>('/auth/identities');
  showPasswordChange(passwordSet);
  const errorEl = el('identities-error');
  el('identities').replaceChildren(
    ...identities.map((i) => {
      const li = document.createElement('li');
      li.dataset.identityId = i.id;
      const text = document.createElement('span');
      text.textContent = i.email ? `${i.providerName} · ${i.email}` : i.providerName;
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Disconnect';
      button.setAttribute('aria-label', `Disconnect ${i.providerName}`);
      button.addEventListener('click', async () => {
        errorEl.textContent = '';
        button.disabled = true;
        try {
          await page.auth.request(`/auth/identities/${encodeURIComponent(i.id)}`, { method: 'DELETE' });
          page.say(`${i.providerName} is disconnected.`);
          await loadIdentities(page, list);
        } catch (err) {
          errorEl.textContent = err instanceof TokenstileProblem ? err.detail : 'The server could not be reached.';
          button.disabled = false;
        }
      });
      li.append(text, button);
      return li;
    }),
  );
  const linked = new Set(identities.map((i) => i.provider));
  el('connect-buttons').replaceChildren(
    ...list.filter((p) => !linked.has(p.id)).map((p) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `Connect ${p.name}`;
      button.addEventListener('click', async () => {
        errorEl.textContent = '';
        button.disabled = true;
        try {
          const { url } = await page.auth.request<{ url: string }>(`/auth/oauth/${encodeURIComponent(p.id)}/link`, { method: 'POST', json: { returnTo: location.pathname } });
          location.assign(url);
        } catch (err) {
          errorEl.textContent = err instanceof TokenstileProblem ? err.detail : 'The server could not be reached.';
          button.disabled = false;
        }
      });
      return button;
    }),
  );
  el('social-accounts').hidden = list.length === 0 && identities.length === 0;
}

/**
 * Sets up the social parts of the page; resolves once a redirect's outcome is taken in (a session
 * the callback started is adopted first, so that the page's own start sees it).
 */
export async function startSocial(page: SocialPage): Promise<void> {
  const outcome = new URLSearchParams(location.hash.slice(1));
  if (['tokenstile_signed_in', 'tokenstile_linked', 'tokenstile_error'].some((k) => outcome.has(k))) history.replaceState(null, '', `${location.pathname}${location.search}`);
  const listed = providers();
  void listed.then((list) => signInButtons(page.auth, list));
  // Whenever the signed-in view shows, its connected providers are listed anew.
  const signedIn = el('signed-in');
  new MutationObserver(() => {
    if (!signedIn.hidden) void listed.then((list) => loadIdentities(page, list)).catch(() => {});
  }).observe(signedIn, { attributes: true, attributeFilter: ['hidden'] });
  const error = outcome.get('tokenstile_error');
  const mfaToken = outcome.get('tokenstile_mfa_token');
  // The provider vouched for the user; this account's second factor is still asked, on this page.
  const methods = (outcome.get('tokenstile_mfa_methods') ?? '').split(' ').filter(Boolean);
  const secondStep = error === 'mfa_required' && mfaToken !== null && page.takeOver(new TokenstileProblem(403, 'mfa_required', '', undefined, { mfaToken, methods }));
  if (error !== null && !secondStep) page.say(errorMessages[error] ?? 'The sign-in with the provider failed.', true);
  const linked = outcome.get('tokenstile_linked');
  if (linked !== null) page.say('The provider is connected to your account.');
  if (outcome.has('tokenstile_signed_in')) {
    try {
      await page.auth.adoptRedirectSession();
      page.say('You are signed in.');
    } catch {
      page.say('The sign-in could not be completed. Please try again.', true);
    }
  }
}
