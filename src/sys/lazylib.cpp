#include "sys/lazylib.hpp"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

namespace agentbox::sys {

void* LazyLib::sym(const char* symbol) {
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    if (handle_ == nullptr) {
        handle_ = ::dlopen(soname_, RTLD_NOW | RTLD_LOCAL);
        if (handle_ == nullptr) {
            const char* why = ::dlerror();
            throw std::runtime_error(std::string("cannot load ") + soname_ + ": " +
                                     (why != nullptr ? why : "unknown error"));
        }
    }
    ::dlerror();
    void* p = ::dlsym(handle_, symbol);
    if (p == nullptr) {
        const char* why = ::dlerror();
        throw std::runtime_error(std::string(soname_) + " has no " + symbol + ": " +
                                 (why != nullptr ? why : "null symbol"));
    }
    return p;
}

}  // namespace agentbox::sys
