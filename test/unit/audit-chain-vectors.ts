import type { AuditEvent } from '../../src/audit/audit-event.js';

/**
 * Frozen test vectors of the audit chain format v1 (docs/audit.md#test-vectors): five events
 * covering absent, empty and present optional fields, a failure, and a nested `detail`, with
 * the hashes of rows 1–5. A change to any hash means the encoding changed: never edit them,
 * add a new format version instead.
 */
export const VECTOR_EVENTS: readonly AuditEvent[] = [
  {
    at: new Date('2025-01-02T03:04:05.678Z'),
    actor: 'svc-billing',
    operation: 'provision',
    tenant: 'acme',
    keyId: 'default',
    version: 1,
    providerId: 'local',
    masterKeyId: 'master',
    outcome: 'success',
  },
  {
    at: new Date('2025-01-02T03:04:06.000Z'),
    actor: 'svc-billing',
    operation: 'unwrap',
    tenant: 'acme',
    keyId: 'default',
    version: 1,
    providerId: 'local',
    masterKeyId: 'master',
    outcome: 'failure',
    errorCode: 'ERR_PROVIDER_UNAVAILABLE',
  },
  {
    at: new Date('2025-01-02T03:04:07.001Z'),
    actor: 'ops:alice',
    operation: 'shred',
    tenant: 'globex',
    keyId: 'default',
    outcome: 'success',
    detail: {
      versions: [1, 2, 3],
      reason: 'GDPR Art. 17 — erasure',
      ratio: -0.5,
      big: 9007199254740991,
      ok: true,
      none: null,
      nested: { z: 'ü', a: [] },
    },
  },
  {
    at: new Date('1999-12-31T23:59:59.999Z'),
    actor: '',
    operation: 'backfill-start',
    tenant: '',
    outcome: 'success',
    detail: {},
  },
  {
    at: new Date('2025-01-02T03:04:08.000Z'),
    actor: 'svc',
    operation: 'backfill-stop',
    outcome: 'success',
  },
];

/** SHA-256 chain (no key): the hash of rows 1–5. */
export const VECTOR_HASHES: readonly string[] = [
  '134ec17f4f364fdfec6bee1e470d6d330307e2195a53bf5cc3c0a4d28efc4035',
  'f477874430fdd2a131d3e095c986eb546e6f7ce39a38a7245dc46d9bd5f718cc',
  '7e264ddfefd132a6fa3b11dff1f6a9bf6365fa33b26550e495392469c93d0a14',
  '33216f5aebcaa39c061d104a051e60ac986963dbb1a855bcc68de3b37c283848',
  'be8695d9d56357e025d850a19657c5ce58ca8834192b3c364e376fb97330a955',
];

/** The HMAC key of the keyed vectors: bytes 0x01, 0x02, … 0x20. */
export const VECTOR_KEY_BYTES = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

/** HMAC-SHA256 chain under {@link VECTOR_KEY_BYTES}: the hash of rows 1–5. */
export const VECTOR_KEYED_HASHES: readonly string[] = [
  '89f99d3a6b372d74104d1be7dc344ca12971cdf323eed126bac1d2ae7cbe2de9',
  '636fa47dd87f3664050cf4bef216dacf61e7351875d51be2022470e6e6505c6b',
  'f0d018cb0eccec3c524a445b4e4e95b79ad60666695cc652c78a9b08f65b3670',
  '2d663d0f02206fda65c9377f1a418532f5a5b9bc9e61e3502e3d41b51d76f5cb',
  '3c7772d9c13dd1f7fdf1946957aadadd83a5a222f83fff5a57ac4bd113871039',
];

/** The complete encoding of row 1 (hex), byte for byte as docs/audit.md lays it out. */
export const VECTOR_ROW1_ENCODING =
  '000000126669656c647365616c2d61756469742d7631' + // "fieldseal-audit-v1", length-prefixed
  '0000000000000001' + // seq 1
  '0000000000000000000000000000000000000000000000000000000000000000' + // genesis prev_hash
  '00062ab06a436bb0' + // at: 1735787045678000 µs
  '0000000b7376632d62696c6c696e67' + // actor "svc-billing"
  '0000000970726f766973696f6e' + // operation "provision"
  '01' +
  '0000000461636d65' + // tenant present, "acme"
  '01' +
  '0000000764656661756c74' + // key_id present, "default"
  '01' +
  '0000000000000001' + // version present, 1
  '01' +
  '000000056c6f63616c' + // provider_id present, "local"
  '01' +
  '000000066d6173746572' + // master_key_id present, "master"
  '0000000773756363657373' + // outcome "success"
  '00' + // error_code absent
  '00'; // detail absent
