import type * as DynamoDB from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Fieldseal } from '../client/fieldseal.js';
import type { FieldPolicy, KeyAdminOperation } from '../client/options.js';
import type { FieldsealConfig } from './config-file.js';
import { clientFromConfig, openFromConfig } from './open-from-config.js';
import { providerFromConfig } from './provider-config.js';
import type { KeyProvider } from '../kms/key-provider.js';
import { MissingPeerError } from '../errors.js';

/**
 * Options of {@link openDynamoFromConfig}.
 * @example
 * ```ts
 * const options: OpenDynamoOptions = { keyTable: 'fieldseal-keys', region: 'eu-west-1' };
 * ```
 */
export interface OpenDynamoOptions {
  /** Per-field policies, e.g. `{ ...Customer.policies }`. */
  readonly fields?: Readonly<Record<string, FieldPolicy>>;
  /**
   * Keep the tenants' data keys in this DynamoDB table (`DynamoKeyStore`) instead of the
   * configuration's database.
   */
  readonly keyTable?: string;
  /** AWS region of the DynamoDB client (default `AWS_REGION`, else `us-east-1`). */
  readonly region?: string;
  /** Endpoint of the DynamoDB client (DynamoDB Local, VPC endpoints). */
  readonly endpoint?: string;
  /**
   * The key administration the client may perform (`createFieldseal`'s `admin` option): none
   * by default; see docs/modes.md.
   */
  readonly admin?: boolean | readonly KeyAdminOperation[];
}

/**
 * What {@link openDynamoFromConfig} opened; `close()` releases all of it.
 * @example
 * ```ts
 * const { fs, client, close }: OpenedDynamo = await openDynamoFromConfig(config);
 * ```
 */
export interface OpenedDynamo {
  readonly fs: Fieldseal;
  /** A real SDK v3 client; credentials come from the default AWS chain. */
  readonly client: DynamoDBClient;
  /** The configuration's key provider (also the one that opens legacy seed values). */
  readonly provider: KeyProvider;
  close(): Promise<void>;
}

/**
 * A fieldseal client and a DynamoDB client from `fieldseal.config.json`: the configured key
 * provider and cache, and the tenants' data keys either in the configured database or, with
 * `keyTable`, in a `DynamoKeyStore`. What the `fieldseal dynamodb` commands run on.
 * @example
 * ```ts
 * const opened = await openDynamoFromConfig(readConfig('fieldseal.config.json'), {
 *   fields: { ...Customer.policies },
 *   keyTable: 'fieldseal-keys',
 * });
 * try {
 *   const repo = createDynamoRepository({ client: opened.client, fs: opened.fs, ... });
 * } finally {
 *   await opened.close();
 * }
 * ```
 */
export async function openDynamoFromConfig(
  config: FieldsealConfig,
  options: OpenDynamoOptions = {},
): Promise<OpenedDynamo> {
  // Loaded here, not at import: `fieldseal/config` works without the AWS SDK installed.
  const { DynamoDBClient } = await loadDynamoDB();
  const client = new DynamoDBClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  });
  const fields = {
    ...(options.fields === undefined ? {} : { fields: options.fields }),
    ...(options.admin === undefined ? {} : { admin: options.admin }),
  };
  try {
    if (options.keyTable === undefined) {
      const opened = await openFromConfig(config, fields);
      return {
        fs: opened.fs,
        client,
        provider: opened.provider,
        close: async () => {
          opened.fs.close();
          client.destroy();
          await opened.close();
        },
      };
    }
    const { provider, close: closeProvider } = await providerFromConfig(config.provider);
    let fs: Fieldseal;
    try {
      const { DynamoKeyStore } = await import('../dynamodb/key-store/dynamo-key-store.js');
      const store = new DynamoKeyStore({ client, tableName: options.keyTable });
      fs = clientFromConfig(config, provider, store, options.fields, options.admin);
    } catch (err) {
      await closeProvider();
      throw err;
    }
    return {
      fs,
      client,
      provider,
      close: async () => {
        fs.close();
        client.destroy();
        await closeProvider();
      },
    };
  } catch (err) {
    client.destroy();
    throw err;
  }
}

/** The DynamoDB client package, an optional peer: missing, a `MissingPeerError` saying what to install. */
async function loadDynamoDB(): Promise<typeof DynamoDB> {
  try {
    return await import('@aws-sdk/client-dynamodb');
  } catch (cause) {
    const { code, message } = cause as NodeJS.ErrnoException;
    // Only the package itself missing; a broken install inside it stays its own error.
    if (code !== 'ERR_MODULE_NOT_FOUND' || !message.includes("'@aws-sdk/client-dynamodb'")) {
      throw cause;
    }
    throw new MissingPeerError(
      'DynamoDB needs the optional peer dependency @aws-sdk/client-dynamodb: ' +
        'npm install @aws-sdk/client-dynamodb',
      { cause, details: { reference: '@aws-sdk/client-dynamodb' } },
    );
  }
}
