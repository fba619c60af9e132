// Exporting decision logs to an OpenTelemetry collector (agentbox-log(5), OPENTELEMETRY).
//
// Delivery is at least once and in order. A session being exported has a spool file,
// otlp.json in its directory: the collector's URL and the seq of the last event the collector
// acknowledged (a 2xx answer). Events after it are sent in batches, in log order; the spool
// moves on only after each acknowledgement, so a collector that is down, answers 429/5xx, or
// an agentbox killed mid-send leaves the rest for the next `run` or `log` command, which
// sends every pending session it finds (at most one batch may then arrive twice).
//
// The sandboxed command is never waited on for it: `run` exports after the command has
// ended, within kBudget of wall time in all (a down collector costs a refused connect; a slow
// one at most the budget), and the session stays pending for next time.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "profile/model.hpp"

namespace agentbox::cli {

inline constexpr std::chrono::milliseconds kOtlpBudget{2000};

// The collector for a run: --otlp URL, else config.toml's otlp_endpoint, else "". Throws
// UsageError for a URL agentbox cannot send to (https, not http).
std::string otlp_endpoint(const std::optional<std::string>& flag, const profile::Context& ctx);

// Marks `session_dir` for export to `endpoint` (the spool, nothing acknowledged yet), before
// the command runs, so that a run killed at any point is still exported later.
void otlp_start(const std::string& session_dir, const std::string& endpoint);

struct OtlpResult {
    std::size_t sent = 0;     // events acknowledged now
    std::size_t pending = 0;  // events still to send
    std::string error;        // why it stopped early ("" when everything was acknowledged)
    bool ended = false;       // the log read ends with a session.end
};

// Sends what the collector has not acknowledged of one session's log, to `endpoint` (or the
// spool's endpoint when empty). Never throws for the collector's faults.
OtlpResult otlp_export(const std::string& session_dir, const std::string& endpoint,
                       std::chrono::steady_clock::time_point deadline);

// Before and after a later command (commit, discard, undo...) appends to a session's log:
// a session being exported is marked pending, so that the next flush sends the new lines.
void otlp_mark(const std::string& session_dir);

// Every session of this user marked pending (otlp_start, otlp_mark), oldest first, until the
// deadline; warns (once) when some stay pending.
void otlp_flush_pending(std::chrono::steady_clock::time_point deadline, bool quiet,
                        const std::string& skip = {});

// The end of `run`: its own session, then the others pending, within kOtlpBudget.
void otlp_after_run(const std::string& session_dir, const std::string& endpoint, bool quiet);

}  // namespace agentbox::cli
