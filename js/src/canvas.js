// Drawing primitives shared by the map and the line plots.

/**
 * A canvas of w x h CSS pixels backed by w * dpr x h * dpr device pixels
 * (resized only when that changes, which clears it); returns its context,
 * scaled so that drawing is in CSS pixels.
 */
export function sizeCanvas(canvas, w, h, dpr) {
  const pw = Math.round(w * dpr);
  const ph = Math.round(h * dpr);
  if (canvas.width !== pw || canvas.height !== ph) {
    canvas.width = pw;
    canvas.height = ph;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** A straight line from (x0, y0) to (x1, y1) in the current stroke style. */
export function line(ctx, x0, y0, x1, y1) {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

/** Stroke the current path in `color` over a wider `halo`, so it reads on any background. */
export function strokeWithHalo(ctx, color, width, halo = "rgba(255, 255, 255, 0.8)") {
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  ctx.lineWidth = width + 2.5;
  ctx.strokeStyle = halo;
  ctx.stroke();
  ctx.lineWidth = width;
  ctx.strokeStyle = color;
  ctx.stroke();
}
