// What `gue protect` needs from a generator, whatever runs it: libtorch (a .safetensors generator) or
// onnxruntime (an exported .onnx generator, no libtorch needed). A backend maps a float32 NCHW batch in
// [0,1] to the protected batch clamp(x + ε·G(x), 0, 1) — still float; quantization to uint8 and the
// L∞ check are done by the caller, identically for every backend.
export interface ProtectBackend {
  /** 'libtorch' or 'onnxruntime'. */
  readonly kind: string;
  /** Image channels the generator takes (1 or 3). */
  readonly channels: number;
  /** L∞ budget in [0,1] units. */
  readonly eps: number;
  /** Spatial sizes must be multiples of this (the U-Net downsamples 3 times: 8). */
  readonly multiple: number;
  /** x: float32 [n, channels, h, w] in [0,1]. Returns the protected batch, same shape. */
  run(x: Float32Array, shape: [number, number, number, number]): Promise<Float32Array>;
  dispose(): Promise<void> | void;
}
