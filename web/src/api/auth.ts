/**
 * The API token. When the server runs with a token, the page is opened as `/?token=…` once: the
 * token moves to sessionStorage (this tab only) and leaves the address bar, so it is neither
 * bookmarked nor shown in screenshots. Every request then carries `Authorization: Bearer <token>`,
 * and the socket `/ws?token=<token>` (browsers cannot set headers on a WebSocket).
 */
const KEY = 'stepq.token';

function takeTokenFromUrl(): string | null {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token === null) return null;
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  return token;
}

let token: string | null = null;

export function initAuth(): void {
  const fromUrl = takeTokenFromUrl();
  if (fromUrl !== null) {
    try {
      sessionStorage.setItem(KEY, fromUrl);
    } catch {
      // Storage may be disabled; the token then lives for this page load only.
    }
    token = fromUrl;
    return;
  }
  try {
    token = sessionStorage.getItem(KEY);
  } catch {
    token = null;
  }
}

export function authToken(): string | null {
  return token;
}
