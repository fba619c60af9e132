// The two things the approver's process handling needs from the system that Linux and macOS
// spell differently. Linux: approver_linux.cpp (pipe2, pidfd_open); elsewhere approver.cpp's
// fallback. Private to approve/.
#pragma once

#include <sys/types.h>

namespace agentbox::approve::detail {

// pipe(2) with both ends close-on-exec. 0, or -1 with errno.
int cloexec_pipe(int fds[2]);

// A descriptor that polls readable once `pid` (a child) has exited, for ask_command to wait on
// its answer and its exit together; -1 where there is none (ask_command then polls waitpid
// every 20 ms).
int exit_fd(pid_t pid);

}  // namespace agentbox::approve::detail
