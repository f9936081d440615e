// gue native binding: a thin N-API layer over libtorch (ATen + autograd).
// It exposes tensors, ops, autograd, devices and RNG, and nothing more.
// Every algorithm (modules, losses, solvers, optimizers, data) lives in TypeScript.
//
// A tensor handle is a Napi::External<Box>. Handles are freed deterministically
// with free()/freeMany() (the TS scope mechanism does this), or by V8's GC as a
// last resort. Live handle count and bytes are tracked for memory().

#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/version.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_bytes{0};

struct Box {
  at::Tensor t;
  int64_t bytes = 0;
  bool alive = false;
};

int64_t tensorBytes(const at::Tensor& t) {
  return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0;
}

void release(Napi::Env env, Box* b) {
  if (b->alive) {
    b->alive = false;
    g_live--;
    g_bytes -= b->bytes;
    if (b->bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -b->bytes);
    b->t = at::Tensor();
  }
}

Napi::Value wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  Box* b = new Box();
  b->bytes = tensorBytes(t);
  b->t = std::move(t);
  b->alive = true;
  g_live++;
  g_bytes += b->bytes;
  if (b->bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, b->bytes);
  return Napi::External<Box>::New(env, b, [](Napi::Env e, Box* p) {
    release(e, p);
    delete p;
  });
}

struct OpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Box* box(const Napi::Value& v) {
  if (!v.IsExternal()) throw OpError("expected a tensor handle");
  Box* b = v.As<Napi::External<Box>>().Data();
  if (!b->alive) throw OpError("tensor was already disposed");
  return b;
}
at::Tensor& T(const Napi::CallbackInfo& info, size_t i) { return box(info[i])->t; }
bool isNil(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }
c10::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || isNil(info[i])) return c10::nullopt;
  return box(info[i])->t;
}
double Num(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw OpError("argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}
int64_t Int(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw OpError("argument " + std::to_string(i) + " must be an integer");
  return info[i].As<Napi::Number>().Int64Value();
}
bool Bool(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() && info[i].ToBoolean().Value();
}
std::string Str(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsString()) throw OpError("argument " + std::to_string(i) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}
std::vector<int64_t> Ints(const Napi::Value& v) {
  if (v.IsNumber()) return {v.As<Napi::Number>().Int64Value()};
  if (!v.IsArray()) throw OpError("expected an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) out[k] = a.Get(k).As<Napi::Number>().Int64Value();
  return out;
}
std::vector<int64_t> Ints(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length()) throw OpError("missing integer-list argument");
  return Ints(info[i]);
}
c10::optional<std::vector<int64_t>> OptInts(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || isNil(info[i])) return c10::nullopt;
  return Ints(info[i]);
}
std::vector<at::Tensor> Tensors(const Napi::Value& v) {
  if (!v.IsArray()) throw OpError("expected an array of tensors");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(a.Length());
  for (uint32_t k = 0; k < a.Length(); k++) out.push_back(box(a.Get(k))->t);
  return out;
}
Napi::Value wrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  Napi::Array a = Napi::Array::New(env, ts.size());
  for (size_t k = 0; k < ts.size(); k++) a.Set(k, wrap(env, ts[k]));
  return a;
}
Napi::Value wrapPair(Napi::Env env, const std::tuple<at::Tensor, at::Tensor>& p) {
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, wrap(env, std::get<0>(p)));
  a.Set(1u, wrap(env, std::get<1>(p)));
  return a;
}

// dtype codes shared with src/engine/dtype.ts
at::ScalarType dtypeOf(int64_t code) {
  switch (code) {
    case 0: return at::kFloat;
    case 1: return at::kDouble;
    case 2: return at::kLong;
    case 3: return at::kByte;
    case 4: return at::kBool;
    case 5: return at::kInt;
    case 6: return at::kHalf;
    case 7: return at::kBFloat16;
  }
  throw OpError("unknown dtype code " + std::to_string(code));
}
int64_t codeOf(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return 0;
    case at::kDouble: return 1;
    case at::kLong: return 2;
    case at::kByte: return 3;
    case at::kBool: return 4;
    case at::kInt: return 5;
    case at::kHalf: return 6;
    case at::kBFloat16: return 7;
    default: return -1;
  }
}

at::Device deviceOf(const std::string& s) {
  at::Device d(s);
  if (d.is_cuda() && !at::hasCUDA())
    throw OpError("device '" + s + "' requested, but the libtorch this binding was built against has no CUDA support "
                  "(point LIBTORCH at a CUDA build of libtorch or PyTorch's torch folder and rebuild)");
  return d;
}
at::TensorOptions opts(const Napi::CallbackInfo& info, size_t dtypeIdx, size_t devIdx) {
  return at::TensorOptions().dtype(dtypeOf(Int(info, dtypeIdx))).device(deviceOf(Str(info, devIdx)));
}

