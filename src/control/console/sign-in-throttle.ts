// Failed sign-ins are counted per client address in a fixed window: past the limit the address is
// refused (429) without checking the secret, so the console is no faster an oracle for guessing a
// secret than the token endpoint. The table of addresses is bounded (a spray from many addresses
// drops the oldest entries, never grows memory).
export const SIGN_IN_LIMITS = {
  /** Failures an address may have in one window. */
  maxFailures: 5,
  windowMs: 60_000,
  /** Addresses remembered at once. */
  maxAddresses: 10_000,
  /** Secrets checked at once: each scrypt takes 16 MiB and a core for ~50 ms, so many addresses at once cannot exhaust memory. */
  maxConcurrent: 4,
} as const;

interface Window {
  startedAt: number;
  failures: number;
}

export class SignInThrottle {
  readonly #windows = new Map<string, Window>();
  readonly #limits: Record<keyof typeof SIGN_IN_LIMITS, number>;

  constructor(limits: Partial<Record<keyof typeof SIGN_IN_LIMITS, number>> = {}) {
    this.#limits = { ...SIGN_IN_LIMITS, ...limits };
  }

  /** Seconds until the address may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    const window = this.#windows.get(address);
    if (!window || now - window.startedAt >= this.#limits.windowMs) return 0;
    if (window.failures < this.#limits.maxFailures) return 0;
    return Math.ceil((window.startedAt + this.#limits.windowMs - now) / 1000);
  }

  #inFlight = 0;

  /** Takes a slot for one secret check, or false when all are busy (the caller answers 503). */
  begin(): boolean {
    if (this.#inFlight >= this.#limits.maxConcurrent) return false;
    this.#inFlight += 1;
    return true;
  }

  end(): void {
    this.#inFlight -= 1;
  }

  recordFailure(address: string, now = Date.now()): void {
    const current = this.#windows.get(address);
    if (current && now - current.startedAt < this.#limits.windowMs) {
      current.failures += 1;
      return;
    }
    this.#windows.delete(address);
    while (this.#windows.size >= this.#limits.maxAddresses) this.#windows.delete(this.#windows.keys().next().value!);
    this.#windows.set(address, { startedAt: now, failures: 1 });
  }

  recordSuccess(address: string): void {
    this.#windows.delete(address);
  }
}
