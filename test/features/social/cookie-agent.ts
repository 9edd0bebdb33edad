// A browser without a browser: follows redirects by hand across origins, keeping each host's
// cookies, and fills the development login and consent forms of `oidc-provider`. For tests that
// drive the sign-in over plain HTTP.

/** One answer, after its cookies were taken. */
export interface AgentResponse {
  readonly status: number;
  readonly url: string;
  readonly location: string | null;
  readonly body: string;
  readonly headers: Headers;
}

export class CookieAgent {
  /** Cookies by host (`127.0.0.1:port`), by name. Paths and attributes are not modelled. */
  readonly jar = new Map<string, Map<string, string>>();
  /** Every URL requested, in order. */
  readonly visited: string[] = [];

  cookie(host: string, name: string): string | undefined {
    return this.jar.get(host)?.get(name);
  }

  setCookie(host: string, name: string, value: string): void {
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar.get(host)!.set(name, value);
  }

  /** One request, no redirect followed. */
  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<AgentResponse> {
    const target = new URL(url);
    const cookies = this.jar.get(target.host);
    const headers = new Headers(init.headers);
    if (cookies && cookies.size > 0) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    this.visited.push(url);
    const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (!this.jar.has(target.host)) this.jar.set(target.host, new Map());
      if (expired) this.jar.get(target.host)!.delete(name);
      else this.jar.get(target.host)!.set(name, value);
    }
    const location = res.headers.get('location');
    return { status: res.status, url, location: location === null ? null : new URL(location, url).href, body: await res.text(), headers: res.headers };
  }

  /** Follows redirects until an answer that is not one, or until `stop` says so for a URL (not requested then). */
  async follow(url: string, stop: (url: string) => boolean = () => false, init: Parameters<CookieAgent['request']>[1] = {}): Promise<AgentResponse & { stoppedAt?: string }> {
    let res = await this.request(url, init);
    for (let hops = 0; res.location !== null && res.status >= 300 && res.status < 400; hops++) {
      if (hops > 20) throw new Error('too many redirects');
      if (stop(res.location)) return { ...res, stoppedAt: res.location };
      res = await this.request(res.location);
    }
    return res;
  }

  /**
   * Completes `oidc-provider`'s development interactions from the page `res`: the login form
   * (as `login`) and the consent form, until the provider redirects away from itself. Returns the
   * first URL outside the provider (not requested).
   */
  async completeProviderPages(res: AgentResponse, login: string, providerOrigin: string): Promise<string> {
    let page = res;
    for (let step = 0; step < 6; step++) {
      const action = /<form[^>]*action="([^"]+)"/.exec(page.body)?.[1];
      if (!action) throw new Error(`no form on the provider's page ${page.url} (${page.status}): ${page.body.slice(0, 300)}`);
      const fields: Record<string, string> = {};
      for (const [input] of page.body.matchAll(/<input[^>]*>/g)) {
        const name = /name="([^"]+)"/.exec(input)?.[1];
        if (name !== undefined) fields[name] = /value="([^"]*)"/.exec(input)?.[1] ?? '';
      }
      if ('login' in fields) Object.assign(fields, { login, password: 'any' });
      if ('prompt' in fields === false && /name="logout"/.test(page.body)) fields.logout = 'yes';
      let next = await this.request(new URL(action.replaceAll('&amp;', '&'), page.url).href, { form: fields });
      while (next.location !== null && next.location.startsWith(providerOrigin)) next = await this.request(next.location);
      if (next.location !== null) return next.location;
      page = next;
    }
    throw new Error('the provider kept asking');
  }
}