// A JS number as a Scalar matching the tensor: integral tensors get integer scalars when the value is integral.
at::Scalar Sc(const at::Tensor& t, double v) {
  if (!at::isFloatingType(t.scalar_type()) && !at::isComplexType(t.scalar_type()) && v == static_cast<double>(static_cast<int64_t>(v)))
    return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

c10::optional<at::Generator> Gen(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || isNil(info[i])) return c10::nullopt;
  if (!info[i].IsExternal()) throw OpError("expected a generator handle");
  return *info[i].As<Napi::External<at::Generator>>().Data();
}

// Sub-op name for the generic dispatchers (unary/binary/reduce), used in error messages.
thread_local const char* g_sub = nullptr;
const char* UNARY_NAMES[] = {"neg", "exp", "log", "sqrt", "rsqrt", "abs", "sign", "relu", "sigmoid", "tanh", "gelu", "gelu",
  "square", "floor", "ceil", "round", "logicalNot", "reciprocal", "sin", "cos", "log1p", "expm1", "softplus", "trunc",
  "isnan", "isfinite", "silu", "log2"};
const char* BINARY_NAMES[] = {"add", "sub", "mul", "div", "pow", "minimum", "maximum", "eq", "ne", "lt", "le", "gt", "ge",
  "logicalAnd", "logicalOr", "fmod", "rsub", "rdiv", "rpow", "logicalXor", "remainder", "floorDiv"};
const char* REDUCE_NAMES[] = {"sum", "mean", "amax", "amin", "prod", "logsumexp", "all", "any", "norm", "countNonzero"};
template <size_t N>
const char* nameAt(const char* (&names)[N], int64_t i) { return (i >= 0 && static_cast<size_t>(i) < N) ? names[i] : nullptr; }

