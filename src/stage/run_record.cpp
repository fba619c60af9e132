#include "stage/run_record.hpp"

#include <csignal>

#include "audit/chain.hpp"

namespace agentbox::stage {

audit::Event session_end_event(const std::string& status) {
    audit::Event ev("session.end");
    ev.set("status", status);
    return ev;
}

void RunRecord::set_status(const char* status, bool durable) {
    session_.set_status(status, durable);
}

void RunRecord::record_start() {
    if (recorded_) return;
    session_.record_start();
    recorded_ = true;
}

void RunRecord::start(const std::vector<audit::Event>& first) {
    if (log_) return;
    try {
        // The log key first: the session files' key is derived from it (remember_log_key),
        // not read a second time by meta.json's seal (-8 system calls).
        auto key = audit::SigningKey::load_or_create(config_dir() + "/log-key");
        remember_log_key(key);
        record_start();
        log_ = audit::Log::create(session_.log_path(), session_.meta().id, std::move(key));
        log_->on_error([this](const std::string& m) { o_.warn(m); });
        if (o_.copy_file) log_->add_copy_file(*o_.copy_file);
        if (o_.copy_fd) log_->add_copy_fd(*o_.copy_fd, "--log-fd " + std::to_string(*o_.copy_fd));
        // A collector that goes away must cost us its copy, not our life. The command gets the
        // default disposition back before exec (sandbox/linux/command.cpp).
        if (o_.copy_file || o_.copy_fd) ::signal(SIGPIPE, SIG_IGN);
        // The head of the log after each signed line (its session.end) is kept in the
        // session's authenticated metadata, where cutting the log cannot hide it.
        log_->on_signed([this](std::uint64_t seq, const std::string& h) {
            session_.record_log_head(seq, h);
        });
        for (const auto& ev : first) log_->append(ev);
        for (const auto& ev : early_) log_->append(ev);
        early_.clear();
    } catch (...) {
        set_status("failed", true);
        throw;
    }
}

void RunRecord::event(audit::Event ev) {
    const audit::Repeats::Moment at = audit::Repeats::now();
    const std::uint64_t size = log_ ? log_->size() : 0;
    // The summary of the period that is over first: it covers what came before this event.
    if (log_ && repeats_.due(at, size))
        for (const auto& s : repeats_.take_summaries(at)) log_->append(s);
    if (!repeats_.admit(ev, size, at)) return;
    if (log_) log_->append(ev);
    else early_.push_back(std::move(ev));
}

void RunRecord::summarize() {
    if (!log_) return;
    for (const auto& s : repeats_.take_summaries(audit::Repeats::now())) log_->append(s);
}

audit::Event RunRecord::end_event(const std::string& status) {
    summarize();
    audit::Event ev = session_end_event(status);
    // The log's promise: every event is written or counted, and it says which.
    ev.set("counted", repeats_.counted());
    ev.set("log_size_reached", repeats_.size_reached());
    return ev;
}

void RunRecord::failed() {
    set_status("failed", true);
    if (log_) log_->append(end_event("failed"));
}

void RunRecord::ended(bool started) {
    try {
        set_status(started ? "staged" : "failed", /*durable=*/false);
    } catch (const std::exception& e) {
        o_.warn("could not record the end of session " + session_.meta().id + ": " + e.what());
    }
}

void RunRecord::finish() {
    if (session_.meta().status != "empty") {
        try {
            session_.sync_meta();
        } catch (const std::exception& e) {
            o_.warn("could not flush the status of session " + session_.meta().id + ": " +
                    e.what());
        }
    }
    log_->append(end_event(session_.meta().status));
    // After the line it names: a crash between the two leaves a log that runs past the head
    // meta.json records, which verifies (a head ahead of the log would read as a cut log).
    try {
        session_.write_held_meta();
    } catch (const std::exception& e) {
        o_.warn("could not record the end of session " + session_.meta().id + ": " + e.what());
    }
}

}  // namespace agentbox::stage
