// Passing a descriptor over a unix socket (SCM_RIGHTS): the one place agentbox builds the
// control message, on both ends of the sandbox's sync socket.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace agentbox::sys {

// Sends `len` bytes of `data` (at least one: a message without data carries no descriptor)
// with the descriptor `fd`, in one message, without SIGPIPE. 0, or -1 with errno set. No
// allocation, no exception: the child calls it after clone.
int send_fd(int sock, const void* data, std::size_t len, int fd) noexcept;

// Receives one message of at most `len` bytes into `data` with recvmsg(2) and `flags`
// (MSG_CMSG_CLOEXEC is always added). `fd` receives the descriptor it carried (close-on-exec),
// -1 when none. Returns recvmsg's result: the bytes read, 0 at EOF, -1 with errno set.
ssize_t recv_fd(int sock, void* data, std::size_t len, int flags, int& fd) noexcept;

}  // namespace agentbox::sys