// Wraps an op body: libtorch errors become JS Errors naming the op, never an abort.
#define OP(name, ...)                                                             \
  Napi::Value name(const Napi::CallbackInfo& info) {                              \
    Napi::Env env = info.Env();                                                   \
    g_sub = nullptr;                                                              \
    try {                                                                         \
      __VA_ARGS__                                                                 \
    } catch (const Napi::Error&) {                                                \
      throw;                                                                      \
    } catch (const c10::Error& e) {                                               \
      throw Napi::Error::New(env, std::string(g_sub ? g_sub : #name) + ": " + e.what_without_backtrace()); \
    } catch (const std::exception& e) {                                           \
      throw Napi::Error::New(env, std::string(g_sub ? g_sub : #name) + ": " + e.what()); \
    }                                                                             \
  }

// ---------------------------------------------------------------- lifetime / info
OP(free_, {
  release(env, info[0].As<Napi::External<Box>>().Data());
  return env.Undefined();
})
OP(freeMany, {
  Napi::Array a = info[0].As<Napi::Array>();
  for (uint32_t k = 0; k < a.Length(); k++) {
    Napi::Value v = a.Get(k);
    if (v.IsExternal()) release(env, v.As<Napi::External<Box>>().Data());
  }
  return env.Undefined();
})
OP(isAlive, { return Napi::Boolean::New(env, info[0].As<Napi::External<Box>>().Data()->alive); })
OP(memory, {
  Napi::Object o = Napi::Object::New(env);
  o.Set("tensors", Napi::Number::New(env, static_cast<double>(g_live.load())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(g_bytes.load())));
  return o;
})
OP(shape, {
  auto s = T(info, 0).sizes();
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t k = 0; k < s.size(); k++) a.Set(k, Napi::Number::New(env, static_cast<double>(s[k])));
  return a;
})
OP(strides, {
  auto s = T(info, 0).strides();
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t k = 0; k < s.size(); k++) a.Set(k, Napi::Number::New(env, static_cast<double>(s[k])));
  return a;
})
OP(dtype, { return Napi::Number::New(env, static_cast<double>(codeOf(T(info, 0).scalar_type()))); })
OP(device, { return Napi::String::New(env, T(info, 0).device().str()); })
OP(item, {
  at::Tensor& t = T(info, 0);
  if (t.numel() != 1) throw OpError("item() needs a tensor with exactly one element, got " + std::to_string(t.numel()));
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(env, t.item<bool>());
  return Napi::Number::New(env, t.item<double>());
})
OP(isContiguous, {
  bool cl = Bool(info, 1);
  return Napi::Boolean::New(env, T(info, 0).is_contiguous(cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
})

// ---------------------------------------------------------------- creation / IO
OP(fromBuffer, {
  // (typedArray, shape, dtypeCode, device)
  if (!info[0].IsTypedArray()) throw OpError("fromBuffer needs a TypedArray");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  auto shape = Ints(info, 1);
  auto dt = dtypeOf(Int(info, 2));
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dt));
  size_t need = static_cast<size_t>(t.numel() * t.element_size());
  if (ta.ByteLength() != need)
    throw OpError("buffer has " + std::to_string(ta.ByteLength()) + " bytes but shape/dtype need " + std::to_string(need));
  uint8_t* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (need) std::memcpy(t.data_ptr(), src, need);
  at::Device d = deviceOf(Str(info, 3));
  if (!d.is_cpu()) t = t.to(d);
  return wrap(env, t);
})
OP(toBuffer, {
  at::Tensor t = T(info, 0).detach().to(at::kCPU).contiguous();
  size_t n = static_cast<size_t>(t.numel() * t.element_size());
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, n);
  if (n) std::memcpy(ab.Data(), t.data_ptr(), n);
  return ab;
})
OP(zeros, { return wrap(env, at::zeros(Ints(info, 0), opts(info, 1, 2))); })
OP(ones, { return wrap(env, at::ones(Ints(info, 0), opts(info, 1, 2))); })
OP(empty, { return wrap(env, at::empty(Ints(info, 0), opts(info, 1, 2))); })
OP(full, { return wrap(env, at::full(Ints(info, 0), Num(info, 1), opts(info, 2, 3))); })
OP(arange, { return wrap(env, at::arange(Num(info, 0), Num(info, 1), Num(info, 2), opts(info, 3, 4))); })
OP(linspace, { return wrap(env, at::linspace(Num(info, 0), Num(info, 1), Int(info, 2), opts(info, 3, 4))); })
// Random creation. With an explicit generator the numbers are drawn on the CPU
// and moved, so a seed gives the same numbers on every device.
at::TensorOptions cpuOpts(const at::TensorOptions& o) { return o.device(at::kCPU); }
at::Tensor toDev(at::Tensor t, const at::TensorOptions& o) { return o.device().is_cpu() ? t : t.to(o.device()); }
OP(rand, {
  auto o = opts(info, 1, 2);
  auto g = Gen(info, 3);
  return wrap(env, g ? toDev(at::rand(Ints(info, 0), g, cpuOpts(o)), o) : at::rand(Ints(info, 0), o));
})
OP(randn, {
  auto o = opts(info, 1, 2);
  auto g = Gen(info, 3);
  return wrap(env, g ? toDev(at::randn(Ints(info, 0), g, cpuOpts(o)), o) : at::randn(Ints(info, 0), o));
})
OP(randint, {
  // (low, high, shape, dtype, device, gen)
  auto o = opts(info, 3, 4);
  auto g = Gen(info, 5);
  int64_t lo = Int(info, 0), hi = Int(info, 1);
  return wrap(env, g ? toDev(at::randint(lo, hi, Ints(info, 2), g, cpuOpts(o)), o) : at::randint(lo, hi, Ints(info, 2), o));
})
OP(randperm, {
  auto o = opts(info, 1, 2);
  auto g = Gen(info, 3);
  return wrap(env, g ? toDev(at::randperm(Int(info, 0), g, cpuOpts(o)), o) : at::randperm(Int(info, 0), o));
})
OP(bernoulli, {
  // (probs, gen): a 0/1 tensor with the probs' dtype
  at::Tensor& p = T(info, 0);
  auto g = Gen(info, 1);
  if (g && !p.device().is_cpu()) return wrap(env, at::bernoulli(p.to(at::kCPU), g).to(p.device()));
  return wrap(env, g ? at::bernoulli(p, g) : at::bernoulli(p));
})
OP(fillRandom_, {
  // (t, kind 0=uniform(a,b) 1=normal(mean=a,std=b), a, b, gen)  in place, no grad
  at::Tensor& t = T(info, 0);
  int64_t kind = Int(info, 1);
  double a = Num(info, 2), b = Num(info, 3);
  auto g = Gen(info, 4);
  at::NoGradGuard ng;
  at::Tensor target = t.device().is_cpu() ? t : at::empty(t.sizes(), t.options().device(at::kCPU));
  if (kind == 0) target.uniform_(a, b, g);
  else target.normal_(a, b, g);
  if (!t.device().is_cpu()) t.copy_(target);
  return env.Undefined();
})
OP(newGenerator, {
  auto* g = new at::Generator(at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(Int(info, 0))));
  return Napi::External<at::Generator>::New(env, g, [](Napi::Env, at::Generator* p) { delete p; });
})
OP(generatorSeed, {
  at::Generator* g = info[0].As<Napi::External<at::Generator>>().Data();
  std::lock_guard<std::mutex> lock(g->mutex());
  g->set_current_seed(static_cast<uint64_t>(Int(info, 1)));
  return env.Undefined();
})
OP(generatorGetState, {
  at::Generator* g = info[0].As<Napi::External<at::Generator>>().Data();
  std::lock_guard<std::mutex> lock(g->mutex());
  return wrap(env, g->get_state());
})
OP(generatorSetState, {
  at::Generator* g = info[0].As<Napi::External<at::Generator>>().Data();
  std::lock_guard<std::mutex> lock(g->mutex());
  g->set_state(T(info, 1));
  return env.Undefined();
})
OP(manualSeed, {
  at::manual_seed(static_cast<uint64_t>(Int(info, 0)));
  return env.Undefined();
})

