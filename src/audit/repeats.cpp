#include "audit/repeats.hpp"

#include "audit/log.hpp"

namespace agentbox::audit {

namespace {

// The member that says what was refused, by kind: a syscall.denied's syscall,
// landlock.denied's blockers, seatbelt.denied's operation, a decision's target; for the
// events counted only past log_size, a connection's host or an exec's program.
constexpr const char* kWhat[] = {"syscall", "blockers", "operation", "target", "host", "argv0"};

std::string text_of(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool is_denial(const Event& ev) {
    const std::string& t = ev.type();
    if (t.size() > 7 && t.compare(t.size() - 7, 7, ".denied") == 0) return true;
    const auto v = ev.fields().find("verdict");
    return v != ev.fields().end() && v->is_string() && v->get<std::string>() == "deny";
}

}  // namespace

Repeats::Moment Repeats::now() { return {std::chrono::steady_clock::now(), timestamp_now()}; }

Repeats::Repeats(std::uint64_t log_size, std::chrono::steady_clock::duration period)
    : log_size_(log_size), period_(period) {}

Repeats::Count& Repeats::count_for(const Event& ev) {
    Count c;
    c.type = ev.type();
    const Json& f = ev.fields();
    for (const char* w : kWhat)
        if (const auto it = f.find(w); it != f.end()) {
            c.what_name = w;
            c.what = text_of(*it);
            break;
        }
    if (const auto it = f.find("comm"); it != f.end()) c.comm = text_of(*it);
    // \x1f cannot be in a type or member name; in a value it only makes two keys one.
    std::string key = c.type + '\x1f' + c.what_name + '\x1f' + c.what + '\x1f' + c.comm;
    if (const auto it = counts_.find(key); it != counts_.end()) return it->second;
    if (counts_.size() >= kMaxKeys) {
        // Keys past the bound: one per type, whatever the comm and target.
        key = c.type + "\x1f*";
        if (const auto it = counts_.find(key); it != counts_.end()) return it->second;
        c.what_name.clear();
        c.what.clear();
        c.comm = "*";
    }
    order_.push_back(key);
    return counts_.emplace(std::move(key), std::move(c)).first->second;
}

bool Repeats::admit(const Event& ev, std::uint64_t log_bytes, const Moment& at) {
    if (!started_) {
        period_start_ = at.mono;
        started_ = true;
    }
    // The supervisor ending the sandbox (limits.stage_size) happens once per run, whatever the
    // command does: the reason a run ended is never only a count.
    if (ev.type() == "limit") return true;
    const bool denial = is_denial(ev);
    if (log_bytes >= log_size_) size_reached_ = true;
    // Only what is counted needs a key: below the size, events other than denials pass
    // without one (an allowed connection is never folded into a count by its repeats).
    if (!denial && !size_reached_) return true;
    Count& c = count_for(ev);
    if (!size_reached_ && c.written < kPerKey) {
        ++c.written;
        return true;
    }
    if (c.pending == 0) c.first = at.ts;
    c.last = at.ts;
    ++c.pending;
    ++c.total;
    ++counted_;
    any_pending_ = true;
    return false;
}

bool Repeats::due(const Moment& at, std::uint64_t log_bytes) const {
    return any_pending_ && log_bytes < log_size_ && at.mono - period_start_ >= period_;
}

std::vector<Event> Repeats::take_summaries(const Moment& at) {
    period_start_ = at.mono;
    std::vector<Event> out;
    if (!any_pending_) return out;
    for (const auto& key : order_) {
        Count& c = counts_.at(key);
        if (c.pending == 0) continue;
        Event ev("log.summary");
        ev.set("of", c.type);
        if (!c.what_name.empty()) ev.set(c.what_name, c.what);
        if (!c.comm.empty()) ev.set("comm", c.comm);
        ev.set("count", c.pending);
        ev.set("total", c.total);
        ev.set("first", c.first);
        ev.set("last", c.last);
        out.push_back(std::move(ev));
        c.pending = 0;
    }
    any_pending_ = false;
    return out;
}

}  // namespace agentbox::audit
