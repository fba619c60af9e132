// The record a run leaves: its session's status (meta.json) and its decision log. Every status
// `run` writes is written here, in the order DESIGN.md §5 gives: "running" with the log's start
// while the sandbox is being built (so a run that cannot be recorded never starts), "failed"
// when it fails before the command ran, "staged" or "failed" when the command is done, flushed
// at the end. (A review that settles the session itself -- empty, committed, discarded --
// writes its status where it decides it, cli/review.cpp.)
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/event.hpp"
#include "audit/log.hpp"
#include "audit/repeats.hpp"
#include "policy/plan.hpp"
#include "stage/session.hpp"

namespace agentbox::stage {

// The decision log's last event: the session's final status.
audit::Event session_end_event(const std::string& status);

class RunRecord {
public:
    struct Options {
        std::optional<std::string> copy_file;  // --log FILE
        std::optional<int> copy_fd;            // --log-fd N
        // Says what could not be done (a log copy lost, a status not written); the run goes on.
        std::function<void(const std::string&)> warn;
        // limits.log_size: past it, the command's events are only counted (audit/repeats.hpp).
        std::uint64_t log_size = policy::kDefaultLogSize;
    };
    RunRecord(Session& session, Options o)
        : session_(session), o_(std::move(o)), repeats_(o_.log_size) {}

    // meta.json says "running" (once). Copy staging calls this before its snapshot, which
    // takes a while: a run killed meanwhile must list as cut short, not as "broken".
    void record_start();
    // record_start, then the log opened with `first` (session.start, the plan) and the events
    // held so far. Once; a failure leaves the session "failed" and propagates: a run that
    // cannot be logged does not start.
    void start(const std::vector<audit::Event>& first);
    // An event the command triggered: logged (or held until the log is open), or counted
    // when it repeats a denial or the log is over limits.log_size (audit/repeats.hpp).
    void event(audit::Event ev);
    // The counts kept since the last summary, logged as log.summary events: when the
    // sandbox is done, and before session.end.
    void summarize();
    // The log, once start() has run.
    audit::Log* log() const { return log_.get(); }

    // The run failed before the command could run: "failed", and session.end if logged.
    void failed();
    // The command is done: "staged" (it ran) or "failed", not yet flushed. The command's
    // outcome stands even when this cannot be written (a full disk): the session then lists
    // as cut short, and its staged work is still there.
    void ended(bool started);
    // The review begins: the status it settles without a flush ("empty") is written by
    // finish(), with the log's head, in one write of meta.json (Session::hold_meta).
    void hold_status() { session_.hold_meta(); }
    // The end: the status flushed -- the user acts on it -- unless "empty" (nothing to lose),
    // and session.end logged; then meta.json records the log's head.
    void finish();

private:
    void set_status(const char* status, bool durable);
    // session.end, after the last summaries, with the run's counts.
    audit::Event end_event(const std::string& status);

    Session& session_;
    Options o_;
    std::unique_ptr<audit::Log> log_;
    std::vector<audit::Event> early_;
    audit::Repeats repeats_;
    bool recorded_ = false;
};

}  // namespace agentbox::stage