// ---------------------------------------------------------------- conversion / shape
OP(to, {
  // (t, dtype|null, device|null, copy)
  at::Tensor& t = T(info, 0);
  at::TensorOptions o = t.options();
  if (!isNil(info[1])) o = o.dtype(dtypeOf(Int(info, 1)));
  if (!isNil(info[2])) o = o.device(deviceOf(Str(info, 2)));
  return wrap(env, t.to(o, false, Bool(info, 3)));
})
OP(contiguous, {
  bool cl = Bool(info, 1);
  return wrap(env, T(info, 0).contiguous(cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
})
OP(clone, { return wrap(env, T(info, 0).clone()); })
OP(detach, { return wrap(env, T(info, 0).detach()); })
OP(reshape, { return wrap(env, T(info, 0).reshape(Ints(info, 1))); })
OP(view, { return wrap(env, T(info, 0).view(Ints(info, 1))); })
OP(permute, { return wrap(env, T(info, 0).permute(Ints(info, 1))); })
OP(transpose, { return wrap(env, T(info, 0).transpose(Int(info, 1), Int(info, 2))); })
OP(flatten, { return wrap(env, T(info, 0).flatten(Int(info, 1), Int(info, 2))); })
OP(squeeze, {
  if (isNil(info[1])) return wrap(env, T(info, 0).squeeze());
  return wrap(env, T(info, 0).squeeze(Int(info, 1)));
})
OP(unsqueeze, { return wrap(env, T(info, 0).unsqueeze(Int(info, 1))); })
OP(expand, { return wrap(env, T(info, 0).expand(Ints(info, 1))); })
OP(repeat, { return wrap(env, T(info, 0).repeat(Ints(info, 1))); })
OP(cat, { return wrap(env, at::cat(Tensors(info[0]), Int(info, 1))); })
OP(stack, { return wrap(env, at::stack(Tensors(info[0]), Int(info, 1))); })
OP(split, {
  // (t, size or [sizes], dim)
  if (info[1].IsArray()) return wrapList(env, T(info, 0).split_with_sizes(Ints(info, 1), Int(info, 2)));
  return wrapList(env, T(info, 0).split(Int(info, 1), Int(info, 2)));
})
OP(chunk, { return wrapList(env, T(info, 0).chunk(Int(info, 1), Int(info, 2))); })
OP(narrow, { return wrap(env, T(info, 0).narrow(Int(info, 1), Int(info, 2), Int(info, 3))); })
OP(slice, { return wrap(env, T(info, 0).slice(Int(info, 1), Int(info, 2), Int(info, 3), Int(info, 4))); })
OP(select, { return wrap(env, T(info, 0).select(Int(info, 1), Int(info, 2))); })
OP(indexSelect, { return wrap(env, T(info, 0).index_select(Int(info, 1), T(info, 2))); })
OP(gather, { return wrap(env, T(info, 0).gather(Int(info, 1), T(info, 2))); })
OP(scatter, { return wrap(env, T(info, 0).scatter(Int(info, 1), T(info, 2), T(info, 3))); })
OP(maskedSelect, { return wrap(env, T(info, 0).masked_select(T(info, 1))); })
OP(maskedFill, { return wrap(env, T(info, 0).masked_fill(T(info, 1), Num(info, 2))); })
OP(where, { return wrap(env, at::where(T(info, 0), T(info, 1), T(info, 2))); })
OP(pad, {
  // (t, pads, mode, value)
  std::string mode = Str(info, 2);
  c10::optional<double> value = c10::nullopt;
  if (mode == "constant") value = Num(info, 3);
  return wrap(env, at::pad(T(info, 0), Ints(info, 1), mode, value));
})
OP(flip, { return wrap(env, T(info, 0).flip(Ints(info, 1))); })
OP(roll, { return wrap(env, T(info, 0).roll(Ints(info, 1), Ints(info, 2))); })
OP(oneHot, { return wrap(env, at::one_hot(T(info, 0), Int(info, 1))); })
OP(tril, { return wrap(env, T(info, 0).tril(Int(info, 1))); })

// ---------------------------------------------------------------- elementwise math
enum Unary {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_ABS, U_SIGN, U_RELU, U_SIGMOID, U_TANH, U_GELU, U_GELU_TANH,
  U_SQUARE, U_FLOOR, U_CEIL, U_ROUND, U_NOT, U_RECIP, U_SIN, U_COS, U_LOG1P, U_EXPM1, U_SOFTPLUS, U_TRUNC,
  U_ISNAN, U_ISFINITE, U_SILU, U_LOG2
};
OP(unary, {
  g_sub = nameAt(UNARY_NAMES, Int(info, 0));
  at::Tensor& t = T(info, 1);
  switch (Int(info, 0)) {
    case U_NEG: return wrap(env, t.neg());
    case U_EXP: return wrap(env, t.exp());
    case U_LOG: return wrap(env, t.log());
    case U_SQRT: return wrap(env, t.sqrt());
    case U_RSQRT: return wrap(env, t.rsqrt());
    case U_ABS: return wrap(env, t.abs());
    case U_SIGN: return wrap(env, t.sign());
    case U_RELU: return wrap(env, t.relu());
    case U_SIGMOID: return wrap(env, t.sigmoid());
    case U_TANH: return wrap(env, t.tanh());
    case U_GELU: return wrap(env, at::gelu(t));
    case U_GELU_TANH: return wrap(env, at::gelu(t, "tanh"));
    case U_SQUARE: return wrap(env, t.square());
    case U_FLOOR: return wrap(env, t.floor());
    case U_CEIL: return wrap(env, t.ceil());
    case U_ROUND: return wrap(env, t.round());
    case U_NOT: return wrap(env, t.logical_not());
    case U_RECIP: return wrap(env, t.reciprocal());
    case U_SIN: return wrap(env, t.sin());
    case U_COS: return wrap(env, t.cos());
    case U_LOG1P: return wrap(env, t.log1p());
    case U_EXPM1: return wrap(env, t.expm1());
    case U_SOFTPLUS: return wrap(env, at::softplus(t));
    case U_TRUNC: return wrap(env, t.trunc());
    case U_ISNAN: return wrap(env, t.isnan());
    case U_ISFINITE: return wrap(env, t.isfinite());
    case U_SILU: return wrap(env, at::silu(t));
    case U_LOG2: return wrap(env, t.log2());
  }
  throw OpError("unknown unary op");
})
enum Binary {
  B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MIN, B_MAX, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_AND, B_OR,
  B_FMOD, B_RSUB, B_RDIV, B_RPOW, B_XOR, B_REM, B_FLOORDIV
};
at::Tensor binaryT(int64_t op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case B_ADD: return a.add(b);
    case B_SUB: return a.sub(b);
    case B_MUL: return a.mul(b);
    case B_DIV: return a.div(b);
    case B_POW: return a.pow(b);
    case B_MIN: return at::minimum(a, b);
    case B_MAX: return at::maximum(a, b);
    case B_EQ: return a.eq(b);
    case B_NE: return a.ne(b);
    case B_LT: return a.lt(b);
    case B_LE: return a.le(b);
    case B_GT: return a.gt(b);
    case B_GE: return a.ge(b);
    case B_AND: return a.logical_and(b);
    case B_OR: return a.logical_or(b);
    case B_FMOD: return a.fmod(b);
    case B_XOR: return a.logical_xor(b);
    case B_REM: return a.remainder(b);
    case B_FLOORDIV: return a.div(b, "floor");
  }
  throw OpError("unknown binary op");
}
at::Tensor binaryS(int64_t op, const at::Tensor& a, double sv) {
  at::Scalar s = Sc(a, sv);
  switch (op) {
    case B_ADD: return a.add(s);
    case B_SUB: return a.sub(s);
    case B_MUL: return a.mul(s);
    case B_DIV: return a.div(s);
    case B_POW: return a.pow(s);
    case B_MIN: return a.clamp_max(s);
    case B_MAX: return a.clamp_min(s);
    case B_EQ: return a.eq(s);
    case B_NE: return a.ne(s);
    case B_LT: return a.lt(s);
    case B_LE: return a.le(s);
    case B_GT: return a.gt(s);
    case B_GE: return a.ge(s);
    case B_FMOD: return a.fmod(s);
    case B_RSUB: return at::rsub(a, s);
    case B_RDIV: return a.reciprocal().mul(sv);
    case B_RPOW: return at::pow(s, a);
    case B_REM: return a.remainder(s);
    case B_FLOORDIV: return a.div(s, "floor");
  }
  throw OpError("unknown scalar binary op");
}
OP(binary, {
  g_sub = nameAt(BINARY_NAMES, Int(info, 0));
  return wrap(env, binaryT(Int(info, 0), T(info, 1), T(info, 2))); })
OP(binaryScalar, {
  g_sub = nameAt(BINARY_NAMES, Int(info, 0));
  return wrap(env, binaryS(Int(info, 0), T(info, 1), Num(info, 2))); })
OP(clamp, {
  c10::optional<at::Scalar> lo, hi;
  if (!isNil(info[1])) lo = Num(info, 1);
  if (!isNil(info[2])) hi = Num(info, 2);
  return wrap(env, T(info, 0).clamp(lo, hi));
})
OP(clampTensor, { return wrap(env, T(info, 0).clamp(OptT(info, 1), OptT(info, 2))); })
OP(leakyRelu, { return wrap(env, at::leaky_relu(T(info, 0), Num(info, 1))); })
OP(lerp, { return wrap(env, at::lerp(T(info, 0), T(info, 1), Num(info, 2))); })

// ---------------------------------------------------------------- reductions
enum Reduce { R_SUM, R_MEAN, R_AMAX, R_AMIN, R_PROD, R_LOGSUMEXP, R_ALL, R_ANY, R_NORM2, R_COUNT_NZ };
OP(reduce, {
  // (op, t, dims|null, keepdim)
  int64_t op = Int(info, 0);
  g_sub = nameAt(REDUCE_NAMES, op);
  at::Tensor& t = T(info, 1);
  auto dims = OptInts(info, 2);
  bool keep = Bool(info, 3);
  std::vector<int64_t> all;
  if (!dims) {
    for (int64_t d = 0; d < t.dim(); d++) all.push_back(d);
  }
  const std::vector<int64_t>& ds = dims ? *dims : all;
  switch (op) {
    case R_SUM: return wrap(env, dims ? t.sum(ds, keep) : (keep ? t.sum(ds, true) : t.sum()));
    case R_MEAN: return wrap(env, dims ? t.mean(ds, keep) : (keep ? t.mean(ds, true) : t.mean()));
    case R_AMAX: return wrap(env, t.amax(ds, keep));
    case R_AMIN: return wrap(env, t.amin(ds, keep));
    case R_PROD: {
      if (!dims) return wrap(env, t.prod());
      if (ds.size() != 1) throw OpError("prod reduces over one dim at a time");
      return wrap(env, t.prod(ds[0], keep));
    }
    case R_LOGSUMEXP: return wrap(env, t.logsumexp(ds, keep));
    case R_ALL: {
      if (!dims) return wrap(env, t.all());
      if (ds.size() != 1) throw OpError("all reduces over one dim at a time");
      return wrap(env, t.all(ds[0], keep));
    }
    case R_ANY: {
      if (!dims) return wrap(env, t.any());
      if (ds.size() != 1) throw OpError("any reduces over one dim at a time");
      return wrap(env, t.any(ds[0], keep));
    }
    case R_NORM2: return wrap(env, at::linalg_vector_norm(t, 2, ds, keep));
    case R_COUNT_NZ: return wrap(env, at::count_nonzero(t, ds));
  }
  throw OpError("unknown reduction");
})
OP(varStd, {
  // (isStd, t, dims|null, correction, keepdim)
  bool isStd = Bool(info, 0);
  at::Tensor& t = T(info, 1);
  auto dims = OptInts(info, 2);
  int64_t corr = Int(info, 3);
  bool keep = Bool(info, 4);
  at::OptionalIntArrayRef d = dims ? at::OptionalIntArrayRef(*dims) : at::OptionalIntArrayRef(c10::nullopt);
  c10::optional<int64_t> c = corr;
  return wrap(env, isStd ? at::std(t, d, c, keep) : at::var(t, d, c, keep));
})
OP(maxDim, { return wrapPair(env, T(info, 0).max(Int(info, 1), Bool(info, 2))); })
OP(minDim, { return wrapPair(env, T(info, 0).min(Int(info, 1), Bool(info, 2))); })
OP(argmax, {
  if (isNil(info[1])) return wrap(env, T(info, 0).argmax());
  return wrap(env, T(info, 0).argmax(Int(info, 1), Bool(info, 2)));
})
OP(argmin, {
  if (isNil(info[1])) return wrap(env, T(info, 0).argmin());
  return wrap(env, T(info, 0).argmin(Int(info, 1), Bool(info, 2)));
})
OP(topk, { return wrapPair(env, T(info, 0).topk(Int(info, 1), Int(info, 2), Bool(info, 3), Bool(info, 4))); })
OP(sort, { return wrapPair(env, T(info, 0).sort(Int(info, 1), Bool(info, 2))); })
OP(cumsum, { return wrap(env, T(info, 0).cumsum(Int(info, 1))); })
OP(softmax, { return wrap(env, T(info, 0).softmax(Int(info, 1))); })
OP(logSoftmax, { return wrap(env, T(info, 0).log_softmax(Int(info, 1))); })
OP(matmul, { return wrap(env, T(info, 0).matmul(T(info, 1))); })

// ---------------------------------------------------------------- nn functional
OP(conv2d, {
  // (x, w, b|null, stride, padding, dilation, groups)
  return wrap(env, at::conv2d(T(info, 0), T(info, 1), OptT(info, 2), Ints(info, 3), Ints(info, 4), Ints(info, 5), Int(info, 6)));
})
OP(convTranspose2d, {
  // (x, w, b|null, stride, padding, outputPadding, groups, dilation)
  return wrap(env, at::conv_transpose2d(T(info, 0), T(info, 1), OptT(info, 2), Ints(info, 3), Ints(info, 4), Ints(info, 5),
                                        Int(info, 6), Ints(info, 7)));
})
OP(batchNorm, {
  // (x, weight|null, bias|null, runningMean|null, runningVar|null, training, momentum, eps)
  return wrap(env, at::batch_norm(T(info, 0), OptT(info, 1), OptT(info, 2), OptT(info, 3), OptT(info, 4), Bool(info, 5),
                                  Num(info, 6), Num(info, 7), true));
})
OP(linear, { return wrap(env, at::linear(T(info, 0), T(info, 1), OptT(info, 2))); })
OP(avgPool2d, {
  // (x, kernel, stride, padding, ceil, countIncludePad)
  return wrap(env, at::avg_pool2d(T(info, 0), Ints(info, 1), Ints(info, 2), Ints(info, 3), Bool(info, 4), Bool(info, 5)));
})
OP(maxPool2d, {
  // (x, kernel, stride, padding, dilation, ceil)
  return wrap(env, at::max_pool2d(T(info, 0), Ints(info, 1), Ints(info, 2), Ints(info, 3), Ints(info, 4), Bool(info, 5)));
})
OP(adaptiveAvgPool2d, { return wrap(env, at::adaptive_avg_pool2d(T(info, 0), Ints(info, 1))); })
c10::optional<double> OptNum(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || isNil(info[i])) return c10::nullopt;
  return Num(info, i);
}
// (x, size, alignCorners, scaleH|null, scaleW|null): scales as given to F.interpolate(scale_factor=...)
OP(upsampleBilinear2d, {
  return wrap(env, at::upsample_bilinear2d(T(info, 0), Ints(info, 1), Bool(info, 2), OptNum(info, 3), OptNum(info, 4)));
})
OP(upsampleNearest2d, { return wrap(env, at::upsample_nearest2d(T(info, 0), Ints(info, 1), OptNum(info, 2), OptNum(info, 3))); })
OP(crossEntropy, {
  // (x, target, weight|null, reduction, ignoreIndex, labelSmoothing)
  return wrap(env, at::cross_entropy_loss(T(info, 0), T(info, 1), OptT(info, 2), Int(info, 3), Int(info, 4), Num(info, 5)));
})
OP(nllLoss, { return wrap(env, at::nll_loss_nd(T(info, 0), T(info, 1), OptT(info, 2), Int(info, 3), Int(info, 4))); })
OP(klDiv, { return wrap(env, at::kl_div(T(info, 0), T(info, 1), Int(info, 2), Bool(info, 3))); })
OP(mseLoss, { return wrap(env, at::mse_loss(T(info, 0), T(info, 1), Int(info, 2))); })

