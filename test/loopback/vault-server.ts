import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { VaultError, type TransitKey } from './vault-transit-crypto.js';
import {
  authBody,
  authorise,
  login,
  newNamespace,
  newToken,
  type Namespace,
} from './vault-auth-state.js';
import { transitRoute } from './vault-transit-routes.js';

/** A fault the next matching request suffers (see {@link LoopbackVault.inject}). */
export interface VaultFault {
  readonly kind: 'status' | 'latency' | 'hang' | 'drop' | 'malformed';
  /** HTTP status for `status` (500, 503, 429, 403...). */
  readonly status?: number;
  /** Delay for `latency`, in milliseconds. */
  readonly ms?: number;
  /** Body sent by `malformed` (default a truncated ciphertext answer). */
  readonly body?: string;
}

/** One request as the server saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly namespace: string;
}

/**
 * A loopback HashiCorp Vault for tests: node:http on 127.0.0.1 with the documented endpoints
 * fieldseal uses and real crypto.
 *
 * - Transit (`/v1/transit/...`): keys with versions, `encrypt`, `decrypt`, `datakey/plaintext`,
 *   `datakey/wrapped`, `rewrap`, `keys/:name` (read, create), `keys/:name/rotate`,
 *   `keys/:name/config` (`min_decryption_version`). AES-256-GCM (12-byte nonce, 16-byte tag),
 *   ciphertexts `vault:vN:base64(nonce|ct|tag)`; derived keys are HKDF-SHA256(key, info =
 *   context) and need a `context`.
 * - KV v2 (`/v1/secret/data/:path`): read (`data.data`, `data.metadata`, `lease_duration`)
 *   and write.
 * - Auth: `X-Vault-Token` with optional path-prefix policies, AppRole login, `renew-self`,
 *   token leases on the server's clock (an expired token is 403 until renewed or replaced).
 * - Namespaces: `X-Vault-Namespace` selects an isolated set of keys, secrets and tokens.
 * - Errors: `{"errors": [...]}` with Vault's messages.
 * - Faults (next matching requests): 5xx, 429, latency, hang, dropped connection, malformed
 *   JSON, permission denied.
 *
 * Start with `await startVaultServer()`; it listens on 127.0.0.1:0.
 */
export class LoopbackVault {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #namespaces = new Map<string, Namespace>();
  readonly #faults: { fault: VaultFault; path?: string }[] = [];
  #offsetMs = 0;
  /** Every request received, in order. */
  readonly requests: SeenRequest[] = [];
  address = '';

