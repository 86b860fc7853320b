import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blobKeyId, openBlob, sealBlob } from './aws-kms-blob.js';
import { KmsFaults, type KmsFault } from './aws-kms-faults.js';
import {
  KmsError,
  LoopbackKeys,
  checkUsable,
  pendingDeletion,
  str,
  type Json,
  type KeyState,
  type LoopbackKey,
} from './aws-kms-keys.js';

/**
 * A loopback AWS KMS for tests: node:http on 127.0.0.1 speaking the JSON 1.1 protocol that
 * `@aws-sdk/client-kms` sends to a custom `endpoint` (`POST /`, `x-amz-target: TrentService.<Op>`,
 * base64 blobs, `{"__type","message"}` errors). Keys are real AES-256-GCM keys; a ciphertext
 * blob (test/loopback/aws-kms-blob.ts) embeds its key id (so Decrypt needs no KeyId) and binds
 * the encryption context, which must match exactly. SigV4 signatures are not checked, but the
 * access key id can be limited to some operations (simulated IAM). Every request is logged.
 *
 * Start: `const kms = await LoopbackKms.start()`; stop: `await kms.close()`.
 */

/** One request as the loopback's CloudTrail records it. */
export interface TrailEvent {
  readonly operation: string;
  readonly accessKeyId?: string;
  /** The Region the request was signed for (SigV4 credential scope), as CloudTrail's awsRegion. */
  readonly signedRegion?: string;
  readonly keyId?: string;
  readonly encryptionContext?: Readonly<Record<string, string>>;
  errorCode?: string;
}

/** Simulated IAM policy: allowed operations, and a StringEquals condition on the context. */
interface LoopbackPolicy {
  readonly operations: readonly string[];
  readonly context: Readonly<Record<string, string>> | undefined;
}

/** Operations whose IAM conditions can name `kms:EncryptionContext:<key>`. */
const CONTEXT_OPERATIONS = new Set(['GenerateDataKey', 'Encrypt', 'Decrypt', 'ReEncrypt']);

export class LoopbackKms {
  readonly region: string;
  /** Fault injection (throttling, 5xx, latency, hang, dropped connection, malformed JSON). */
  readonly faults = new KmsFaults();
  /** Every request received, in order, by operation name (faulted ones included). */
  readonly operations: string[] = [];
  /**
   * A CloudTrail of every request whose body was read: operation, caller, key and encryption
   * context as sent, and the error code when it failed.
   */
  readonly trail: TrailEvent[] = [];
  /** Simulated IAM: access key id → what it may call (absent: everything). */
  readonly #policies = new Map<string, LoopbackPolicy>();
  readonly #keys: LoopbackKeys;
  readonly #server: Server;
  #port = 0;

  readonly #strictRegion: boolean;

  private constructor(region: string, strictRegion: boolean) {
    this.region = region;
    this.#strictRegion = strictRegion;
    this.#keys = new LoopbackKeys(region, strictRegion);
    this.#server = createServer((req, res) => void this.#handle(req, res));
    // Never close an idle keep-alive socket under a client during a test (Node's default is
    // 5 s): on a loaded machine the SDK could reuse it just as it closes and see ECONNRESET,
    // which the admin client (retries off) reports as a failure. `close()` ends them all.
    this.#server.keepAliveTimeout = 10 * 60_000;
  }

