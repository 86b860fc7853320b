import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AwsKmsKeyProvider,
  tenantMasterKeyAlias,
  type KmsClientLike,
} from '../../src/kms/aws/index.js';
import { startAwsKmsFixture, type AwsKmsFixture } from '../loopback/aws-kms-fixture.js';

// Server: test/loopback/aws-kms-server.ts (in-process, 127.0.0.1:0) through the real SDK
// client; the error table also uses a stub client that throws SDK-shaped errors.

const ctx = Object.freeze({ tenant: 'acme' });

describe('AwsKmsKeyProvider clients', () => {
  let f: AwsKmsFixture;
  beforeAll(async () => {
    f = await startAwsKmsFixture();
  });
  afterAll(() => f.close());

  it('a client supplier is asked once per region: ARNs by their region, ids and aliases by undefined', async () => {
    const [id] = await f.tenants('region-t');
    const asked: (string | undefined)[] = [];
    const provider = new AwsKmsKeyProvider({
      client: (region) => {
        asked.push(region);
        return new KMSClient({
          region: region ?? f.kms.region,
          endpoint: f.kms.endpoint,
          credentials: f.kms.credentials,
          maxAttempts: 1,
        });
      },
    });
    const arn = `arn:aws:kms:eu-west-1:111122223333:key/${id}`;
    for (const mk of [arn, tenantMasterKeyAlias('region-t'), id!, arn]) {
      const { key, wrapped } = await provider.generateDataKey(mk, ctx);
      key.release();
      (await provider.unwrapDataKey(mk, wrapped, ctx)).release();
    }
    expect(asked).toEqual(['eu-west-1', undefined]);
  });

  it('one client instance serves every region', async () => {
    const [id] = await f.tenants('instance-t');
    const provider = new AwsKmsKeyProvider({ client: f.admin });
    const { key } = await provider.generateDataKey(
      `arn:aws:kms:ap-south-1:111122223333:key/${id}`,
      ctx,
    );
    key.release();
  });

  it('the per-attempt timeout holds even for a client that ignores its abort signal', async () => {
    let calls = 0;
    const stuck: KmsClientLike = {
      send: () => {
        calls++;
        return new Promise<never>(() => undefined);
      },
    };
    const provider = new AwsKmsKeyProvider({
      client: stuck,
      retry: { attemptTimeoutMs: 50, baseDelayMs: 1, maxDelayMs: 1 },
    });
    await expect(provider.generateDataKey('alias/x', ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      cause: { awsName: 'Timeout' },
    });
    expect(calls).toBe(3);
  });

  it.each([
    ['DependencyTimeoutException', 'server', 503, 'ERR_PROVIDER_UNAVAILABLE', 3],
    ['KeyUnavailableException', 'server', 500, 'ERR_PROVIDER_UNAVAILABLE', 3],
    ['SomethingNew', 'server', 502, 'ERR_PROVIDER_UNAVAILABLE', 3],
    ['LimitExceededException', 'client', 400, 'ERR_PROVIDER_UNAVAILABLE', 1],
    ['InvalidKeyUsageException', 'client', 400, 'ERR_KEY_NOT_CONFIGURED', 1],
    ['UnrecognizedClientException', 'client', 400, 'ERR_ACCESS_DENIED', 1],
    ['ExpiredTokenException', 'client', 400, 'ERR_ACCESS_DENIED', 1],
    ['CredentialsProviderError', undefined, undefined, 'ERR_ACCESS_DENIED', 1],
    ['ValidationException', 'client', 400, 'ERR_PROVIDER_UNAVAILABLE', 1],
  ] as const)('%s → %s', async (name, fault, status, code, attempts) => {
    let calls = 0;
    const provider = new AwsKmsKeyProvider({
      client: {
        send: () => {
          calls++;
          return Promise.reject(
            Object.assign(new Error(`${name} happened`), {
              name,
              ...(fault === undefined ? {} : { $fault: fault }),
              ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }),
            }),
          );
        },
      },
      retry: { baseDelayMs: 1, maxDelayMs: 1 },
    });
    await expect(provider.unwrapDataKey('alias/x', new Uint8Array(64), ctx)).rejects.toMatchObject({
      code,
      details: { keyRef: 'aws-kms:alias/x' },
    });
    expect(calls).toBe(attempts);
  });

  it('an invalid key state other than pending deletion is ERR_PROVIDER_UNAVAILABLE', async () => {
    const provider = new AwsKmsKeyProvider({
      client: {
        send: () =>
          Promise.reject(
            Object.assign(new Error('arn:aws:kms:…:key/1 is pending import.'), {
              name: 'KMSInvalidStateException',
              $fault: 'client',
              $metadata: { httpStatusCode: 400 },
            }),
          ),
      },
    });
    await expect(provider.generateDataKey('alias/x', ctx)).rejects.toMatchObject({
      code: 'ERR_PROVIDER_UNAVAILABLE',
      message: 'AWS KMS master key is not in a usable state',
    });
  });

  describe('configFrom: the region and credentials of another SDK client', () => {
    // An SDK client's resolved config, as DynamoDBClient holds it: a region provider, and
    // credentials behind a getter.
    const sdkClient = (accessKeyId: string, region = f.kms.region) => {
      const config = { region: () => Promise.resolve(region) };
      Object.defineProperty(config, 'credentials', {
        get: () => () => Promise.resolve({ accessKeyId, secretAccessKey: 'x' }),
      });
      return { config };
    };
    const lastCaller = () => f.kms.trail.at(-1);

    it('KMS calls are made as that identity, in that Region', async () => {
      const [id] = await f.tenants('inherit-t');
      const provider = new AwsKmsKeyProvider({
        configFrom: sdkClient('AKIDINHERITED', 'eu-central-1'),
        endpoint: f.kms.endpoint,
      });
      await provider.generateDataKey(id!, ctx);
      expect(lastCaller()).toMatchObject({
        accessKeyId: 'AKIDINHERITED',
        signedRegion: 'eu-central-1',
      });
    });

    it('an explicit region and credentials win', async () => {
      const [id] = await f.tenants('inherit-u');
      const provider = new AwsKmsKeyProvider({
        configFrom: sdkClient('AKIDINHERITED', 'eu-central-1'),
        region: 'eu-north-1',
        clientConfig: { credentials: { accessKeyId: 'AKIDEXPLICIT', secretAccessKey: 'x' } },
        endpoint: f.kms.endpoint,
      });
      await provider.generateDataKey(id!, ctx);
      expect(lastCaller()).toMatchObject({
        accessKeyId: 'AKIDEXPLICIT',
        signedRegion: 'eu-north-1',
      });
    });

    it.each([
      ['not a client', 42, /expected an AWS SDK v3 client/],
      ['a client without config', {}, /expected an AWS SDK v3 client/],
      ['a config without region', { config: {} }, /has no region/],
      [
        'credentials that are not',
        { config: { region: 'eu-west-1', credentials: 'AKID' } },
        /not credentials/,
      ],
    ])('refuses %s when the provider is built', (_, configFrom, message) => {
      expect(() => new AwsKmsKeyProvider({ configFrom: configFrom as never })).toThrow(message);
    });

    it('refuses configFrom next to a client (nothing could be inherited)', () => {
      expect(
        () =>
          new AwsKmsKeyProvider({
            configFrom: sdkClient('AKIDX'),
            client: new KMSClient({ region: 'eu-west-1' }),
          }),
      ).toThrow(/not both/);
    });
  });
});
