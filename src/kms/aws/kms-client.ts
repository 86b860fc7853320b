import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';

/**
 * The part of `KMSClient` (from `@aws-sdk/client-kms`) the AWS KMS provider uses: `send`.
 * Any `KMSClient` fits; so does a test double.
 * @example
 * ```ts
 * const client: KmsClientLike = new KMSClient({ region: 'eu-west-1', maxAttempts: 1 });
 * ```
 */
export type KmsClientLike = Pick<KMSClient, 'send'>;

/**
 * Returns the client for a region: `region` is the one named in a key ARN, or `undefined`
 * for a key id or alias (your default region). Called once per region; the result is reused.
 * @example
 * ```ts
 * const supplier: KmsClientSupplier = (region) =>
 *   new KMSClient({ region: region ?? 'eu-west-1', maxAttempts: 1 });
 * ```
 */
export type KmsClientSupplier = (region: string | undefined) => KmsClientLike;

/**
 * Settings for the clients the provider builds itself (when no client or supplier is given).
 * `maxAttempts` is always 1: the provider retries, the SDK must not retry as well.
 * @example
 * ```ts
 * const config: KmsClientSettings = { region: 'eu-west-1', endpoint: 'https://kms-fips.eu-west-1.amazonaws.com' };
 * ```
 */
export interface KmsClientSettings {
  /** Default region for key ids and aliases (else the SDK's: `AWS_REGION`, profile...). */
  readonly region?: string;
  /** A custom endpoint: VPC endpoint, FIPS endpoint, or a loopback KMS in tests. */
  readonly endpoint?: string;
  /** Other `KMSClient` settings (credentials, request handler...). */
  readonly clientConfig?: Omit<KMSClientConfig, 'maxAttempts' | 'region' | 'endpoint'>;
}

const ARN_REGION = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(?:key|alias)\//;

/**
 * The region a key ARN or alias ARN names, or `undefined` for a key id or alias name.
 * @example
 * ```ts
 * regionOfKey('arn:aws:kms:eu-west-1:111122223333:key/1234'); // 'eu-west-1'
 * regionOfKey('alias/fieldseal/acme'); // undefined
 * ```
 */
export function regionOfKey(masterKeyId: string): string | undefined {
  return ARN_REGION.exec(masterKeyId)?.[1];
}

/**
 * One client per region, built on first use: from the caller's client (all regions), the
 * caller's supplier, or `new KMSClient` with the SDK's retries off.
 * @example
 * ```ts
 * const client = new KmsClientPool(undefined, { region: 'eu-west-1' }).forKey('alias/fieldseal/acme');
 * ```
 * @internal
 */
export class KmsClientPool {
  readonly #clients = new Map<string, KmsClientLike>();
  readonly #make: KmsClientSupplier;

  constructor(client: KmsClientLike | KmsClientSupplier | undefined, settings: KmsClientSettings) {
    if (typeof client === 'function') this.#make = client;
    else if (client !== undefined) this.#make = () => client;
    else {
      this.#make = (region) =>
        new KMSClient({
          ...settings.clientConfig,
          ...((region ?? settings.region) ? { region: region ?? settings.region } : {}),
          ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
          // The provider's retry policy is the only one (docs/providers.md, "AWS KMS").
          maxAttempts: 1,
        });
    }
  }

  /** The client for the region `masterKeyId` names (or the default region). */
  forKey(masterKeyId: string): KmsClientLike {
    const region = regionOfKey(masterKeyId);
    const slot = region ?? '';
    let client = this.#clients.get(slot);
    if (client === undefined) {
      client = this.#make(region);
      if (typeof client?.send !== 'function') {
        throw new TypeError('client supplier: expected a KMS client with a send method');
      }
      this.#clients.set(slot, client);
    }
    return client;
  }
}
