// Decoding of binary arrays sent by the kernel. The one place arrays are
// decoded: widgets call decodeArray and never touch buffers themselves.
//
// The Python side (landscape_widgets/_widget.py) sends a grid as little-endian
// float32 bytes in C order plus its shape; anywidget hands bytes traits to JS
// as a DataView.

const ITEMSIZE = { float32: 4 };

/**
 * Decode {buffer, dtype, shape} into a Float32Array.
 *
 * @param {{buffer: DataView | ArrayBuffer | ArrayBufferView, dtype: string, shape: number[]}} arr
 * @returns {{data: Float32Array, shape: number[]}}
 */
export function decodeArray({ buffer, dtype, shape }) {
  if (!(dtype in ITEMSIZE)) {
    throw new Error(`unsupported dtype "${dtype}" (expected float32)`);
  }
  if (!Array.isArray(shape) || shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`bad shape ${JSON.stringify(shape)}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = toBytes(buffer);
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
