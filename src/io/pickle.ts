// A restricted pickle reader: it interprets the opcodes of Python's pickle protocols 2–5 that a PyTorch
// state dict uses, and executes no code. Python's unpickler calls whatever GLOBAL + REDUCE name (the
// well-known arbitrary-code-execution hole of torch.load without weights_only); this reader instead knows a
// fixed table of names and builds plain values for them:
//   collections.OrderedDict                      → an ordered Map
//   torch._utils._rebuild_tensor_v2              → a TensorRef (storage, offset, size, stride)
//   torch._utils._rebuild_parameter(_with_state) → the wrapped TensorRef
//   torch.{Float,Double,Half,BFloat16,Long,Int,Byte,Bool}Storage → storage types, only inside persistent ids
// Persistent ids must be ('storage', <storage type>, key, location, numel). Any other global, any other
// callable, NEWOBJ/INST/OBJ, extension codes and unknown opcodes are rejected with an error naming them.
export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

export class StorageRef {
  constructor(readonly storageType: string, readonly key: string, readonly location: string, readonly numel: number) {}
}

export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
}

/** A Python dict or OrderedDict (insertion-ordered); attrs holds BUILD state (e.g. state_dict()._metadata). */
export class PyDict extends Map<PyValue, PyValue> {
  attrs: PyValue = null;
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PyGlobal | StorageRef | TensorRef;

export const STORAGE_TYPES = ['FloatStorage', 'DoubleStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage', 'IntStorage', 'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage'];

const CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

const ALLOWED = (): string => [...CALLABLES, ...STORAGE_TYPES.map((s) => `torch.${s}`)].join(', ');


const asInt = (v: PyValue, what: string): number => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw new PickleError(`${what} must be an integer`);
};
const asIntTuple = (v: PyValue, what: string): number[] => {
  if (!(v instanceof PyTuple)) throw new PickleError(`${what} must be a tuple`);
  return v.items.map((x, i) => asInt(x, `${what}[${i}]`));
};

