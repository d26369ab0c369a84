import { useEffect, useReducer } from 'preact/hooks';

/** A value that components re-render on when it changes (a few lines instead of another dependency). */
export class Signal<T> {
  private readonly subscribers = new Set<() => void>();

  constructor(private current: T) {}

  get value(): T {
    return this.current;
  }

  set value(next: T) {
    if (Object.is(next, this.current)) return;
    this.current = next;
    for (const f of [...this.subscribers]) f();
  }

  subscribe(f: () => void): () => void {
    this.subscribers.add(f);
    return () => this.subscribers.delete(f);
  }
}

export const signal = <T,>(v: T) => new Signal(v);

export function useSignal<T>(s: Signal<T>): T {
  const [, force] = useReducer((x: number, _: number) => x + 1, 0);
  useEffect(() => s.subscribe(() => force(0)), [s]);
  return s.value;
}
