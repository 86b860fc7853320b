import { KMSClient } from '@aws-sdk/client-kms';
import {
  AwsKmsKeyProvider,
  createTenantMasterKey,
  type AwsKmsKeyProviderOptions,
} from '../../src/kms/aws/index.js';
import { LoopbackKms } from './aws-kms-server.js';

/** A loopback KMS, a real SDK client pointed at it, and a way to build providers on it. */
export interface AwsKmsFixture {
  readonly kms: LoopbackKms;
  /** An SDK client with admin rights on the loopback (SDK retries off). */
  readonly admin: KMSClient;
  /** A provider on the loopback with short backoff (tests) unless `options` says otherwise. */
  provider(options?: AwsKmsKeyProviderOptions): AwsKmsKeyProvider;
  /** Create `alias/fieldseal/<tenant>` keys; returns their key ids. */
  tenants(...tenants: string[]): Promise<string[]>;
  close(): Promise<void>;
}

export async function startAwsKmsFixture(): Promise<AwsKmsFixture> {
  const kms = await LoopbackKms.start();
  const admin = new KMSClient({
    region: kms.region,
    endpoint: kms.endpoint,
    credentials: kms.credentials,
    maxAttempts: 1,
  });
  return {
    kms,
    admin,
    provider: (options = {}) =>
      new AwsKmsKeyProvider({
        region: kms.region,
        endpoint: kms.endpoint,
        clientConfig: { credentials: kms.credentials },
        ...options,
        retry: { baseDelayMs: 5, maxDelayMs: 20, attemptTimeoutMs: 2000, ...options.retry },
      }),
    tenants: async (...tenants) => {
      const ids: string[] = [];
      for (const tenant of tenants) {
        ids.push((await createTenantMasterKey({ client: admin, tenant })).keyId);
      }
      return ids;
    },
    close: async () => {
      admin.destroy();
      await kms.close();
    },
  };
}
