// RAII owners for libzstd's C contexts: every ZSTD_DCtx / ZSTD_DStream / ZSTD_CCtx /
// ZSTD_CStream in daqfs lives in one of these, so an early return or an exception cannot leak
// one and no destructor has to remember which free function goes with which create.
//
// ZSTD_DStream is the same type as ZSTD_DCtx (and ZSTD_CStream as ZSTD_CCtx) since zstd 1.3:
// one owner type serves both names, and ZSTD_freeDCtx is ZSTD_freeDStream.
//
// Ownership: a null pointer means creation failed (libzstd's only failure is out of memory);
// callers check before use. Thread safety: a context is used by one thread at a time (libzstd's
// rule); the owners add nothing.
#pragma once

#include <zstd.h>

#include <memory>

namespace daqfs {

struct ZstdDCtxFree {
  void operator()(ZSTD_DCtx* c) const noexcept { ZSTD_freeDCtx(c); }
};
struct ZstdCCtxFree {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

// A decompression context (also a ZSTD_DStream).
using ZstdDCtxPtr = std::unique_ptr<ZSTD_DCtx, ZstdDCtxFree>;
// A compression context (also a ZSTD_CStream).
using ZstdCCtxPtr = std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree>;

// New contexts; null when libzstd could not allocate one.
inline ZstdDCtxPtr MakeZstdDCtx() { return ZstdDCtxPtr(ZSTD_createDCtx()); }
inline ZstdCCtxPtr MakeZstdCCtx() { return ZstdCCtxPtr(ZSTD_createCCtx()); }

}  // namespace daqfs
