// ONNX export of the GUE generator and the reader of an exported model's gue metadata.
export { exportOnnx, ONNX_OPSET, ONNX_IR_VERSION, type OnnxExportMeta } from './onnx.js';
export { readOnnxHeader, readGueOnnxMeta, gueMetaOf, OnnxModelError, GUE_KIND, ONNX_INPUT, ONNX_OUTPUT, type OnnxHeader, type GueOnnxMeta } from './onnx-meta.js';
export { verifyOnnxExport, ONNX_TOLERANCE } from './verify.js';
export { createOnnxBackend, createOnnxBackendFromBytes, type OnnxBackend, type OnnxBackendOptions } from '../protect/onnx-backend.js';
