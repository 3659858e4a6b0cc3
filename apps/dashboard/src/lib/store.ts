import { startTransition, useEffect, useState, useSyncExternalStore } from 'react';

/**
 * A mutable store that React reads through a version number: the views re-render once per
 * change, that is once per batch of events, however many records the batch touched.
 */
export class VersionedStore {
  #version = 0;
  readonly #listeners = new Set<() => void>();

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  readonly getVersion = (): number => this.#version;

  protected changed(): void {
    this.#version++;
    for (const listener of this.#listeners) listener();
  }
}

/** The store's version, re-rendering the component whenever it changes. */
export function useVersion(store: VersionedStore): number {
  return useSyncExternalStore(store.subscribe, store.getVersion);
}

/**
 * The store's version, its changes rendered as transitions: React renders them in slices that
 * yield to the browser, so a burst of events never blocks scrolling or typing. For views whose
 * stores change many times a second.
 */
export function useDeferredVersion(store: VersionedStore): number {
  const [version, setVersion] = useState(store.getVersion);
  useEffect(() => {
    setVersion(store.getVersion());
    return store.subscribe(() => startTransition(() => setVersion(store.getVersion())));
  }, [store]);
  return version;
}
