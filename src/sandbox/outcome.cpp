#include <signal.h>
#include <sys/wait.h>

#include "sandbox/backend.hpp"

namespace agentbox::sandbox {

void command_end(int wait_status, bool timed_out, bool interrupted, Outcome& out) {
    if (timed_out) {
        out.exit_code = util::kExitTimeout;
        out.timed_out = true;
        out.signal = SIGKILL;
    } else if (interrupted) {
        out.exit_code = 128 + SIGINT;
        out.signal = SIGINT;
    } else if (WIFEXITED(wait_status)) {
        out.exit_code = WEXITSTATUS(wait_status);
    } else if (WIFSIGNALED(wait_status)) {
        // The command's own death by signal N (on Linux also init's, by the OOM killer).
        out.signal = WTERMSIG(wait_status);
        out.exit_code = 128 + out.signal;
    }
}

}  // namespace agentbox::sandbox
