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
  /**
   * Another AWS SDK v3 client whose region and credentials the KMS clients inherit, e.g. the
   * application's `DynamoDBClient`, so KMS calls are made as the same identity in the same
   * Region without configuring them twice. `region` and `clientConfig.credentials`, when
   * given, win. Its `config.region` and `config.credentials` are read once, when the provider
   * is built.
   */
  readonly configFrom?: AwsSdkClientLike;
}

/**
 * Any AWS SDK v3 client (`DynamoDBClient`, `S3Client`, ...): its resolved `config` holds the
 * region and credential providers {@link KmsClientSettings.configFrom} inherits.
 * @example
 * ```ts
 * const ddb: AwsSdkClientLike = new DynamoDBClient({ region: 'eu-west-1' });
 * const provider = new AwsKmsKeyProvider({ configFrom: ddb });
 * ```
 */
export interface AwsSdkClientLike {
  readonly config: object;
}

/** Region and credentials read from {@link KmsClientSettings.configFrom}. */
interface Inherited {
  readonly region: KMSClientConfig['region'];
  readonly credentials: KMSClientConfig['credentials'];
}

/**
 * Read `client.config.region` and `.credentials` once (the SDK makes `credentials` a getter,
 * so it is read, once, rather than refused). Each must be what an SDK client holds: a region
 * string or provider function, credentials object or provider function.
 */
function inherit(client: unknown): Inherited {
  const config: unknown =
    typeof client === 'object' && client !== null ? Reflect.get(client, 'config') : undefined;
  if (typeof config !== 'object' || config === null) {
    throw new TypeError('configFrom: expected an AWS SDK v3 client (e.g. a DynamoDBClient)');
  }
  const region: unknown = Reflect.get(config, 'region');
  const credentials: unknown = Reflect.get(config, 'credentials');
  if (typeof region !== 'string' && typeof region !== 'function') {
    throw new TypeError("configFrom: the client's config has no region");
  }
  if (
    credentials !== undefined &&
    typeof credentials !== 'function' &&
    (typeof credentials !== 'object' || credentials === null)
  ) {
    throw new TypeError("configFrom: the client's config.credentials is not credentials");
  }
  return {
    region: region as KMSClientConfig['region'],
    credentials: credentials as KMSClientConfig['credentials'],
  };
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
    if (client !== undefined && settings.configFrom !== undefined) {
      // Clients the caller built have their own region and credentials: nothing to inherit.
      throw new TypeError('configFrom: give it or a client (or supplier), not both');
    }
    if (typeof client === 'function') this.#make = client;
    else if (client !== undefined) this.#make = () => client;
    else {
      const from = settings.configFrom === undefined ? undefined : inherit(settings.configFrom);
      const credentials = settings.clientConfig?.credentials ?? from?.credentials;
      this.#make = (region) => {
        const chosen = region ?? settings.region ?? from?.region;
        return new KMSClient({
          ...settings.clientConfig,
          ...(credentials === undefined ? {} : { credentials }),
          ...(chosen ? { region: chosen } : {}),
          ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
          // The provider's retry policy is the only one (docs/providers.md, "AWS KMS").
          maxAttempts: 1,
        });
      };
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