  /** Listen on 127.0.0.1 on a free port. */
  static async start(options: { region?: string } = {}): Promise<LoopbackKms> {
    // Started for a named Region, the server refuses ARNs of other Regions, as KMS does; the
    // default one serves any ARN (tests that fake several Regions on one server).
    const kms = new LoopbackKms(options.region ?? 'us-east-1', options.region !== undefined);
    await new Promise<void>((resolve) => kms.#server.listen(0, '127.0.0.1', resolve));
    kms.#port = (kms.#server.address() as AddressInfo).port;
    return kms;
  }

  /** The `endpoint` to give the SDK client. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Dummy credentials (signatures are not verified). */
  readonly credentials = { accessKeyId: 'AKIDLOOPBACK', secretAccessKey: 'loopback-secret' };

  /** How many requests named `operation` arrived (all of them without an argument). */
  count(operation?: string): number {
    return operation === undefined
      ? this.operations.length
      : this.operations.filter((o) => o === operation).length;
  }

  /**
   * Replicate a multi-Region key (`mrk-…`) into `to`'s Region: the same key id and material
   * under an ARN of that Region (what `ReplicateKey` makes).
   */
  replicateTo(keyIdOrAlias: string, to: LoopbackKms): string {
    return to.#keys.adoptReplica(this.#keys.resolve(keyIdOrAlias));
  }

  /** Make GetParametersForImport use RSA keys of this size whatever was asked (a bad KMS). */
  set importWrappingKeyBits(bits: number | undefined) {
    this.#keys.importKeyBits = bits;
  }

  /** Expire a key's imported material now, as KMS does at its ValidTo. */
  expireKeyMaterial(keyIdOrAlias: string): void {
    this.#keys.expireMaterial(keyIdOrAlias);
  }

  /** A copy of a key's material (to prove what an import stored). */
  keyMaterial(keyIdOrAlias: string): Buffer {
    return Buffer.from(this.#keys.resolve(keyIdOrAlias).material);
  }

  /** Set a key's state directly (as an administrator in the console would). */
  setKeyState(keyIdOrAlias: string, state: KeyState): void {
    const key = this.#keys.resolve(keyIdOrAlias);
    key.state = state;
    if (state !== 'PendingDeletion') delete key.deletionDate;
  }

  /**
   * Credentials whose calls are limited to `operations` (like an IAM policy allowing only
   * `kms:<Op>`); any other call is `AccessDeniedException`.
   */
  restrictedCredentials(
    name: string,
    operations: readonly string[],
    condition: { readonly encryptionContext?: Readonly<Record<string, string>> } = {},
  ): { accessKeyId: string; secretAccessKey: string } {
    const accessKeyId = `AKID${name.toUpperCase().replace(/[^A-Z0-9]/g, '')}`;
    this.#policies.set(accessKeyId, { operations, context: condition.encryptionContext });
    return { accessKeyId, secretAccessKey: 'loopback-secret' };
  }

  /** Stop listening and cut every connection, hanging ones included. */
  async close(): Promise<void> {
    this.faults.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = req.headers['x-amz-target'];
    const op =
      typeof target === 'string' && target.startsWith('TrentService.') ? target.slice(13) : '?';
    this.operations.push(op);
    let policy: LoopbackPolicy | undefined;
    let event: TrailEvent | undefined;
    const fault: KmsFault | undefined = await this.faults.before(op);
    if (fault === 'hang') return; // never answer; the client must time out
    if (fault === 'drop') return void req.socket.destroy();
    if (fault === 'malformed') return this.#send(res, 200, '{"KeyId":"arn:aws:kms:trunc');
    try {
      if (fault === 'throttle') throw new KmsError('ThrottlingException', 'Rate exceeded');
      if (fault === 'server-error') {
        throw new KmsError('KMSInternalException', 'internal error', 500);
      }
      if (req.method !== 'POST' || !String(req.headers['content-type']).includes('amz-json')) {
        throw new KmsError('UnknownOperationException', 'bad request');
      }
      // SigV4: Credential=<access key id>/<date>/<region>/kms/aws4_request
      const scope = /Credential=([^/,\s]+)\/\d{8}\/([a-z0-9-]+)\//.exec(
        String(req.headers.authorization),
      );
      const caller = scope?.[1];
      if (this.#strictRegion && scope?.[2] !== undefined && scope[2] !== this.region) {
        // As KMS: a request signed for another Region is refused before anything else.
        throw new KmsError(
          'InvalidSignatureException',
          `Credential should be scoped to a valid region, not '${scope[2]}'`,
        );
      }
      policy = caller === undefined ? undefined : this.#policies.get(caller);
      if (policy !== undefined && !policy.operations.includes(op)) {
        throw new KmsError(
          'AccessDeniedException',
          `User ${caller} is not authorized to perform: kms:${op}`,
        );
      }
      let body: Json;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json;
      } catch {
        throw new KmsError('SerializationException', 'body is not JSON');
      }
      event = {
        operation: op,
        ...(caller === undefined ? {} : { accessKeyId: caller }),
        ...(scope?.[2] === undefined ? {} : { signedRegion: scope[2] }),
        ...(typeof body.KeyId === 'string' ? { keyId: body.KeyId } : {}),
        ...(typeof body.EncryptionContext === 'object' && body.EncryptionContext !== null
          ? { encryptionContext: { ...(body.EncryptionContext as Record<string, string>) } }
          : {}),
      };
      this.trail.push(event);
      if (policy?.context !== undefined && CONTEXT_OPERATIONS.has(op)) {
        const sent = Object.entries(context(body));
        for (const [name, value] of Object.entries(policy.context)) {
          // Condition keys name context entries without regard to case, as in AWS.
          const matching = sent.filter(([k]) => k.toLowerCase() === name.toLowerCase());
          if (matching.length === 0 || matching.some(([, v]) => v !== value)) {
            throw new KmsError(
              'AccessDeniedException',
              `User ${caller} is not authorized to perform: kms:${op} (condition kms:EncryptionContext:${name})`,
            );
          }
        }
      }
      this.#send(res, 200, JSON.stringify(this.#dispatch(op, body)));
    } catch (err) {
      const e =
        err instanceof KmsError ? err : new KmsError('KMSInternalException', String(err), 500);
      if (event !== undefined) event.errorCode = e.type;
      this.#send(res, e.status, JSON.stringify({ __type: e.type, message: e.message }));
    }
  }

