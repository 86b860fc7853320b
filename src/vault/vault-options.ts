/**
 * How fieldseal authenticates to Vault.
 *
 * - `token`: a token you obtained elsewhere (Vault Agent, CI). With `renew: true` it is
 *   renewed (`auth/token/renew-self`) before 80% of its lease has passed.
 * - `approle`: `auth/<mount>/login` with a role id and secret id (recommended in production:
 *   no long-lived token). The token it gets is renewed before 80% of its lease, and a new
 *   login replaces it when renewal fails, the lease ends or Vault answers 403 once.
 *
 * Tokens and secret ids are kept in `#private` fields of a redacted object: they never appear
 * in `inspect`, JSON or errors.
 *
 * @example
 * ```ts
 * const auth: VaultAuth = {
 *   method: 'approle',
 *   roleId: process.env.VAULT_ROLE_ID!,
 *   secretId: process.env.VAULT_SECRET_ID!,
 * };
 * ```
 */
export type VaultAuth =
  | { readonly method: 'token'; readonly token: string; readonly renew?: boolean }
  | {
      readonly method: 'approle';
      readonly roleId: string;
      readonly secretId: string;
      /** Mount path of the AppRole auth method (default `approle`). */
      readonly mount?: string;
    };

/**
 * Where Vault is and how to talk to it; shared by {@link VaultTransitKeyProvider} and
 * {@link VaultKvSecretSource}.
 *
 * Every HTTP call has its own timeout; 5xx, 429, network errors and timeouts are retried with
 * exponential backoff and jitter (`maxAttempts` in all), then fail with
 * `ERR_PROVIDER_UNAVAILABLE`. Other answers are never retried.
 *
 * @example
 * ```ts
 * const connection: VaultConnectionOptions = {
 *   address: 'https://vault.internal:8200',
 *   namespace: 'payments',
 *   auth: { method: 'token', token: process.env.VAULT_TOKEN! },
 *   timeoutMs: 2_000,
 * };
 * ```
 */
export interface VaultConnectionOptions {
  /** Base URL of the Vault server, e.g. `https://vault.internal:8200` (no `/v1`). */
  readonly address: string;
  readonly auth: VaultAuth;
  /** Vault Enterprise namespace, sent as `X-Vault-Namespace` on every call. */
  readonly namespace?: string;
  /** Timeout of one HTTP call in milliseconds (default 5,000). */
  readonly timeoutMs?: number;
  /** Attempts per call for transient failures, first one included (default 3). */
  readonly maxAttempts?: number;
  /** First backoff delay in milliseconds, doubled per attempt (default 100). */
  readonly backoffMs?: number;
  /** `fetch` implementation (default the global one). */
  readonly fetch?: typeof fetch;
  /** Clock in milliseconds (default `Date.now`); tests pass a fake one. */
  readonly now?: () => number;
}
