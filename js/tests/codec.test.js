import { describe, expect, it } from "vitest";
import { EMPTY_GRID, at, decodeArray } from "../src/codec.js";

function bytesOf(values) {
  return new DataView(new Float32Array(values).buffer);
}

describe("decodeArray", () => {
  it("decodes a float32 DataView with its shape", () => {
    const arr = decodeArray({ buffer: bytesOf([1, 2, 3, 4, 5, 6]), dtype: "float32", shape: [2, 3] });
    expect(arr.shape).toEqual([2, 3]);
    expect(arr.data).toBeInstanceOf(Float32Array);
    expect([...arr.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(at(arr, 1, 0)).toBe(4);
    expect(at(arr, 0, 2)).toBe(3);
  });

  it("keeps NaN and infinities", () => {
    const arr = decodeArray({ buffer: bytesOf([NaN, Infinity, -Infinity, 0.5]), dtype: "float32", shape: [2, 2] });
    expect(arr.data[0]).toBeNaN();
    expect(arr.data[1]).toBe(Infinity);
    expect(arr.data[2]).toBe(-Infinity);
    expect(arr.data[3]).toBe(0.5);
  });

  it("reads little-endian bytes from an unaligned view", () => {
    const raw = new Uint8Array(1 + 8);
    const dv = new DataView(raw.buffer);
    dv.setFloat32(1, 1.5, true);
    dv.setFloat32(5, -2.25, true);
    const view = new DataView(raw.buffer, 1, 8);
    const arr = decodeArray({ buffer: view, dtype: "float32", shape: [1, 2] });
    expect([...arr.data]).toEqual([1.5, -2.25]);
  });

  it("accepts ArrayBuffer and typed arrays", () => {
    const f = new Float32Array([7, 8]);
    expect([...decodeArray({ buffer: f.buffer, dtype: "float32", shape: [2] }).data]).toEqual([7, 8]);
    expect([...decodeArray({ buffer: f, dtype: "float32", shape: [1, 2] }).data]).toEqual([7, 8]);
  });

  it("decodes an empty grid", () => {
    const arr = decodeArray({ buffer: new DataView(new ArrayBuffer(0)), dtype: "float32", shape: [0, 0] });
    expect(arr.data.length).toBe(0);
    expect(arr).toEqual({ data: EMPTY_GRID.data, shape: [...EMPTY_GRID.shape] });
  });

  it("takes the bytes of a message's array from the message's buffers", () => {
    const buffers = [bytesOf([1]), bytesOf([2, 3])];
    expect([...decodeArray({ buffer: 1, dtype: "float32", shape: [2] }, buffers).data]).toEqual([2, 3]);
    expect([...decodeArray({ buffer: 0, dtype: "float32", shape: [1] }, buffers).data]).toEqual([1]);
    expect(() => decodeArray({ buffer: 2, dtype: "float32", shape: [1] }, buffers)).toThrow(/buffer 2.*has 2/);
    expect(() => decodeArray({ buffer: 0, dtype: "float32", shape: [1] })).toThrow(/has 0/);
  });

  it("rejects what is no array", () => {
    expect(() => decodeArray(null)).toThrow(/expected an array/);
    expect(() => decodeArray(bytesOf([1]))).toThrow(/dtype/);
  });

  it("rejects a size mismatch, a bad dtype and a bad shape", () => {
    expect(() => decodeArray({ buffer: bytesOf([1, 2, 3]), dtype: "float32", shape: [2, 2] })).toThrow(/needs 16/);
    expect(() => decodeArray({ buffer: bytesOf([1]), dtype: "float64", shape: [1] })).toThrow(/dtype/);
    expect(() => decodeArray({ buffer: bytesOf([1]), dtype: "float32", shape: [-1] })).toThrow(/shape/);
  });
});