// ---------------------------------------------------------------- in place (optimizers, buffers)
OP(copy_, {
  at::Tensor& d = T(info, 0);
  d.copy_(T(info, 1));
  return env.Undefined();
})
OP(zero_, {
  T(info, 0).zero_();
  return env.Undefined();
})
OP(fill_, {
  at::Tensor& t = T(info, 0);
  t.fill_(Sc(t, Num(info, 1)));
  return env.Undefined();
})
OP(add_, {
  // (t, other, alpha)
  at::Tensor& t = T(info, 0);
  t.add_(T(info, 1), Sc(t, Num(info, 2)));
  return env.Undefined();
})
OP(addScalar_, {
  at::Tensor& t = T(info, 0);
  t.add_(Sc(t, Num(info, 1)));
  return env.Undefined();
})
OP(mul_, {
  T(info, 0).mul_(T(info, 1));
  return env.Undefined();
})
OP(mulScalar_, {
  at::Tensor& t = T(info, 0);
  t.mul_(Sc(t, Num(info, 1)));
  return env.Undefined();
})
OP(divScalar_, {
  at::Tensor& t = T(info, 0);
  t.div_(Sc(t, Num(info, 1)));
  return env.Undefined();
})
OP(div_, {
  T(info, 0).div_(T(info, 1));
  return env.Undefined();
})
OP(addcmul_, {
  T(info, 0).addcmul_(T(info, 1), T(info, 2), Num(info, 3));
  return env.Undefined();
})
OP(addcdiv_, {
  T(info, 0).addcdiv_(T(info, 1), T(info, 2), Num(info, 3));
  return env.Undefined();
})
OP(clamp_, {
  c10::optional<at::Scalar> lo, hi;
  if (!isNil(info[1])) lo = Num(info, 1);
  if (!isNil(info[2])) hi = Num(info, 2);
  T(info, 0).clamp_(lo, hi);
  return env.Undefined();
})
OP(lerp_, {
  T(info, 0).lerp_(T(info, 1), Num(info, 2));
  return env.Undefined();
})
OP(maximum_, {
  at::Tensor& t = T(info, 0);
  at::maximum_out(t, t, T(info, 1));
  return env.Undefined();
})

