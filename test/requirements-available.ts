import { inject } from 'vitest';
import type { RequirementId } from './requirements.js';

/*
 * For test files: whether a requirement detected by test/global-setup.ts is present, for
 * `describe.skipIf(!available('java'))(…)`. Every such skip is named in the run's summary.
 */
const detected = inject('fieldsealRequirements');

/** Whether the requirement is present on this machine (as the global setup detected it). */
export function available(id: RequirementId): boolean {
  if (detected === undefined) {
    throw new Error('test requirements were not detected: run the tests through vitest.config.ts');
  }
  return detected[id].available;
}
