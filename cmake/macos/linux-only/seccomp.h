// A header macOS does not have (or, for a few, has with other contents): cmake/macos/poison.h.
#ifndef AGENTBOX_POISON_ACTIVE
#include_next <seccomp.h>
#else
#error "<seccomp.h> is Linux-only: code the macOS build compiles must not include it (cmake/macos/poison.h)"
#endif
