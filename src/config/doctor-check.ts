/**
 * One check of `runDoctor`.
 * @example
 * ```ts
 * const failed: DoctorCheck[] = (await runDoctor(CONFIG_FILE)).filter((c) => !c.ok);
 * ```
 */
export interface DoctorCheck {
  readonly check: string;
  readonly ok: boolean;
  /**
   * `'warning'` on a check that is not ok but does not stop the setup from working (a health
   * threshold passed): `fieldseal doctor` prints WARN and still exits 0 for it.
   */
  readonly level?: 'warning';
  /** What was found (never a key or a value). */
  readonly detail: string;
  /** How to fix it, when not ok. */
  readonly fix?: string;
}
