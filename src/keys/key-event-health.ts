import type { KeyEventBusState } from './key-events.js';

/**
 * The connection state of one key-event bus and its listeners (the optional health channel
 * of `KeyEventBus`, `onConnectionChange`): listeners hear each change once, a listener added
 * while disconnected hears `'disconnected'` at once, and a throwing listener never breaks the
 * bus or the other listeners.
 * @example
 * ```ts
 * const health = new KeyEventHealth();
 * const stop = health.listen((state) => console.log(state));
 * health.set('disconnected', new Error('connection lost')); // logs 'disconnected'
 * stop();
 * ```
 *
 */
export class KeyEventHealth {
  readonly #listeners = new Set<(state: KeyEventBusState, cause?: unknown) => void>();
  #state: KeyEventBusState = 'connected';
  #cause: unknown;

  /** The current state (`connected` until a loss is reported). */
  get state(): KeyEventBusState {
    return this.#state;
  }

  /** Record the state; listeners are told only when it changed. */
  set(state: KeyEventBusState, cause?: unknown): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#cause = state === 'disconnected' ? cause : undefined;
    for (const listener of [...this.#listeners]) notify(listener, state, this.#cause);
  }

  /** Add a listener (told `'disconnected'` at once when it is); returns its removal. */
  listen(listener: (state: KeyEventBusState, cause?: unknown) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError('listener: expected a function');
    this.#listeners.add(listener);
    if (this.#state === 'disconnected') notify(listener, 'disconnected', this.#cause);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Forget every listener (the bus was closed). */
  clear(): void {
    this.#listeners.clear();
  }
}

function notify(
  listener: (state: KeyEventBusState, cause?: unknown) => void,
  state: KeyEventBusState,
  cause: unknown,
): void {
  try {
    listener(state, cause);
  } catch {
    // A listener's failure is its own: the bus and the other listeners carry on.
  }
}
