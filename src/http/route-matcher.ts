import type { RouteDefinition } from './http-types.ts';

/** A route found for a request, with its decoded path parameters. */
export interface RouteMatch {
  readonly route: RouteDefinition;
  /** The route's pattern, with the mount prefix: the metrics label. */
  readonly pattern: string;
  readonly params: Record<string, string>;
}

/** Longest path parameter matched, as Fastify's default `maxParamLength`: a longer one matches nothing. */
const maxParamLength = 100;

interface Compiled {
  readonly route: RouteDefinition;
  readonly segments: readonly string[];
  readonly wildcard: boolean;
}

/**
 * Finds the route of a method and path (already without the mount prefix): static segments,
 * `:name` parameters and a trailing `*`. HEAD is answered by GET routes. Throws `URIError` for a
 * malformed percent-encoding in a parameter.
 */
export class RouteMatcher {
  readonly #routes: Compiled[];
  readonly #prefix: string;

  constructor(routes: readonly RouteDefinition[], prefix: string) {
    this.#prefix = prefix;
    this.#routes = routes.map((route) => {
      const wildcard = route.url.endsWith('*');
      const segments = (wildcard ? route.url.slice(0, -1) : route.url).split('/').slice(1);
      return { route, segments, wildcard };
    });
  }

  match(method: string, path: string): RouteMatch | null {
    const wanted = method === 'HEAD' ? 'GET' : method;
    const parts = path.split('/').slice(1);
    for (const c of this.#routes) {
      if (c.route.method !== wanted) continue;
      const params = this.#matchSegments(c, parts);
      if (params !== null) return { route: c.route, pattern: `${this.#prefix}${c.route.url}`, params };
    }
    return null;
  }

  #matchSegments(c: Compiled, parts: readonly string[]): Record<string, string> | null {
    if (c.wildcard ? parts.length < c.segments.length : parts.length !== c.segments.length) return null;
    const params: Record<string, string> = {};
    for (let i = 0; i < c.segments.length; i++) {
      const segment = c.segments[i]!;
      const part = parts[i]!;
      if (c.wildcard && i === c.segments.length - 1 && segment === '') {
        params['*'] = parts.slice(i).join('/');
        return params;
      }
      if (segment.startsWith(':')) {
        if (part === '' || part.length > maxParamLength) return null;
        params[segment.slice(1)] = decodeURIComponent(part);
      } else if (segment !== part) {
        return null;
      }
    }
    return params;
  }
}
