import { Notes } from './notes';

/** The only page: sign in (or up), then your notes. */
export default function Home() {
  return (
    <main>
      <h1>Notes</h1>
      <Notes />
    </main>
  );
}
