// Arrays from the kernel. The one place arrays are decoded: widgets call
// decodeArray and never touch buffers themselves.
//
// The Python side (landscape_widgets/wire/codec.py) serialises every numpy
// array inside a trait's value as {dtype, shape, buffer}, the buffer holding
// little-endian float32 bytes in C order; ipywidgets hands that buffer to the
// page as a DataView, at the same place. A custom message carries its bytes
// beside the JSON instead: there `buffer` is an index into the message's
// buffers.

const ITEMSIZE = { float32: 4 };

/** A decoded grid with no cells: what a widget shows before its first grid. */
export const EMPTY_GRID = Object.freeze({ data: new Float32Array(0), shape: Object.freeze([0, 0]) });

/**
 * Decode an array sent by the kernel into a Float32Array.
 *
 * @param {{dtype: string, shape: number[], buffer: DataView | ArrayBuffer | ArrayBufferView | number}} arr
 * @param {DataView[]} [buffers] a custom message's buffers, when `buffer` is an index into them
 * @returns {{data: Float32Array, shape: number[]}}
 */
export function decodeArray(arr, buffers = null) {
  if (!arr || typeof arr !== "object") {
    throw new Error(`expected an array {dtype, shape, buffer}, got ${JSON.stringify(arr)}`);
  }
  const { dtype, shape } = arr;
  if (!(dtype in ITEMSIZE)) {
    throw new Error(`unsupported dtype "${dtype}" (expected float32)`);
  }
  if (!Array.isArray(shape) || shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`bad shape ${JSON.stringify(shape)}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = toBytes(typeof arr.buffer === "number" ? messageBuffer(arr.buffer, buffers) : arr.buffer);
  if (bytes.byteLength !== count * ITEMSIZE[dtype]) {
    throw new Error(
      `buffer holds ${bytes.byteLength} bytes, shape ${JSON.stringify(shape)} ` +
        `needs ${count * ITEMSIZE[dtype]}`,
    );
  }
  let data;
  if (bytes.byteOffset % 4 === 0 && littleEndian()) {
    data = new Float32Array(bytes.buffer, bytes.byteOffset, count);
  } else {
    // Unaligned view or big-endian platform: read element by element.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
  }
  return { data, shape: [...shape] };
}

/** Value at row i, column j of a decoded 2-D array. */
export function at({ data, shape }, i, j) {
  return data[i * shape[1] + j];
}

function messageBuffer(index, buffers) {
  if (!buffers || !Number.isInteger(index) || index < 0 || index >= buffers.length) {
    throw new Error(`the array points at buffer ${index}, the message has ${buffers ? buffers.length : 0}`);
  }
  return buffers[index];
}

function toBytes(buffer) {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  if (buffer == null) return new Uint8Array(0);
  throw new Error(`cannot decode a buffer of type ${typeof buffer}`);
}

let isLittle;
function littleEndian() {
  if (isLittle === undefined) {
    isLittle = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  }
  return isLittle;
}
