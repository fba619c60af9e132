// A header macOS does not have (or, for a few, has with other contents): cmake/macos/poison.h.
#ifndef AGENTBOX_POISON_ACTIVE
#include_next <sys/inotify.h>
#else
#error "<sys/inotify.h> is Linux-only: code the macOS build compiles must not include it (cmake/macos/poison.h)"
#endif
