// Named points of a run, for bench/startup.py --phases: where the time of a start goes. Off
// unless AGENTBOX_PHASES is set in agentbox's environment (read once); then each mark costs a
// clock read, and report() prints "agentbox-phase NAME NS" lines (CLOCK_MONOTONIC, the clock
// Python's perf_counter_ns reads, so the bench can place them after its own spawn time) to
// stderr. Supervisor side only: never called in the sandbox's processes.
#pragma once

namespace agentbox::util::phases {

void mark(const char* name) noexcept;  // `name`: a string literal
void report() noexcept;

}  // namespace agentbox::util::phases