/** Parses a pickle (no code is executed). */
export function readPickle(data: Uint8Array, source = 'pickle'): PyValue {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let p = 0;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const fail = (msg: string): never => {
    throw new PickleError(`${source}: ${msg}`);
  };
  const need = (n: number): void => {
    if (p + n > b.length) fail('truncated pickle');
  };
  const pop = (): PyValue => {
    if (stack.length <= (marks[marks.length - 1] ?? 0)) fail('corrupt pickle (stack underflow)');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length <= (marks[marks.length - 1] ?? 0)) fail('corrupt pickle (empty stack)');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('corrupt pickle (no MARK)');
    return stack.splice(m!) as PyValue[];
  };
  const readLine = (): string => {
    const e = b.indexOf(0x0a, p);
    if (e < 0) fail('truncated pickle (line)');
    const s = b.toString('utf8', p, e);
    p = e + 1;
    return s;
  };
  const global = (module: string, name: string): PyGlobal => {
    const g = new PyGlobal(module, name);
    const ok = CALLABLES.has(g.fullName) || (module === 'torch' && STORAGE_TYPES.includes(name));
    if (!ok) fail(`refusing to load: the pickle references ${g.fullName}, which a PyTorch state dict does not need (allowed: ${ALLOWED()}); the file may be malicious or not a state dict`);
    return g;
  };
  const setItems = (d: PyValue, items: PyValue[]): void => {
    if (!(d instanceof PyDict)) fail('corrupt pickle (SETITEM(S) on a non-dict)');
    if (items.length % 2 !== 0) fail('corrupt pickle (odd SETITEMS)');
    for (let i = 0; i < items.length; i += 2) (d as PyDict).set(items[i]!, items[i + 1]!);
  };
  const reduce = (f: PyValue, args: PyValue): PyValue => {
    if (!(f instanceof PyGlobal)) fail('refusing to load: REDUCE on something that is not an allowed global');
    const g = f as PyGlobal;
    if (!CALLABLES.has(g.fullName)) fail(`refusing to load: the pickle calls ${g.fullName}, which is not allowed (allowed: ${[...CALLABLES].join(', ')})`);
    if (!(args instanceof PyTuple)) fail(`corrupt pickle (${g.fullName} arguments are not a tuple)`);
    const a = (args as PyTuple).items;
    switch (g.fullName) {
      case 'collections.OrderedDict': {
        const d = new PyDict();
        if (a.length === 0) return d;
        if (a.length === 1 && Array.isArray(a[0])) {
          for (const kv of a[0]) {
            if (!(kv instanceof PyTuple) || kv.items.length !== 2) fail('corrupt pickle (OrderedDict item is not a pair)');
            d.set((kv as PyTuple).items[0]!, (kv as PyTuple).items[1]!);
          }
          return d;
        }
        return fail('unsupported OrderedDict arguments');
      }
      case 'torch._utils._rebuild_tensor_v2': {
        if (a.length < 6 || a.length > 7) fail(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${a.length}`);
        const s = a[0];
        if (!(s instanceof StorageRef)) return fail('_rebuild_tensor_v2: the first argument is not a storage');
        const size = asIntTuple(a[2]!, 'tensor size');
        const stride = asIntTuple(a[3]!, 'tensor stride');
        if (size.length !== stride.length) fail('tensor size and stride differ in length');
        return new TensorRef(s, asInt(a[1]!, 'storage offset'), size, stride, a[4] === true);
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state': {
        const t = a[0];
        if (!(t instanceof TensorRef)) return fail(`${g.name}: the first argument is not a tensor`);
        return t;
      }
    }
    return fail(`unhandled global ${g.fullName}`);
  };

  for (;;) {
    need(1);
    const at = p;
    const op = b[p++]!;
    switch (op) {
      case 0x80: need(1); if (b[p]! > 5) fail(`unsupported pickle protocol ${b[p]}`); p++; break; // PROTO
      case 0x95: need(8); p += 8; break; // FRAME
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const y = pop(); const x = pop(); stack.push(new PyTuple([x, y])); break; } // TUPLE2
      case 0x87: { const z = pop(); const y = pop(); const x = pop(); stack.push(new PyTuple([x, y, z])); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fail('APPEND on a non-list'); (l as PyValue[]).push(v); break; }
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) fail('APPENDS on a non-list'); (l as PyValue[]).push(...items); break; }
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { const d = new PyDict(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: need(1); stack.push(b[p]!); p += 1; break; // BININT1
      case 0x4d: need(2); stack.push(b.readUInt16LE(p)); p += 2; break; // BININT2
      case 0x4a: need(4); stack.push(b.readInt32LE(p)); p += 4; break; // BININT
      case 0x8a: case 0x8b: { // LONG1 / LONG4
        const n = op === 0x8a ? (need(1), b[p++]!) : (need(4), (p += 4, b.readUInt32LE(p - 4)));
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[p + i]!);
        if (n > 0 && b[p + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(b.readDoubleBE(p)); p += 8; break; // BINFLOAT
      case 0x58: { need(4); const n = b.readUInt32LE(p); p += 4; need(n); stack.push(b.toString('utf8', p, p + n)); p += n; break; } // BINUNICODE
      case 0x8c: { need(1); const n = b[p++]!; need(n); stack.push(b.toString('utf8', p, p + n)); p += n; break; } // SHORT_BINUNICODE
      case 0x8d: { need(8); const n = Number(b.readBigUInt64LE(p)); p += 8; need(n); stack.push(b.toString('utf8', p, p + n)); p += n; break; } // BINUNICODE8
      case 0x55: { need(1); const n = b[p++]!; need(n); stack.push(b.toString('latin1', p, p + n)); p += n; break; } // SHORT_BINSTRING
      case 0x54: { need(4); const n = b.readUInt32LE(p); p += 4; need(n); stack.push(b.toString('latin1', p, p + n)); p += n; break; } // BINSTRING
      case 0x43: { need(1); const n = b[p++]!; need(n); stack.push(new Uint8Array(b.subarray(p, p + n))); p += n; break; } // SHORT_BINBYTES
      case 0x42: { need(4); const n = b.readUInt32LE(p); p += 4; need(n); stack.push(new Uint8Array(b.subarray(p, p + n))); p += n; break; } // BINBYTES
      case 0x71: need(1); memo.set(b[p++]!, top()); break; // BINPUT
      case 0x72: need(4); memo.set(b.readUInt32LE(p), top()); p += 4; break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET / LONG_BINGET
        let k: number;
        if (op === 0x68) { need(1); k = b[p++]!; } else { need(4); k = b.readUInt32LE(p); p += 4; }
        if (!memo.has(k)) fail(`corrupt pickle (memo ${k} undefined)`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x63: { const module = readLine(); const name = readLine(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('corrupt pickle (STACK_GLOBAL needs two strings)');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const f = pop(); stack.push(reduce(f, args)); break; } // REDUCE
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attrs = state;
        else if (obj instanceof TensorRef) { /* tensor attributes (e.g. Parameter state): ignored */ }
        else fail('refusing to load: BUILD on an object that is not a dict or tensor');
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length !== 5) {
          fail("refusing to load: a persistent id that is not ('storage', type, key, location, numel)");
        }
        const [, type, key, location, numel] = (pid as PyTuple).items;
        if (!(type instanceof PyGlobal) || type.module !== 'torch' || !STORAGE_TYPES.includes(type.name)) fail('persistent id: unknown storage type');
        if (typeof key !== 'string' || typeof location !== 'string') fail('persistent id: key and location must be strings');
        stack.push(new StorageRef((type as PyGlobal).name, key as string, location as string, asInt(numel!, 'storage numel')));
        break;
      }
      case 0x81: case 0x92: fail('refusing to load: NEWOBJ (object construction) is not allowed in a state dict'); break;
      case 0x69: case 0x6f: fail('refusing to load: INST/OBJ (object construction) is not allowed'); break;
      case 0x50: fail('refusing to load: text persistent ids are not allowed'); break;
      case 0x82: case 0x83: case 0x84: fail('refusing to load: extension-registry globals are not allowed'); break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} ('${String.fromCharCode(op)}') at byte ${at}`);
    }
  }
}
