import type { ReactNode } from 'react';

export const metadata = { title: 'Notes — Tokenstile on Next.js' };

/** The page frame. No web fonts: nothing is fetched from the network at build or run time. */
export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body style={{ fontFamily: 'system-ui, sans-serif', maxWidth: '32rem', margin: '2rem auto' }}>{children}</body>
    </html>
  );
}
