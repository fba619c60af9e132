// The Linux half of the approver's process handling (approver_os.hpp).
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "approve/approver_os.hpp"

namespace agentbox::approve::detail {

// Atomically close-on-exec: no other thread's child can inherit an end between the pipe and
// an fcntl.
int cloexec_pipe(int fds[2]) { return ::pipe2(fds, O_CLOEXEC); }

// A pidfd; -1 on a kernel before 5.3.
int exit_fd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace agentbox::approve::detail
