'use strict';

// A small event emitter. A throwing listener is logged and does not stop the
// others: one page bug must not break the SDK's event processing.
class Emitter {
  constructor() {
    this._listeners = {};
  }

  on(name, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    (this._listeners[name] || (this._listeners[name] = [])).push(fn);
    return this;
  }

  off(name, fn) {
    const list = this._listeners[name];
    if (!list) return this;
    if (!fn) delete this._listeners[name];
    else this._listeners[name] = list.filter((l) => l !== fn && l._once !== fn);
    return this;
  }

  once(name, fn) {
    const wrapper = (arg) => {
      this.off(name, wrapper);
      fn(arg);
    };
    wrapper._once = fn;
    return this.on(name, wrapper);
  }

  emit(name, arg) {
    const list = this._listeners[name];
    if (!list) return;
    for (const fn of list.slice()) {
      try {
        fn(arg);
      } catch (err) {
        console.error('[minirtc] listener for "' + name + '" threw', err);
      }
    }
  }
}

module.exports = { Emitter };