  constructor() {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    this.address = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The server's clock (ms); share it with the client under test through its `now` option. */
  readonly now = (): number => Date.now() + this.#offsetMs;
  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  /** Requests whose path starts with `prefix` (below /v1/). */
  count(prefix = ''): number {
    return this.requests.filter((r) => r.path.startsWith(prefix)).length;
  }

  /** Apply `fault` to the next `times` requests whose path starts with `path` (any if unset). */
  inject(fault: VaultFault, times = 1, path?: string): void {
    for (let i = 0; i < times; i++) this.#faults.push({ fault, path });
  }

  // ---- administration (what an operator does with the vault CLI) ----

  createTransitKey(name: string, options: { derived?: boolean; namespace?: string } = {}): void {
    this.#ns(options.namespace).transit.set(name, {
      versions: [randomBytes(32)],
      minDecryptionVersion: 1,
      derived: options.derived ?? true,
    });
  }
  rotateTransitKey(name: string, namespace?: string): number {
    const key = this.#key(this.#ns(namespace), name);
    key.versions.push(randomBytes(32));
    return key.versions.length;
  }
  setMinDecryptionVersion(name: string, version: number, namespace?: string): void {
    this.#key(this.#ns(namespace), name).minDecryptionVersion = version;
  }
  putSecret(path: string, data: Record<string, unknown>, namespace?: string): void {
    const kv = this.#ns(namespace).kv;
    kv.set(path, { data, version: (kv.get(path)?.version ?? 0) + 1 });
  }
  /** `lease_duration` (seconds) KV reads return (0, KV v2's default, unless set). */
  setKvLease(seconds: number, namespace?: string): void {
    this.#ns(namespace).kvLeaseSeconds = seconds;
  }
  createToken(
    options: { ttlMs?: number; renewable?: boolean; allow?: string[]; namespace?: string } = {},
  ): string {
    const token = newToken();
    const ttlMs = options.ttlMs ?? 0;
    this.#ns(options.namespace).tokens.set(token, {
      expiresAt: ttlMs > 0 ? this.now() + ttlMs : undefined,
      ttlMs,
      renewable: options.renewable ?? ttlMs > 0,
      allow: options.allow,
    });
    return token;
  }
  revokeToken(token: string, namespace?: string): void {
    this.#ns(namespace).tokens.delete(token);
  }
  createAppRole(options: { ttlMs?: number; allow?: string[]; namespace?: string } = {}): {
    roleId: string;
    secretId: string;
  } {
    const roleId = randomUUID();
    const secretId = randomUUID();
    this.#ns(options.namespace).approles.set(roleId, {
      secretId,
      ttlMs: options.ttlMs ?? 3_600_000,
      allow: options.allow,
    });
    return { roleId, secretId };
  }

  // ---- HTTP ----

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1\//, '');
    const nsName = headerOf(req, 'x-vault-namespace') ?? '';
    this.requests.push({ method: req.method ?? '', path, namespace: nsName });
    const body = await readBody(req);
    const at = this.#faults.findIndex((f) => f.path === undefined || path.startsWith(f.path));
    if (at >= 0) {
      const [{ fault }] = this.#faults.splice(at, 1) as [{ fault: VaultFault }];
      if (fault.kind === 'hang') return;
      if (fault.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'malformed') {
        return send(res, 200, fault.body ?? '{"data": {"ciphertext": "vau');
      }
      if (fault.kind === 'latency') await new Promise((r) => setTimeout(r, fault.ms ?? 50));
      if (fault.kind === 'status') {
        const status = fault.status ?? 500;
        const message = status === 403 ? 'permission denied' : 'injected fault';
        return send(res, status, JSON.stringify({ errors: [message] }));
      }
    }
    try {
      const ns = this.#ns(nsName);
      const parsed = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>);
      const data = this.#route(
        ns,
        req.method ?? 'GET',
        path,
        parsed,
        headerOf(req, 'x-vault-token'),
      );
      send(res, 200, JSON.stringify({ request_id: randomUUID(), lease_id: '', ...data }));
    } catch (err) {
      if (err instanceof VaultError) {
        send(res, err.status, JSON.stringify({ errors: err.errors }));
      } else {
        send(res, 500, JSON.stringify({ errors: ['internal error'] }));
      }
    }
  }

  #route(
    ns: Namespace,
    method: string,
    path: string,
    body: Record<string, unknown>,
    token: string | undefined,
  ): Record<string, unknown> {
    const isLogin = /^auth\/([^/]+)\/login$/.test(path);
    if (isLogin && method === 'POST') return login(ns, body, this.now());
    const info = authorise(ns, path, token, this.now());
    if (path === 'auth/token/renew-self' && method === 'POST') {
      if (!info.renewable || info.ttlMs <= 0) throw new VaultError(400, ['lease is not renewable']);
      info.expiresAt = this.now() + info.ttlMs;
      return authBody(token ?? '', info);
    }
    if (path === 'auth/token/lookup-self') {
      const ttl =
        info.expiresAt === undefined ? 0 : Math.ceil((info.expiresAt - this.now()) / 1000);
      return { data: { ttl, renewable: info.renewable } };
    }
    const kv = /^secret\/data\/(.+)$/.exec(path);
    if (kv !== null) return this.#kv(ns, method, decodeURIComponent(kv[1]!), body);
    const t = /^transit\/([a-z/]+?)\/([^/]+)(\/rotate|\/config)?$/.exec(path);
    if (t === null) throw new VaultError(404, []);
    const [, op, rawName, sub] = t;
    return transitRoute(ns.transit, method, op!, decodeURIComponent(rawName!), sub, body);
  }

  #kv(
    ns: Namespace,
    method: string,
    path: string,
    body: Record<string, unknown>,
  ): Record<string, unknown> {
    if (method === 'POST') {
      this.putSecret(
        path,
        (body.data ?? {}) as Record<string, unknown>,
        nsNameOf(this.#namespaces, ns),
      );
      return { data: { version: ns.kv.get(path)!.version } };
    }
    const secret = ns.kv.get(path);
    if (secret === undefined) throw new VaultError(404, []);
    return {
      renewable: false,
      lease_duration: ns.kvLeaseSeconds,
      data: {
        data: secret.data,
        metadata: { version: secret.version, deletion_time: '', destroyed: false },
      },
    };
  }

  #ns(name = ''): Namespace {
    let ns = this.#namespaces.get(name);
    if (ns === undefined) {
      ns = newNamespace();
      this.#namespaces.set(name, ns);
    }
    return ns;
  }

  #key(ns: Namespace, name: string): TransitKey {
    const key = ns.transit.get(name);
    if (key === undefined) throw new VaultError(400, ['encryption key not found']);
    return key;
  }
}

/** Start a loopback Vault on 127.0.0.1:0. */
export function startVaultServer(): Promise<LoopbackVault> {
  return new LoopbackVault().listen();
}

function nsNameOf(all: Map<string, Namespace>, ns: Namespace): string {
  for (const [name, n] of all) if (n === ns) return name;
  return '';
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(body);
}
