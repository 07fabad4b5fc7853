// Swift cannot call zlib's function-like macros; these inline shims expose them.
#ifndef LIFEBOAT_CZLIB_SHIM_H
#define LIFEBOAT_CZLIB_SHIM_H
#include <zlib.h>

static inline int lifeboat_deflateInit2(z_streamp strm, int level, int windowBits, int memLevel) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY);
}

static inline int lifeboat_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
