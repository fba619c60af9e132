// A stat's times under each system's name for them: Linux's st_atim/st_mtim/st_ctim,
// macOS's st_atimespec/st_mtimespec/st_ctimespec. The one place that spells both.
#pragma once

#include <sys/stat.h>

namespace agentbox::sys {

#ifdef __linux__
inline const struct timespec& atime_of(const struct stat& st) { return st.st_atim; }
inline const struct timespec& mtime_of(const struct stat& st) { return st.st_mtim; }
inline const struct timespec& ctime_of(const struct stat& st) { return st.st_ctim; }
#else
inline const struct timespec& atime_of(const struct stat& st) { return st.st_atimespec; }
inline const struct timespec& mtime_of(const struct stat& st) { return st.st_mtimespec; }
inline const struct timespec& ctime_of(const struct stat& st) { return st.st_ctimespec; }
#endif

}  // namespace agentbox::sys
