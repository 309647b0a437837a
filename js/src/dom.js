// Small DOM helpers of the widgets' views.

/** A new element with inline style, text and class name (each optional). */
export function element(tag, css, text, className) {
  const el = document.createElement(tag);
  if (css) el.style.cssText = css;
  if (text) el.textContent = text;
  if (className) el.className = className;
  return el;
}

/** Where a pointer or wheel event falls on `target`, in CSS pixels from its top left. */
export function pointerXY(target, ev) {
  const r = target.getBoundingClientRect();
  return [ev.clientX - r.left, ev.clientY - r.top];
}

/**
 * Add the listeners [[type, listener, options?], ...] to `target`; returns a
 * function that removes them.
 */
export function listen(target, handlers) {
  for (const [type, fn, options] of handlers) target.addEventListener(type, fn, options);
  return () => {
    for (const [type, fn, options] of handlers) target.removeEventListener(type, fn, options);
  };
}

/**
 * Follow the pointer on `target`: down, move, up (a cancelled gesture ends
 * as if let go) and leave. Returns a function that stops.
 */
export function followPointer(target, { down, move, up, leave }) {
  return listen(target, [
    ["pointerdown", down],
    ["pointermove", move],
    ["pointerup", up],
    ["pointercancel", up],
    ["mouseleave", leave],
  ]);
}
