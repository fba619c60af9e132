// SysError: a failed system call, named by operation, the user's path and errno, reading like
//   mount(overlay) "/home/u/proj": Operation not permitted
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace agentbox::sys {

class SysError : public std::runtime_error {
public:
    SysError(std::string op, std::string path, int err);
    SysError(std::string op, int err) : SysError(std::move(op), {}, err) {}
    const std::string& op() const { return op_; }
    const std::string& path() const { return path_; }
    int err() const { return err_; }
private:
    std::string op_, path_;
    int err_;
};

// Throw SysError(op, path, errno) when rc < 0; return rc otherwise.
template <class T>
T check(T rc, const char* op, const std::string& path = {}) {
    if (rc < 0) throw SysError(op, path, errno);
    return rc;
}

}  // namespace agentbox::sys
