import type { Method, Route } from "./routes.js";

export type Match = { route: Route; params: Record<string, string> } | { allowed: Method[] } | null;

/** Matches by path segments; literal segments win over parameters (so
 * `messages/search` is never read as message number "search"). */
export class Router {
  private readonly entries: { route: Route; segments: string[] }[];

  constructor(routes: Route[]) {
    this.entries = routes
      .map((route) => ({ route, segments: route.path.split("/").slice(1) }))
      .sort((a, b) => specificity(b.segments) - specificity(a.segments));
  }

  match(method: string, path: string): Match {
    const segments = path.split("/").slice(1);
    if (segments[segments.length - 1] === "") segments.pop(); // tolerate a trailing slash
    let allowed: Method[] | null = null;
    for (const { route, segments: pattern } of this.entries) {
      const params = matchSegments(pattern, segments);
      if (!params) continue;
      if (route.method === method) return { route, params };
      (allowed ??= []).push(route.method);
    }
    return allowed ? { allowed } : null;
  }
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (p.startsWith(":")) {
      if (s === "") return null;
      params[p.slice(1)] = decodeURIComponentSafe(s);
    } else if (p !== s) return null;
  }
  return params;
}

function specificity(segments: string[]): number {
  return segments.reduce((n, s, i) => n + (s.startsWith(":") ? 0 : 2 ** (16 - i)), 0);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
