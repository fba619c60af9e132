// A rename that never replaces what is at the destination, however the system spells it:
// renameat2(RENAME_NOREPLACE) on Linux, renameatx_np(RENAME_EXCL) on macOS.
#pragma once

namespace agentbox::sys {

// renameat(2) that fails with EEXIST when `to` exists, atomically. -1 with errno EINVAL when
// the filesystem (or the system) cannot refuse atomically: the caller then falls back, e.g. to
// link(2), which refuses an existing name too. No allocation, no exception.
int rename_noreplace(int from_dir, const char* from, int to_dir, const char* to);

}  // namespace agentbox::sys
