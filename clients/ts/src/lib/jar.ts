// A browser's memory of the session cookie, for clients in Node, which keeps
// none: it sends the __session token it holds and keeps the one every
// response sets (each sign-in issues a new token; the last sign-out clears
// it with an empty value and Max-Age=0).
export class CookieJar {
  token: string | undefined;

  /** cookie is the Cookie header to send, if any. */
  cookie(): string | undefined {
    return this.token ? `__session=${this.token}` : undefined;
  }

  /** keep reads a response's Set-Cookie headers. */
  keep(response: Response): void {
    for (const c of response.headers.getSetCookie()) {
      const m = /^__session=([^;]*)/.exec(c);
      if (m) {
        this.token = m[1] || undefined;
      }
    }
  }

  /** fetch is globalThis.fetch with this jar. */
  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const cookie = this.cookie();
    if (cookie) {
      request.headers.set("Cookie", cookie);
    }
    const response = await globalThis.fetch(request);
    this.keep(response);
    return response;
  };
}
