// A shared library loaded on first use. libgit2 and libarchive (with libxml2, ICU, krb5,
// mbedtls... behind them) cost about 3 ms of relocation at every start of agentbox; only
// `diff`, `export` and the review need them, so `run` must not pay for them.
//
// Calls go through AGENTBOX_LAZY(lib, function): the function's own declaration (from the
// library's header) gives the type, the symbol is resolved once per call site.
#pragma once

#include <string>

namespace agentbox::stage {

class LazyLib {
public:
    explicit LazyLib(const char* soname) : soname_(soname) {}
    // The address of `symbol`; throws std::runtime_error naming the library and dlerror().
    void* sym(const char* symbol);

private:
    const char* soname_;
    void* handle_ = nullptr;
};

}  // namespace agentbox::stage

#define AGENTBOX_LAZY(lib, fn)                                                              \
    ([]() {                                                                                 \
        static const auto resolved = reinterpret_cast<decltype(&::fn)>((lib).sym(#fn));    \
        return resolved;                                                                    \
    }())
