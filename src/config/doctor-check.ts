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
  /** What was found (never a key or a value). */
  readonly detail: string;
  /** How to fix it, when not ok. */
  readonly fix?: string;
}
