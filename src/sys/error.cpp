#include "sys/error.hpp"

#include <cstring>

#include "util/strings.hpp"

namespace agentbox::sys {

static std::string describe(const std::string& op, const std::string& path, int err) {
    std::string s = op;
    if (!path.empty()) s += " " + util::quote(path);
    s += ": ";
    s += std::strerror(err);
    return s;
}

SysError::SysError(std::string op, std::string path, int err)
    : std::runtime_error(describe(op, path, err)), op_(std::move(op)), path_(std::move(path)),
      err_(err) {}

}  // namespace agentbox::sys
