// The account page's second factors and passkeys: the second step of sign-in, passkey sign-in,
// the authenticator app (QR code, recovery codes to download), passkeys to add, name and remove,
// and re-authentication when a change needs a recent sign-in. Text is set with textContent only.
import { addPasskey, completeSignIn, listPasskeys, reauthenticate, removePasskey, secondFactorOf, signInWithPasskey, type SecondFactorChallenge, type TokenstileClient } from '../src/client/index.ts';
import { TokenstileProblem } from '../src/client/problem.ts';

interface Page {
  /** Shows the signed-in view (after a sign-in completes here). */
  signedIn(): Promise<void>;
  /** A message for the user from a failure. */
  messageOf(err: unknown): string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const button = (id: string) => $<HTMLButtonElement>(id);

/** Runs `action` with `control` disabled, showing a failure in `errorEl`. */
async function run(control: HTMLButtonElement | null, errorEl: HTMLElement, page: Page, action: () => Promise<void>): Promise<void> {
  errorEl.textContent = '';
  if (control) control.disabled = true;
  try {
    await action();
  } catch (err) {
    errorEl.textContent = page.messageOf(err);
  } finally {
    if (control) control.disabled = false;
  }
}

/** Wires the page's security parts to `auth`; `takeOver` handles a sign-in's `mfa_required`, `load` fills the section. */
export function setupSecurity(auth: TokenstileClient, page: Page) {
  let pending: SecondFactorChallenge | null = null;
  const mfaForm = $<HTMLFormElement>('mfa-form');
  const signInError = $('passkey-signin-error');
  const error = $('security-error');
  const reauthForm = $<HTMLFormElement>('reauth-form');
  let retry: (() => Promise<void>) | null = null;

  const finish = async (action: () => Promise<unknown>) => {
    await action();
    pending = null;
    mfaForm.hidden = true;
    await page.signedIn();
  };

  /** Runs a sensitive change; on `reauthentication_required`, asks for the password (or a passkey) and retries. */
  /** Runs `action`; on `reauthentication_required`, asks to confirm (password or passkey) and runs it again after. */
  const guard = async (action: () => Promise<void>) => {
    try {
      await action();
    } catch (err) {
      if (!(err instanceof TokenstileProblem) || err.code !== 'reauthentication_required') throw err;
      retry = action;
      reauthForm.hidden = false;
      $('reauth-password').focus();
    }
  };
  const sensitive = (control: HTMLButtonElement | null, action: () => Promise<void>) => run(control, error, page, () => guard(action));
  const reauthenticated = async () => {
    reauthForm.reset();
    reauthForm.hidden = true;
    const again = retry;
    retry = null;
    await again?.();
  };
  reauthForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(reauthForm.querySelector('button'), error, page, async () => {
      await reauthenticate(auth, { password: $<HTMLInputElement>('reauth-password').value });
      await reauthenticated();
    });
  });
  $('reauth-passkey').addEventListener('click', () =>
    run(button('reauth-passkey'), error, page, async () => {
      await reauthenticate(auth, { method: 'passkey' });
      await reauthenticated();
    }),
  );

  $('passkey-signin').addEventListener('click', () => run(button('passkey-signin'), signInError, page, () => finish(() => signInWithPasskey(auth))));
  mfaForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const code = $<HTMLInputElement>('mfa-code').value.trim();
    const method = /^\d[\d\s]*$/.test(code) ? 'totp' : 'recovery_code';
    void run(mfaForm.querySelector('button[type="submit"]'), $('mfa-error'), page, () => finish(() => completeSignIn(auth, pending!, method, code)));
  });
  $('mfa-passkey').addEventListener('click', () => run(button('mfa-passkey'), $('mfa-error'), page, () => finish(() => completeSignIn(auth, pending!, 'passkey'))));

  const totpForm = $<HTMLFormElement>('totp-form');
  $('totp-start').addEventListener('click', () =>
    sensitive(button('totp-start'), async () => {
      const setup = await auth.request<{ secret: string; qrCode: string }>('/auth/mfa/totp/setup', { method: 'POST', json: {} });
      $<HTMLImageElement>('totp-qr').src = setup.qrCode;
      $('totp-secret').textContent = setup.secret.replace(/(.{4})/g, '$1 ').trim();
      totpForm.hidden = false;
      $('totp-code').focus();
    }),
  );
  totpForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void sensitive(totpForm.querySelector('button'), async () => {
      const { recoveryCodes } = await auth.request<{ recoveryCodes: string[] }>('/auth/mfa/totp/confirm', { method: 'POST', json: { code: $<HTMLInputElement>('totp-code').value.trim() } });
      totpForm.reset();
      totpForm.hidden = true;
      $('recovery-codes').replaceChildren(...recoveryCodes.map((c) => Object.assign(document.createElement('li'), { textContent: c })));
      const file = new Blob([`Recovery codes for ${auth.user?.email ?? 'your account'} (each works once):\n${recoveryCodes.join('\n')}\n`], { type: 'text/plain' });
      $<HTMLAnchorElement>('recovery-download').href = URL.createObjectURL(file);
      $('recovery').hidden = false;
      await load();
    });
  });
  $('totp-remove').addEventListener('click', () =>
    sensitive(button('totp-remove'), async () => {
      await auth.request('/auth/mfa/totp', { method: 'DELETE' });
      $('recovery').hidden = true;
      await load();
    }),
  );
  const passkeyForm = $<HTMLFormElement>('passkey-form');
  passkeyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void sensitive(passkeyForm.querySelector('button'), async () => {
      await addPasskey(auth, $<HTMLInputElement>('passkey-name').value.trim());
      passkeyForm.reset();
      await load();
    });
  });

  async function load(): Promise<void> {
    const status = await auth.request<{ totp: boolean; recoveryCodesLeft: number }>('/auth/mfa');
    $('totp-state').textContent = status.totp ? `On. ${status.recoveryCodesLeft} recovery codes left.` : 'Off.';
    $('totp-start').hidden = status.totp;
    $('totp-remove').hidden = !status.totp;
    const items = (await listPasskeys(auth)).map((p) => {
      const li = document.createElement('li');
      li.dataset.passkeyId = p.id;
      const name = Object.assign(document.createElement('span'), { className: 'device-name', textContent: p.name });
      const button = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Remove' });
      button.setAttribute('aria-label', `Remove passkey ${p.name}`);
      button.addEventListener('click', () =>
        sensitive(button, async () => {
          await removePasskey(auth, p.id);
          await load();
        }),
      );
      li.append(name, button);
      return li;
    });
    $('passkeys').replaceChildren(...items);
  }

  return {
    /** True when `err` (from `login`) asks for a second factor: the second step is shown. */
    takeOver(err: unknown): boolean {
      pending = secondFactorOf(err);
      if (pending === null) return false;
      mfaForm.hidden = false;
      $('second-step-title').textContent = 'Two-step verification';
      $('mfa-passkey').hidden = !pending.methods.includes('passkey');
      $('mfa-code').focus();
      return true;
    },
    load,
    guard,
  };
}
