/** URLs of engines, for the host and the webview alike. */

/** A host as written in a URL: an IPv6 literal in brackets (`::1` -> `[::1]`), anything else as it is. */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Where a client reaches an engine bound to `host`: a wildcard bind (`0.0.0.0`, `::`) through loopback. */
export function browsableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

/** `http://host:port` and then `path` (empty, or starting with `/`). */
export function httpUrl(host: string, port: number, path = ''): string {
  return `http://${urlHost(host)}:${port}${path}`;
}
