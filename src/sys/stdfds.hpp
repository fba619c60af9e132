#pragma once

namespace agentbox::sys {

// If fd 0, 1 or 2 is closed, open /dev/null on it. Must run before agentbox opens anything:
// otherwise the first pipe or socket it creates takes the number of a closed standard
// descriptor, and the sandboxed command inherits an agentbox-internal fd as its stdin.
void ensure_std_fds();

}  // namespace agentbox::sys
