#include "sandbox/asks.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "sys/error.hpp"
#include "util/strings.hpp"

namespace agentbox::sandbox {

namespace {

void put(int fd, const std::string& s) {
    // Best effort: a terminal that cannot take the question will not give an answer either,
    // and the read side notices that.
    [[maybe_unused]] ssize_t n = ::write(fd, s.data(), s.size());
}

AskAnswer refusal(std::string by, std::string how, std::string reason) {
    AskAnswer a;
    a.by = std::move(by);
    a.how = std::move(how);
    a.reason = std::move(reason);
    return a;
}

std::string field(const std::vector<std::pair<std::string, std::string>>& fields,
                  const char* key) {
    for (const auto& [k, v] : fields)
        if (k == key) return v;
    return {};
}

long long ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
}

// What the client is told when the answer is no (the 403's text).
std::string denial_text(const AskAnswer& a) {
    if (a.by == "approver") {
        if (a.how == "answered")
            return "denied by the approver" + (a.reason.empty() ? "" : ": " + a.reason);
        return "denied: the approver gave no valid answer (" + a.how + ": " + a.reason + ")";
    }
    if (a.by == "prompt") return "denied at the prompt" + (a.how == "answered" ? "" : " (" + a.how + ")");
    return "denied: " + a.reason;
}

}  // namespace

Asks::Asks(const Io& io, const EventSink& sink, RawMode* raw)
    : approver_(io.approver),
      prompt_allowed_(io.prompt),
      sink_(sink),
      raw_(raw),
      answers_(),
      cancel_() {}

Asks::~Asks() {
    try {
        finish(nullptr);
    } catch (...) {
        // Unwinding already (the supervisor failed): the threads are joined, the log is not
        // written to.
    }
}

void Asks::add(net::Proxy& proxy,
               const std::vector<std::pair<std::string, std::string>>& fields) {
    Question q;
    try {
        q.id = std::stoull(field(fields, "id"));
    } catch (const std::exception&) {
        return;  // not a question the proxy can take an answer to
    }
    q.req = AskRequest{field(fields, "op"), field(fields, "target"), field(fields, "rule"),
                       field(fields, "source")};
    q.t0 = Clock::now();
    if (finished_) {
        reply(&proxy, q, refusal("none", "cancelled", "the run is ending"));
        return;
    }
    if (approver_) {
        start_approver(proxy, std::move(q));
        return;
    }
    queue_.push_back(std::move(q));
    if (!prompting_) next_prompt(proxy);
}

void Asks::start_approver(net::Proxy& proxy, Question q) {
    if (workers_.size() >= kMaxApprovers) {
        waiting_.push_back(std::move(q));
        return;
    }
    try {
        auto finished = std::make_shared<std::atomic<bool>>(false);
        std::thread t([this, q, finished] {
            AskAnswer a;
            try {
                a = approver_(q.req, cancel_.fd());
            } catch (const std::exception& e) {
                a = refusal("approver", "not started", e.what());
            }
            {
                std::lock_guard<std::mutex> lock(mu_);
                done_.emplace_back(q, std::move(a));
            }
            finished->store(true);
            answers_.signal();
        });
        workers_.push_back(Worker{std::move(t), std::move(finished)});
    } catch (const std::system_error& e) {
        // No thread for it (EAGAIN): the question cannot be put, and that is a deny.
        reply(&proxy, q, refusal("approver", "not started", e.what()));
    }
}

void Asks::on_answers(net::Proxy& proxy) {
    answers_.drain();  // before the swap: an answer queued after it wakes the loop again
    std::vector<std::pair<Question, AskAnswer>> done;
    {
        std::lock_guard<std::mutex> lock(mu_);
        done.swap(done_);
    }
    for (const auto& [q, a] : done) reply(&proxy, q, a);
    reap_workers();
    while (!waiting_.empty() && workers_.size() < kMaxApprovers) {
        Question q = std::move(waiting_.front());
        waiting_.pop_front();
        start_approver(proxy, std::move(q));
    }
}

void Asks::reap_workers() {
    std::erase_if(workers_, [](Worker& w) {
        if (!w.finished->load()) return false;
        w.thread.join();  // it has handed its answer over and is returning
        return true;
    });
}

void Asks::reply(net::Proxy* proxy, const Question& q, const AskAnswer& a) {
    if (sink_)
        sink_(Event{"approval",
                    {{"op", q.req.op},
                     {"target", q.req.target},
                     {"rule", q.req.rule},
                     {"source", q.req.source},
                     {"verdict", a.allow ? "allow" : "deny"},
                     {"scope", a.session ? "session" : "once"},
                     {"by", a.by},
                     {"how", a.how},
                     {"reason", a.reason},
                     {"ms", std::to_string(a.ms)}}});
    if (proxy != nullptr) proxy->answer(q.id, a.allow, a.session, a.allow ? "" : denial_text(a));
}

