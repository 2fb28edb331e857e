type Listener<T> = (arg: T) => void;

// A small typed event emitter. A throwing listener is logged and does not
// stop the others: one page bug must not break the SDK's event processing.
export class Emitter<Events extends object> {
  private listeners = new Map<keyof Events, Array<Listener<never>>>();
  private onceWrappers = new WeakMap<Listener<never>, Listener<never>>();

  on<K extends keyof Events>(name: K, fn: Listener<Events[K]>): this {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    const list = this.listeners.get(name) || [];
    list.push(fn as Listener<never>);
    this.listeners.set(name, list);
    return this;
  }

  /** Removes fn (also when registered with once), or every listener of name. */
  off<K extends keyof Events>(name: K, fn?: Listener<Events[K]>): this {
    const list = this.listeners.get(name);
    if (!list) return this;
    if (!fn) {
      this.listeners.delete(name);
      return this;
    }
    const wrapper = this.onceWrappers.get(fn as Listener<never>);
    this.listeners.set(name, list.filter((l) => l !== fn && l !== wrapper));
    return this;
  }

  once<K extends keyof Events>(name: K, fn: Listener<Events[K]>): this {
    const wrapper: Listener<Events[K]> = (arg) => {
      this.off(name, wrapper);
      fn(arg);
    };
    this.onceWrappers.set(fn as Listener<never>, wrapper as Listener<never>);
    return this.on(name, wrapper);
  }

  protected emit<K extends keyof Events>(name: K, arg: Events[K]): void {
    const list = this.listeners.get(name);
    if (!list) return;
    for (const fn of list.slice()) {
      try {
        (fn as Listener<Events[K]>)(arg);
      } catch (err) {
        console.error('[minirtc] listener for "' + String(name) + '" threw', err);
      }
    }
  }
}
