#include "profile/load.hpp"

namespace agentbox::profile {

namespace {

// "FILE:LINE:COL: message"; just the message when the error is not tied to a file (a profile
// named on the command line that does not exist).
std::string one_line(const Source& where, const std::string& message) {
    if (where.file.empty()) return message;
    return where.str() + ": " + message;
}

}  // namespace

ProfileError::ProfileError(Source where, const std::string& message)
    : std::runtime_error(one_line(where, message)), where_(std::move(where)), message_(message) {}

}  // namespace agentbox::profile