void Asks::next_prompt(net::Proxy& proxy) {
    if (queue_.empty() || prompting_) return;
    if (prompt_allowed_ && !finished_)
        tty_.reset(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
    if (!tty_) {
        // Nobody to ask: every waiting question is a deny, said so in the log.
        const char* why = prompt_allowed_ ? "no approver, and no terminal to ask on"
                                          : "no approver, and prompts are off";
        while (!queue_.empty()) {
            Question q = std::move(queue_.front());
            queue_.pop_front();
            AskAnswer a = refusal("none", "no approver", why);
            a.ms = ms_since(q.t0);
            reply(&proxy, q, a);
        }
        return;
    }
    // The relay's raw mode off: the user types a line with the terminal's own editing and
    // echo. The relay stays paused until the last question is answered.
    if (raw_ != nullptr) raw_->restore();
    struct termios t {};
    canonical_ = ::tcgetattr(tty_.get(), &t) == 0 && (t.c_lflag & ICANON) != 0;
    prompting_ = true;
    line_.clear();
    write_question(false);
}

void Asks::write_question(bool again) {
    const Question& q = queue_.front();
    std::string text;
    if (again) {
        text = "agentbox: please answer y, a, n or v: ";
    } else {
        // Everything here may come from inside the sandbox (a host name): quoted, so that it
        // cannot move the cursor or rewrite the question.
        text = "\r\nagentbox: the sandboxed command asks to " + q.req.op + " " +
               util::quote(q.req.target) + "\r\n  rule " + util::quote(q.req.rule) +
               (q.req.source.empty() ? "" : " (" + util::quote(q.req.source) + ")") +
               " says ask.\r\nagentbox: allow? [y]es once, [a]lways this run, [n]o, "
               "ne[v]er this run: ";
    }
    put(tty_.get(), text);
}

void Asks::on_tty(net::Proxy& proxy) {
    if (!prompting_) return;
    char buf[256];
    const ssize_t n = ::read(tty_.get(), buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0 || (n == 0 && canonical_)) {
        // The terminal went away (EIO: hung up, or we are in the background), or ^D.
        answer_prompt(proxy, refusal("prompt", n == 0 ? "end of input" : "no terminal",
                                     n == 0 ? "end of input at the prompt"
                                            : std::string("reading the terminal: ") +
                                                  std::strerror(errno)));
        return;
    }
    for (ssize_t i = 0; i < n && prompting_; ++i) {
        const char ch = buf[i];
        if (ch != '\n' && ch != '\r') {
            if (line_.size() < 256) line_.push_back(ch);
            continue;
        }
        std::string a(util::trim(line_));
        line_.clear();
        for (char& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        AskAnswer ans;
        ans.by = "prompt";
        ans.how = "answered";
        if (a == "y" || a == "yes") {
            ans.allow = true;
        } else if (a == "a" || a == "always") {
            ans.allow = true;
            ans.session = true;
        } else if (a == "n" || a == "no") {
            ans.allow = false;
        } else if (a == "v" || a == "never") {
            // A command that keeps trying the same place is not asked about it again.
            ans.allow = false;
            ans.session = true;
        } else {
            if (!canonical_) put(tty_.get(), "\r\n");
            write_question(true);
            continue;
        }
        if (!canonical_) put(tty_.get(), "\r\n");
        answer_prompt(proxy, std::move(ans));
    }
}

void Asks::interrupt(net::Proxy& proxy) {
    if (!prompting_) return;
    put(tty_.get(), "\r\n");
    answer_prompt(proxy, refusal("prompt", "interrupted", "Ctrl-C at the prompt"));
}

void Asks::answer_prompt(net::Proxy& proxy, AskAnswer a) {
    Question q = std::move(queue_.front());
    queue_.pop_front();
    a.ms = ms_since(q.t0);
    reply(&proxy, q, a);
    if (!queue_.empty()) {
        line_.clear();
        write_question(false);
        return;
    }
    end_prompt();
}

void Asks::end_prompt() {
    if (!prompting_) return;
    prompting_ = false;
    tty_.reset();
    line_.clear();
    if (raw_ != nullptr) raw_->reapply();
}

void Asks::finish(net::Proxy* proxy) {
    if (finished_) return;
    finished_ = true;
    if (prompting_) {
        put(tty_.get(), "\r\nagentbox: the command ended; the question is withdrawn\r\n");
        while (!queue_.empty()) {
            Question q = std::move(queue_.front());
            queue_.pop_front();
            AskAnswer a = refusal("prompt", "cancelled", "the run ended before an answer");
            a.ms = ms_since(q.t0);
            reply(proxy, q, a);
        }
        end_prompt();
    }
    cancel_.signal();
    for (auto& w : workers_)
        if (w.thread.joinable()) w.thread.join();
    workers_.clear();
    // Questions that never got an approver: denied, and logged as such.
    while (!waiting_.empty()) {
        Question q = std::move(waiting_.front());
        waiting_.pop_front();
        AskAnswer a = refusal("approver", "cancelled", "the run ended before the approver was asked");
        a.ms = ms_since(q.t0);
        reply(proxy, q, a);
    }
    // What the cancelled approvers said ("cancelled") is logged too: every question has its
    // answer in the log.
    std::vector<std::pair<Question, AskAnswer>> done;
    {
        std::lock_guard<std::mutex> lock(mu_);
        done.swap(done_);
    }
    for (const auto& [q, a] : done) reply(proxy, q, a);
}

}  // namespace agentbox::sandbox
