// Errors the command line raises itself. main.cpp turns each into a message and an exit code
// (DESIGN.md §2): usage problems are 2, or 125 under `run` so that a harness can tell "agentbox
// refused" from "the command failed".
#pragma once

#include <stdexcept>
#include <string>

#include "util/exit_codes.hpp"

namespace agentbox::cli {

inline constexpr int exit_refused = 1;  // other commands: refused or could not be done
inline constexpr int exit_usage = 2;    // other commands: usage or profile error
inline constexpr int exit_setup = util::kExitSetup;  // run: agentbox failed before the command ran

// A bad flag value or argument. what() names the flag and says what was expected.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A failure with a message and a specific exit code (e.g. a rule that cannot be enforced).
// The message may be empty when the details were already printed.
class Failure : public std::runtime_error {
public:
    Failure(const std::string& message, int code) : std::runtime_error(message), code_(code) {}
    int code() const { return code_; }

private:
    int code_;
};

}  // namespace agentbox::cli