  #send(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': randomUUID(),
    });
    res.end(body);
  }

  #dispatch(op: string, b: Json): Json {
    switch (op) {
      case 'CreateKey':
        return this.#keys.create(b);
      case 'CreateAlias':
        return this.#keys.createAlias(b);
      case 'DescribeKey':
        return { KeyMetadata: this.#keys.metadata(this.#keys.resolve(str(b.KeyId, 'KeyId'))) };
      case 'ListResourceTags':
        return { Tags: this.#keys.resolve(str(b.KeyId, 'KeyId')).tags, Truncated: false };
      case 'GenerateDataKey':
        return this.#generateDataKey(b);
      case 'Encrypt': {
        const key = this.#keys.usable(str(b.KeyId, 'KeyId'));
        const plaintext = Buffer.from(str(b.Plaintext, 'Plaintext'), 'base64');
        if (plaintext.length < 1 || plaintext.length > 4096) {
          throw new KmsError('ValidationException', 'Plaintext must be 1 to 4096 bytes');
        }
        return { KeyId: key.arn, CiphertextBlob: seal(key, plaintext, context(b)) };
      }
      case 'Decrypt':
        return this.#decrypt(b);
      case 'DisableKey':
      case 'EnableKey': {
        const key = this.#keys.resolve(str(b.KeyId, 'KeyId'));
        if (key.state === 'PendingDeletion') throw pendingDeletion(key);
        if (key.state === 'PendingImport') {
          throw new KmsError('KMSInvalidStateException', `${key.arn} is pending import.`);
        }
        key.state = op === 'EnableKey' ? 'Enabled' : 'Disabled';
        return {};
      }
      case 'GetParametersForImport':
        return this.#keys.parametersForImport(b);
      case 'ImportKeyMaterial':
        return this.#keys.importKeyMaterial(b);
      case 'ScheduleKeyDeletion':
        return this.#keys.scheduleDeletion(b);
      default:
        throw new KmsError('UnknownOperationException', `unknown operation ${op}`);
    }
  }

  #generateDataKey(b: Json): Json {
    const key = this.#keys.usable(str(b.KeyId, 'KeyId'));
    const bytes = b.KeySpec === 'AES_256' ? 32 : b.KeySpec === 'AES_128' ? 16 : b.NumberOfBytes;
    if (typeof bytes !== 'number' || bytes < 1 || bytes > 1024) {
      throw new KmsError('ValidationException', 'KeySpec or NumberOfBytes is required');
    }
    const plaintext = randomBytes(bytes);
    return {
      KeyId: key.arn,
      Plaintext: plaintext.toString('base64'),
      CiphertextBlob: seal(key, plaintext, context(b)),
    };
  }

  #decrypt(b: Json): Json {
    const blob = Buffer.from(str(b.CiphertextBlob, 'CiphertextBlob'), 'base64');
    // A named key that does not exist here is NotFoundException, before the blob is read.
    if (typeof b.KeyId === 'string') this.#keys.resolve(b.KeyId);
    const keyId = blobKeyId(blob);
    const key = keyId === undefined ? undefined : this.#keys.byId(keyId);
    if (key === undefined) {
      throw new KmsError('InvalidCiphertextException', 'ciphertext is not valid');
    }
    if (typeof b.KeyId === 'string' && this.#keys.resolve(b.KeyId).id !== key.id) {
      throw new KmsError(
        'IncorrectKeyException',
        'The key ID in the request does not identify a CMK that can perform this operation',
      );
    }
    checkUsable(key);
    let plaintext: Buffer;
    try {
      plaintext = openBlob(blob, key.material, context(b));
    } catch {
      throw new KmsError('InvalidCiphertextException', 'ciphertext is not valid');
    }
    return {
      KeyId: key.arn,
      Plaintext: plaintext.toString('base64'),
      EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }
}

function context(b: Json): Record<string, string> {
  const ctx = b.EncryptionContext;
  return typeof ctx === 'object' && ctx !== null ? (ctx as Record<string, string>) : {};
}

function seal(key: LoopbackKey, plaintext: Buffer, ctx: Record<string, string>): string {
  return sealBlob(key.id, key.material, plaintext, ctx).toString('base64');
}