// ---------------------------------------------------------------- autograd
OP(setRequiresGrad, {
  T(info, 0).requires_grad_(Bool(info, 1));
  return env.Undefined();
})
OP(requiresGrad, { return Napi::Boolean::New(env, T(info, 0).requires_grad()); })
OP(isLeaf, { return Napi::Boolean::New(env, T(info, 0).is_leaf()); })
OP(getGrad, { return wrap(env, T(info, 0).grad()); })
OP(setGrad, {
  at::Tensor& t = T(info, 0);
  auto g = OptT(info, 1);
  t.mutable_grad() = g ? *g : at::Tensor();
  return env.Undefined();
})
OP(backward, {
  // (t, gradOut|null, retainGraph, createGraph)
  at::Tensor& t = T(info, 0);
  auto g = OptT(info, 1);
  t.backward(g ? *g : at::Tensor(), Bool(info, 2), Bool(info, 3));
  return env.Undefined();
})
OP(grad, {
  // (outputs[], inputs[], gradOutputs[]|null, retainGraph, createGraph, allowUnused)
  auto outs = Tensors(info[0]);
  auto ins = Tensors(info[1]);
  std::vector<at::Tensor> gos;
  if (!isNil(info[2])) gos = Tensors(info[2]);
  c10::optional<bool> retain;
  if (!isNil(info[3])) retain = Bool(info, 3);
  auto res = torch::autograd::grad(outs, ins, gos, retain, Bool(info, 4), Bool(info, 5));
  return wrapList(env, res);
})
OP(setGradEnabled, {
  at::GradMode::set_enabled(Bool(info, 0));
  return env.Undefined();
})
OP(isGradEnabled, { return Napi::Boolean::New(env, at::GradMode::is_enabled()); })

