// The Linux-side portability check of the macOS build (ctest cross.macos, cmake/macos/check.cmake):
// every source of the macOS list (cmake/macos/sources.cmake) is compiled on Linux with this
// header included first. It includes the headers the code uses while they may still see Linux,
// then removes Linux from sight: __linux__ is undefined (so `#ifdef __linux__` branches drop out
// and what is left is what macOS compiles, less `#ifdef __APPLE__` code, which only a Mac
// compiles), the Linux-only headers refuse to be included (linux-only/), and the interfaces
// macOS does not have, or has with another signature, are poisoned: a use is a compile error.
//
// What is poisoned was checked against Apple's headers and man pages (the macOS 14 SDK): no
// epoll, eventfd, signalfd, timerfd, inotify, fanotify; no splice/tee/vmsplice; no pipe2, dup3,
// accept4 (flags go through fcntl); no prctl, personality, unshare/setns/clone3, pidfd_*; no
// syncfs (fsync + F_FULLFSYNC), openat2, renameat2 (renameatx_np), O_PATH, O_TMPFILE,
// AT_EMPTY_PATH, FICLONE (clonefile), memfd_create, getdents64 (getdirentries), statx,
// copy_file_range (fcopyfile), getrandom (getentropy), explicit_bzero (memset_s), gettid,
// MSG_NOSIGNAL (SO_NOSIGPIPE), SOCK_CLOEXEC/SOCK_NONBLOCK, F_SETPIPE_SZ, close_range;
// the xattr calls take two more arguments there (position, options) and have no l* forms
// (XATTR_NOFOLLOW). macOS does have, so not poisoned: openpty/posix_openpt (<util.h>, not
// <pty.h>), fdatasync, futimens/utimensat, mkfifoat/mknodat (mknod of a device needs root),
// makedev/major/minor (<sys/types.h>, not <sys/sysmacros.h>), flock, posix_spawn, poll, kqueue.
#pragma once

// Everything the code includes from the C library; of the C++ library, only the headers that
// would trip the checks below if included after them: <atomic> (its futex wait includes
// <syscall.h>), <list> and <forward_list> (their member function splice). The rest of the C++
// library comes later, as each source includes it: libstdc++ looks at __linux__ only in its
// os_defines.h, which the first header here includes, and a header that does trip a check is a
// compile error, never a check skipped. (All of it, <bits/stdc++.h>, is ~100,000 lines: with
// it, util/escape.cpp took 4.8 s of CPU here, without 1.0 s.) Then the third-party headers
// whose inline code uses Linux interfaces on Linux (asio's epoll reactor).
#include <cassert>
#include <cctype>
#include <cerrno>
#include <cfenv>
#include <cfloat>
#include <cinttypes>
#include <climits>
#include <clocale>
#include <csetjmp>
#include <csignal>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <cuchar>
#include <cwchar>
#include <cwctype>
#include <atomic>
#include <forward_list>
#include <list>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>  // makedev, major, minor: where macOS's <sys/types.h> has them
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/random.h>  // macOS has it, for getentropy
#include <sys/xattr.h>   // macOS has it, with its own signatures
#include <termios.h>
#include <time.h>
#include <unistd.h>
#ifdef AGENTBOX_POISON_ASIO  // the proxy's sources only (portability.cmake): asio is heavy
#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#endif

// From here on the code sees what macOS would show it.
#define AGENTBOX_POISON_ACTIVE 1
#undef __linux__
#undef __linux
#undef linux
#undef __gnu_linux__

// The Linux-only macros, undefined so that they can be poisoned too.
#undef F_SETPIPE_SZ
#undef F_GETPIPE_SZ
#undef RENAME_NOREPLACE
#undef RENAME_EXCHANGE
#undef RENAME_WHITEOUT
#undef O_PATH
#undef O_TMPFILE
#undef O_NOATIME
#undef O_DIRECT
#undef O_LARGEFILE
#undef AT_EMPTY_PATH
#undef MSG_NOSIGNAL
#undef SOCK_CLOEXEC
#undef SOCK_NONBLOCK
#undef FICLONE
#undef FICLONERANGE

// struct stat's times: macOS names them st_atimespec, st_mtimespec, st_ctimespec (and has
// st_birthtimespec); glibc st_atim... Code the Mac compiles uses the macOS names outside
// `#ifdef __linux__`, which here stand for glibc's (defined before the poison, so allowed).
#define st_atimespec st_atim
#define st_mtimespec st_mtim
#define st_ctimespec st_ctim
#pragma GCC poison st_atim st_mtim st_ctim

#pragma GCC poison epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_event
#pragma GCC poison eventfd eventfd_read eventfd_write signalfd timerfd_create timerfd_settime
#pragma GCC poison inotify_init inotify_init1 inotify_add_watch fanotify_init fanotify_mark
#pragma GCC poison splice tee vmsplice pipe2 dup3 accept4 F_SETPIPE_SZ F_GETPIPE_SZ
#pragma GCC poison prctl personality unshare setns clone3 pidfd_open pidfd_send_signal
#pragma GCC poison pidfd_getfd syncfs openat2 renameat2 RENAME_NOREPLACE RENAME_EXCHANGE
#pragma GCC poison RENAME_WHITEOUT O_PATH O_TMPFILE O_NOATIME O_DIRECT O_LARGEFILE AT_EMPTY_PATH
#pragma GCC poison FICLONE FICLONERANGE memfd_create getdents64 statx copy_file_range
#pragma GCC poison getrandom explicit_bzero gettid MSG_NOSIGNAL SOCK_CLOEXEC SOCK_NONBLOCK
#pragma GCC poison close_range umount umount2 sched_getaffinity sched_setaffinity
#pragma GCC poison getxattr setxattr listxattr removexattr lgetxattr lsetxattr llistxattr
#pragma GCC poison lremovexattr fgetxattr fsetxattr flistxattr fremovexattr
#pragma GCC poison mempcpy get_nprocs sysinfo
