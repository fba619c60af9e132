// Dying with the process that started agentbox (issue 18 #7): an agent's harness, a CI step
// or an editor that is SIGKILLed must not leave a sandbox running that nobody will review.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sandbox/linux/hardening.hpp"

namespace agentbox::sandbox::lnx {

bool die_with_parent() {
    // The parent as it is now; PR_SET_PDEATHSIG only covers a death after the prctl, so a
    // parent that died in between is caught by comparing again (we were reparented).
    const pid_t parent = ::getppid();
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return false;
    // SIGKILL, not a signal we could handle: it takes agentbox at once, the sandbox's init
    // follows (its own PDEATHSIG, bubblewrap's --die-with-parent), and what is staged stays
    // in the session directory exactly as after `kill -9` of agentbox itself.
    if (::getppid() != parent) ::raise(SIGKILL);
    return true;
}

}  // namespace agentbox::sandbox::lnx
