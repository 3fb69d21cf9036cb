// The portal API client: bearer tokens kept in a session, refreshed silently (once for many callers) before they
// expire and again on a 401; every error as ApiError with the API's code, message and per-field messages.

export interface User {
  id: number;
  email: string;
  name: string;
  role: "user" | "admin";
  verified: boolean;
  stack: string | null;
  createdAt: string;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: User;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

const REFRESH_KEY = "proxstack.refresh";

type Listener = (user: User | undefined) => void;

/** Where the tokens live: the access token in memory only, the refresh token in localStorage so a reload stays signed in. */
export class Session {
  private access: string | undefined;
  private expiresAt = 0;
  private refreshing: Promise<boolean> | undefined;
  private listeners = new Set<Listener>();
  user: User | undefined;

  constructor(
    private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> = window.localStorage,
    private readonly fetchImpl: typeof fetch = (...a) => fetch(...a),
    private readonly now: () => number = () => Date.now(),
  ) {}

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  get hasRefreshToken(): boolean {
    return this.storage.getItem(REFRESH_KEY) !== null;
  }

  adopt(t: Tokens): void {
    this.access = t.accessToken;
    // Refresh a minute early so a request never leaves with a token about to die.
    this.expiresAt = this.now() + Math.max(0, t.expiresIn - 60) * 1000;
    this.storage.setItem(REFRESH_KEY, t.refreshToken);
    this.setUser(t.user);
  }

  setUser(u: User | undefined): void {
    this.user = u;
    for (const l of this.listeners) l(u);
  }

  clear(): void {
    this.access = undefined;
    this.expiresAt = 0;
    this.storage.removeItem(REFRESH_KEY);
    this.setUser(undefined);
  }

  /** Trades the stored refresh token for new tokens; concurrent callers share one request. False when signed out. */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const refreshToken = this.storage.getItem(REFRESH_KEY);
      if (!refreshToken) return false;
      const res = await this.fetchImpl("/api/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refreshToken }),
      });
      if (!res.ok) {
        this.clear();
        return false;
      }
      this.adopt((await res.json()) as Tokens);
      return true;
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** A valid access token, refreshed first when it is (about to be) expired; undefined when signed out. */
  async token(): Promise<string | undefined> {
    if (this.access && this.now() < this.expiresAt) return this.access;
    if (await this.refresh()) return this.access;
    return undefined;
  }

  /** One request; JSON in and out. A 401 on a signed-in request refreshes once and retries. */
  async request<T>(method: string, path: string, body?: unknown, opts: { auth?: boolean } = {}): Promise<T> {
    const auth = opts.auth ?? true;
    const send = async () => {
      const headers: Record<string, string> = {};
      if (auth) {
        const t = await this.token();
        if (t) headers.authorization = `Bearer ${t}`;
      }
      if (body !== undefined) headers["content-type"] = "application/json";
      return this.fetchImpl(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    };
    let res = await send();
    if (res.status === 401 && auth && this.hasRefreshToken) {
      this.access = undefined;
      if (await this.refresh()) res = await send();
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string; fields?: Record<string, string> } } | undefined)?.error;
      if (res.status === 401 && auth) this.clear();
      throw new ApiError(res.status, e?.code ?? `http-${res.status}`, e?.message ?? `the server answered ${res.status}`, e?.fields ?? {});
    }
    return parsed as T;
  }

  async login(email: string, password: string): Promise<User> {
    const t = await this.request<Tokens>("POST", "/api/auth/login", { email, password }, { auth: false });
    this.adopt(t);
    return t.user;
  }

  async logout(): Promise<void> {
    const refreshToken = this.storage.getItem(REFRESH_KEY) ?? undefined;
    try {
      await this.request("POST", "/api/auth/logout", refreshToken ? { refreshToken } : {});
    } finally {
      this.clear();
    }
  }

  /** On start: a stored refresh token signs the user in silently. */
  async resume(): Promise<User | undefined> {
    if (!this.hasRefreshToken) return undefined;
    return (await this.refresh()) ? this.user : undefined;
  }
}

/** The message for one field, or for the whole form when the API named no field. */
export function fieldError(err: unknown, field: string): string | undefined {
  return err instanceof ApiError ? err.fields[field] : undefined;
}

export function formError(err: unknown, fields: readonly string[]): string | undefined {
  if (!err) return undefined;
  if (err instanceof ApiError) {
    const named = fields.some((f) => err.fields[f] !== undefined);
    return named ? undefined : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
