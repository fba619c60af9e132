// Named points of a run, for bench/startup.py --phases: where the time of a start goes. Off
// unless AGENTBOX_PHASES is set in agentbox's environment (read once); then each mark costs a
// clock read, and report() prints "agentbox-phase NAME NS" lines (CLOCK_MONOTONIC, the clock
// Python's perf_counter_ns reads, so the bench can place them after its own spawn time) to
// stderr. Supervisor side only: never called in the sandbox's processes, which write their
// clock readings to memory shared with the supervisor (sandbox/linux/child.hpp, ChildClock),
// for it to mark with mark_at once they are done.
#pragma once

namespace agentbox::util::phases {

void mark(const char* name) noexcept;  // `name`: a string literal
// A point read elsewhere at `ns` (CLOCK_MONOTONIC); 0 is no reading and marks nothing.
void mark_at(const char* name, long long ns) noexcept;
bool on() noexcept;  // marks are being taken
void report() noexcept;

}  // namespace agentbox::util::phases
