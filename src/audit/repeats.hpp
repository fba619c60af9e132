// What a sandboxed command can make the decision log hold (DESIGN.md §7, note 95). Every
// event the command triggers is either written in full or counted, and the log says which:
//
// - a denial (a "*.denied" event, or one whose verdict is "deny") repeated under the same key
//   -- its type, what was refused (syscall, blockers, operation, target) and the caller's comm
//   -- is written in full kPerKey times, then counted;
// - once the log holds `log_size` bytes, every event the command triggers is counted;
// - the counts go to the log as "log.summary" events: for each key counted since the last
//   summary, every `period` while the log is under `log_size` (so a long run shows them
//   without waiting for its end), and at the end of the run whatever the size.
//
// The keys are the command's to choose (comm is its own name; a target can be any host), so
// at most kMaxKeys are kept; later keys are counted under their type alone (comm and what
// "*"). The end's summaries are then at most kMaxKeys + one per event type.
//
// Pure: the caller passes the time and the log's size; writing is audit::Log's.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/event.hpp"

namespace agentbox::audit {

class Repeats {
public:
    // A denial repeated this often is a loop, not new information: the first 20 show its
    // pids, arguments and timing; a denial a tool makes once per start (a probe of unshare,
    // of a socket) stays in full for 20 starts.
    static constexpr std::uint32_t kPerKey = 20;
    static constexpr std::size_t kMaxKeys = 256;
    static constexpr std::chrono::seconds kDefaultPeriod{60};

    struct Moment {
        std::chrono::steady_clock::time_point mono;
        std::string ts;  // as the log writes it (timestamp_now)
    };
    static Moment now();

    explicit Repeats(std::uint64_t log_size,
                     std::chrono::steady_clock::duration period = kDefaultPeriod);

    // Whether `ev`, triggered by the command, is to be written in full; if not, it is counted.
    // `log_bytes`: the log's size now.
    bool admit(const Event& ev, std::uint64_t log_bytes, const Moment& at);
    // A periodic summary is due: counts are pending, the period is over, and the log is under
    // its size (over it, the summaries wait for the end).
    bool due(const Moment& at, std::uint64_t log_bytes) const;
    // The "log.summary" events for every key counted since the last call, which starts the
    // next period at `at`.
    std::vector<Event> take_summaries(const Moment& at);

    // Events counted and not written in full, over the whole run.
    std::uint64_t counted() const { return counted_; }
    // Whether the log reached log_size.
    bool size_reached() const { return size_reached_; }

private:
    struct Count {
        std::string type, what_name, what, comm;
        std::uint64_t written = 0;  // written in full
        std::uint64_t pending = 0;  // counted since the last summary
        std::uint64_t total = 0;    // counted over the run
        std::string first, last;    // of the pending ones
    };
    Count& count_for(const Event& ev);

    std::uint64_t log_size_;
    std::chrono::steady_clock::duration period_;
    std::chrono::steady_clock::time_point period_start_{};
    bool started_ = false;
    std::unordered_map<std::string, Count> counts_;
    std::vector<std::string> order_;  // keys in the order first seen: summaries in that order
    std::uint64_t counted_ = 0;
    bool size_reached_ = false;
    bool any_pending_ = false;
};

}  // namespace agentbox::audit
