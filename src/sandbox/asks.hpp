// Questions from the proxy (a connection decided `ask`, DESIGN.md §8) on their way to the
// user, for the supervisor: to the approver command, each on a thread of its own so that the
// poll loop (signals, the wall clock, the pty relay) never waits for it; else to a prompt on the
// controlling terminal, read inside the poll loop while the pty relay is paused and the
// terminal is back in the user's own mode; else denied. Every answer goes back to the proxy
// and, as an "approval" event, to the sink — on the supervisor's thread, as every event.
// POSIX (its wake-ups are net::Wakeup: an eventfd on Linux, a self-pipe on macOS): the Linux
// supervisor and the Seatbelt launcher (macos/seatbelt_run.cpp) share it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "net/proxy.hpp"
#include "net/wake.hpp"
#include "sandbox/backend.hpp"
#include "sandbox/pty.hpp"

namespace agentbox::sandbox {

class Asks {
public:
    Asks(const Io& io, const EventSink& sink, RawMode* raw);
    ~Asks();  // finish()
    Asks(const Asks&) = delete;
    Asks& operator=(const Asks&) = delete;

    // A proxy "ask" event (fields id, op, target, rule, source).
    void add(net::Proxy& proxy, const std::vector<std::pair<std::string, std::string>>& fields);

    int answers_fd() const { return answers_.fd(); }  // approvers' answers are waiting
    void on_answers(net::Proxy& proxy);

    // While a prompt is on the terminal the pty relay is paused: its side of the terminal is
    // not read or written until the answer is in.
    bool prompting() const { return prompting_; }
    int tty_fd() const { return tty_.get(); }
    void on_tty(net::Proxy& proxy);
    void interrupt(net::Proxy& proxy);  // Ctrl-C at the prompt: a no

    // The run is over: approvers still running are cancelled (and logged), a prompt is taken
    // off the terminal. Idempotent.
    void finish(net::Proxy* proxy);

private:
    using Clock = std::chrono::steady_clock;
    struct Question {
        std::uint64_t id = 0;
        AskRequest req;
        Clock::time_point t0;
    };

    void start_approver(net::Proxy& proxy, Question q);
    void reap_workers();
    void reply(net::Proxy* proxy, const Question& q, const AskAnswer& a);
    void next_prompt(net::Proxy& proxy);
    void write_question(bool again);
    void answer_prompt(net::Proxy& proxy, AskAnswer a);
    void end_prompt();

    Approver approver_;
    bool prompt_allowed_;
    const EventSink& sink_;
    RawMode* raw_;

    // Approver threads hand their answers over through this queue and wake-up; `cancel_`,
    // readable once finish() signals it, ends the approvers still running.
    net::Wakeup answers_, cancel_;
    std::mutex mu_;
    std::vector<std::pair<Question, AskAnswer>> done_;
    struct Worker {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> finished;
    };
    std::vector<Worker> workers_;
    // A command that opens connections to a thousand unlisted hosts must not start a thousand
    // approvers at once: beyond kMaxApprovers the questions wait here, in order.
    static constexpr std::size_t kMaxApprovers = 4;
    std::deque<Question> waiting_;
    bool finished_ = false;

    // The prompt: questions wait their turn; the first is on the terminal.
    std::deque<Question> queue_;
    sys::unique_fd tty_;
    bool prompting_ = false;
    bool canonical_ = true;
    std::string line_;
};

}  // namespace agentbox::sandbox
