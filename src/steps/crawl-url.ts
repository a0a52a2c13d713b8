/**
 * URL handling for the crawler. The normalized form is the job key, so two spellings of one page
 * (`HTTP://Example.com:80/a#top`, `http://example.com/a`) become one job. WHATWG URL parsing already
 * lowercases the scheme and host and drops the default port; normalizing also drops the fragment.
 */

/** The normalized absolute http(s) URL of `href` (resolved against `base`), or undefined. */
export function normalizeUrl(href: string, base?: string | URL): string | undefined {
  let url: URL;
  try {
    url = base === undefined ? new URL(href.trim()) : new URL(href.trim(), base);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  url.hash = '';
  return url.href;
}
