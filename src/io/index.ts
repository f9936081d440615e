// Checkpoint I/O: atomic writes, the safetensors format, and checkpoints (safetensors + JSON sidecar).
export { CheckpointError, AtomicWriteError } from './errors.js';
export {
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonAtomic,
  writeJsonAtomicSync,
  tempPathFor,
} from './atomic.js';
export type { AtomicData, AtomicWriteOptions } from './atomic.js';
export {
  encodeSafetensors,
  encodeSafetensorsParts,
  decodeSafetensors,
  readSafetensorsHeader,
  saveSafetensors,
  saveSafetensorsSync,
  loadSafetensors,
  loadSafetensorsSync,
  SAFETENSORS_DTYPE,
  MAX_HEADER_BYTES,
} from './safetensors.js';
export type { TensorDict, DecodeOptions, SafetensorsContents, SafetensorsHeader, SafetensorsEntry } from './safetensors.js';
export {
  saveCheckpoint,
  saveCheckpointSync,
  loadCheckpoint,
  loadCheckpointSync,
  hasCheckpoint,
  checkpointPaths,
  parseCheckpointSidecar,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  CHECKPOINT_ID_KEY,
  CHECKPOINT_VERSION_KEY,
  DEFAULT_CHECKPOINT_NAME,
} from './checkpoint.js';
export type {
  CheckpointPaths,
  CheckpointSidecar,
  CheckpointData,
  LoadedCheckpoint,
  SavedCheckpoint,
  LoadCheckpointOptions,
  SidecarTensor,
} from './checkpoint.js';
export { readPth, readPthFile, PthError } from './pth.js';
export type { PthTensor, PthContents } from './pth.js';
export { ZipReader, ZipError, crc32 } from './zip.js';
export { readPickle, PickleError } from './pickle.js';
