// What the proxy needs from the system that Linux spells its own way (issue 24: the proxy is
// the only network of the macOS backend too). Linux keeps its faster calls -- eventfd for the
// wake-up (net/wake.hpp), splice for payload (net/pump.hpp), SOCK_CLOEXEC and MSG_NOSIGNAL;
// elsewhere a self-pipe, a read/write pump, fcntl and SO_NOSIGPIPE do the same work.
//
// The portable way is chosen at run time, not only at build time, so that the Linux test suites
// run it too: AGENTBOX_TEST_PORTABLE_NET=1 (builds with AGENTBOX_TEST_RESOLVER, announced as a
// warning whenever it is set, like every test switch).
#pragma once

#include <sys/socket.h>

namespace agentbox::net {

enum class IoKind {
    native,    // eventfd and splice (Linux only)
    portable,  // a self-pipe and a read/write pump: what every other system uses
};

inline constexpr const char* kPortableNetEnv = "AGENTBOX_TEST_PORTABLE_NET";

#ifdef __linux__
inline constexpr IoKind kDefaultIo = IoKind::native;
#else
inline constexpr IoKind kDefaultIo = IoKind::portable;
#endif

// A pipe with both ends close-on-exec (and non-blocking with `nonblock`): pipe2 on Linux; pipe
// and fcntl elsewhere. Returns false with errno set.
bool open_pipe(int fds[2], bool nonblock);

// A socket that is close-on-exec (and non-blocking with `nonblock`), and that never raises
// SIGPIPE where the system has no MSG_NOSIGNAL (SO_NOSIGPIPE). -1 with errno set.
int open_socket(int family, int type, int protocol, bool nonblock);

// Writing to `fd` (a socket) after its peer left fails with EPIPE instead of a SIGPIPE: on
// Apple systems the socket option; elsewhere nothing (send with kSendFlags).
void no_sigpipe(int fd);

// The flags every send(2) on agentbox's sockets passes.
#if defined(__linux__)
inline constexpr int kSendFlags = MSG_NOSIGNAL;
#else
inline constexpr int kSendFlags = 0;  // macOS has no MSG_NOSIGNAL: no_sigpipe() does it
#endif

}  // namespace agentbox::net
