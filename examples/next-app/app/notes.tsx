'use client';
// The browser side: signs in with the cookie transport of `tokenstile/client` (HttpOnly cookies,
// CSRF header on writes; no token ever reaches this script), then lists and adds notes through
// `client.request`, which refreshes an expired access token on its own.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { createClient, TokenstileProblem, type TokenstileClient } from 'tokenstile/client';

type View = { state: 'loading' } | { state: 'signed-out'; error?: string } | { state: 'signed-in'; email: string; notes: string[]; error?: string };

/** Why a call failed, in words for the page. */
function messageOf(error: unknown): string {
  if (error instanceof TokenstileProblem) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The sign-in form, or the signed-in user's notes. */
export function Notes() {
  const client = useRef<TokenstileClient | null>(null);
  const [view, setView] = useState<View>({ state: 'loading' });

  async function showNotes(email: string) {
    const { notes } = await client.current!.request<{ notes: string[] }>('/api/notes');
    setView({ state: 'signed-in', email, notes });
  }

  useEffect(() => {
    const auth = createClient(); // cookie transport, this origin
    client.current = auth;
    auth.on('signedout', () => setView({ state: 'signed-out' }));
    // A reload keeps the session: resume() asks without an error answer when signed out.
    void auth.resume().then(async (alive) => {
      if (!alive) return setView({ state: 'signed-out' });
      try {
        await showNotes((await auth.me()).email);
      } catch (error) {
        setView({ state: 'signed-out', error: messageOf(error) });
      }
    });
    return () => auth.close();
  }, []);

  async function signIn(event: FormEvent<HTMLFormElement>, register: boolean) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const credentials = { email: String(form.get('email')), password: String(form.get('password')) };
    try {
      if (register) await client.current!.register(credentials);
      const user = await client.current!.login(credentials);
      await showNotes(user.email);
    } catch (error) {
      setView({ state: 'signed-out', error: messageOf(error) });
    }
  }

  async function addNote(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const input = event.currentTarget.elements.namedItem('text') as HTMLInputElement;
    try {
      const { notes } = await client.current!.request<{ notes: string[] }>('/api/notes', { method: 'POST', json: { text: input.value } });
      input.value = '';
      setView((v) => (v.state === 'signed-in' ? { ...v, notes, error: undefined } : v));
    } catch (error) {
      setView((v) => (v.state === 'signed-in' ? { ...v, error: messageOf(error) } : v));
    }
  }

  if (view.state === 'loading') return <p>Loading…</p>;
  if (view.state === 'signed-out') {
    return (
      <form id="sign-in" onSubmit={(e) => void signIn(e, (e.nativeEvent as SubmitEvent).submitter?.getAttribute('name') === 'register')}>
        <p><label>Email <input name="email" type="email" autoComplete="username" required /></label></p>
        <p><label>Password <input name="password" type="password" autoComplete="current-password" minLength={8} required /></label></p>
        <p>
          <button type="submit" name="login">Sign in</button> <button type="submit" name="register">Create account</button>
        </p>
        {view.error && <p role="alert">{view.error}</p>}
      </form>
    );
  }
  return (
    <section>
      <p>Signed in as <strong id="who">{view.email}</strong> <button onClick={() => void client.current!.logout()}>Sign out</button></p>
      <ul id="notes">{view.notes.map((note, i) => <li key={i}>{note}</li>)}</ul>
      {view.notes.length === 0 && <p id="no-notes">No notes yet.</p>}
      <form id="add-note" onSubmit={(e) => void addNote(e)}>
        <input name="text" aria-label="New note" required maxLength={1000} /> <button type="submit">Add</button>
      </form>
      {view.error && <p role="alert">{view.error}</p>}
    </section>
  );
}
