// A shared library loaded on first use. Linked, a library costs every start of agentbox its
// loading and relocation, whether the run uses it or not: libgit2 and libarchive (with
// libxml2, ICU, krb5, mbedtls... behind them) ~3 ms, needed only by `diff`, `export` and the
// review; OpenSSL ~140 page faults, needed only when a run intercepts TLS (net/intercept.cpp).
//
// Calls go through AGENTBOX_LAZY(lib, function): the function's own declaration (from the
// library's header) gives the type, the symbol is resolved once per call site. The library
// is opened by the first call; when it cannot be, that call throws, so a run that never
// needs the library never fails for want of it.
#pragma once

#include <string>

namespace agentbox::sys {

class LazyLib {
public:
    explicit LazyLib(const char* soname) : soname_(soname) {}
    // The address of `symbol`; throws std::runtime_error naming the library and dlerror().
    void* sym(const char* symbol);

private:
    const char* soname_;
    void* handle_ = nullptr;
};

}  // namespace agentbox::sys

#define AGENTBOX_LAZY(lib, fn)                                                              \
    ([]() {                                                                                 \
        static const auto resolved = reinterpret_cast<decltype(&::fn)>((lib).sym(#fn));    \
        return resolved;                                                                    \
    }())