// ---------------------------------------------------------------- runtime
OP(setNumThreads, {
  at::set_num_threads(static_cast<int>(Int(info, 0)));
  return env.Undefined();
})
OP(getNumThreads, { return Napi::Number::New(env, at::get_num_threads()); })
OP(cudaAvailable, { return Napi::Boolean::New(env, at::hasCUDA()); })
OP(cudaDeviceCount, {
  return Napi::Number::New(env, at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().getNumGPUs()) : 0.0);
})
OP(version, { return Napi::String::New(env, TORCH_VERSION); })
OP(parallelInfo, { return Napi::String::New(env, at::get_parallel_info()); })

#define EXPORT(name) exports.Set(#name, Napi::Function::New(env, name, #name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("free", Napi::Function::New(env, free_, "free"));
  EXPORT(freeMany); EXPORT(isAlive); EXPORT(memory); EXPORT(shape); EXPORT(strides); EXPORT(dtype); EXPORT(device);
  EXPORT(item); EXPORT(isContiguous);
  EXPORT(fromBuffer); EXPORT(toBuffer); EXPORT(zeros); EXPORT(ones); EXPORT(empty); EXPORT(full); EXPORT(arange);
  EXPORT(linspace); EXPORT(rand); EXPORT(randn); EXPORT(randint); EXPORT(randperm); EXPORT(bernoulli);
  EXPORT(fillRandom_); EXPORT(newGenerator); EXPORT(generatorSeed); EXPORT(generatorGetState);
  EXPORT(generatorSetState); EXPORT(manualSeed);
  EXPORT(to); EXPORT(contiguous); EXPORT(clone); EXPORT(detach); EXPORT(reshape); EXPORT(view); EXPORT(permute);
  EXPORT(transpose); EXPORT(flatten); EXPORT(squeeze); EXPORT(unsqueeze); EXPORT(expand); EXPORT(repeat); EXPORT(cat);
  EXPORT(stack); EXPORT(split); EXPORT(chunk); EXPORT(narrow); EXPORT(slice); EXPORT(select); EXPORT(indexSelect);
  EXPORT(gather); EXPORT(scatter); EXPORT(maskedSelect); EXPORT(maskedFill); EXPORT(where); EXPORT(pad); EXPORT(flip);
  EXPORT(roll); EXPORT(oneHot); EXPORT(tril);
  EXPORT(unary); EXPORT(binary); EXPORT(binaryScalar); EXPORT(clamp); EXPORT(clampTensor); EXPORT(leakyRelu);
  EXPORT(lerp);
  EXPORT(reduce); EXPORT(varStd); EXPORT(maxDim); EXPORT(minDim); EXPORT(argmax); EXPORT(argmin); EXPORT(topk);
  EXPORT(sort); EXPORT(cumsum); EXPORT(softmax); EXPORT(logSoftmax); EXPORT(matmul);
  EXPORT(conv2d); EXPORT(convTranspose2d); EXPORT(batchNorm); EXPORT(linear); EXPORT(avgPool2d); EXPORT(maxPool2d);
  EXPORT(adaptiveAvgPool2d); EXPORT(upsampleBilinear2d); EXPORT(upsampleNearest2d); EXPORT(crossEntropy);
  EXPORT(nllLoss); EXPORT(klDiv); EXPORT(mseLoss);
  EXPORT(copy_); EXPORT(zero_); EXPORT(fill_); EXPORT(add_); EXPORT(addScalar_); EXPORT(mul_); EXPORT(mulScalar_);
  EXPORT(div_); EXPORT(divScalar_); EXPORT(addcmul_); EXPORT(addcdiv_); EXPORT(clamp_); EXPORT(lerp_); EXPORT(maximum_);
  EXPORT(setRequiresGrad); EXPORT(requiresGrad); EXPORT(isLeaf); EXPORT(getGrad); EXPORT(setGrad); EXPORT(backward);
  EXPORT(grad); EXPORT(setGradEnabled); EXPORT(isGradEnabled);
  EXPORT(setNumThreads); EXPORT(getNumThreads); EXPORT(cudaAvailable); EXPORT(cudaDeviceCount); EXPORT(version);
  EXPORT(parallelInfo);
  return exports;
}

}  // namespace

NODE_API_MODULE(gue_native, Init)
