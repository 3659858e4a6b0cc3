import { useSyncExternalStore } from 'react';
import type { AnchorHTMLAttributes, MouseEvent } from 'react';

/**
 * History routing without a router: the server answers every page path with the dashboard, so
 * `/jobs/<id>` can be bookmarked and reloaded. Query parameters keep a view's filters.
 */
export type Route =
  | { view: 'overview' }
  | { view: 'jobs' }
  | { view: 'job'; id: string }
  | { view: 'workers' }
  | { view: 'submit' }
  | { view: 'tokens' }
  | { view: 'schedules' }
  | { view: 'webhooks' }
  | { view: 'not-found'; path: string };

const listeners = new Set<() => void>();
let current = location.pathname + location.search;

function notify(): void {
  const next = location.pathname + location.search;
  if (next === current) return;
  current = next;
  for (const listener of listeners) listener();
}
window.addEventListener('popstate', notify);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The path and query of the page, re-rendering on navigation. */
export function useLocation(): string {
  return useSyncExternalStore(subscribe, () => current);
}

export function parseRoute(location: string): Route {
  const path = new URL(location, 'http://x').pathname.replace(/\/+$/, '') || '/';
  if (path === '/') return { view: 'overview' };
  if (path === '/jobs') return { view: 'jobs' };
  if (path === '/workers') return { view: 'workers' };
  if (path === '/submit') return { view: 'submit' };
  if (path === '/tokens') return { view: 'tokens' };
  if (path === '/schedules') return { view: 'schedules' };
  if (path === '/webhooks') return { view: 'webhooks' };
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  if (job?.[1]) return { view: 'job', id: decodeURIComponent(job[1]) };
  return { view: 'not-found', path };
}

export function useRoute(): Route {
  return parseRoute(useLocation());
}

/** Goes to `to` (a path with an optional query); `replace` keeps the history entry. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
}

/** The page's query parameters, re-rendering when they change. */
export function useQuery(): URLSearchParams {
  return new URLSearchParams(useLocation().split('?')[1] ?? '');
}

/** Sets some query parameters of the current page (an empty value removes one), in place. */
export function setQuery(values: Record<string, string | undefined>): void {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === '') params.delete(key);
    else params.set(key, value);
  }
  const query = params.toString();
  navigate(`${location.pathname}${query ? `?${query}` : ''}`, { replace: true });
}

export function jobPath(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}

/** An anchor that navigates in place; a modified click still opens a new tab. */
export function Link({ to, onClick, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLElement>) {
  const click = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={click} {...rest} />;
}
