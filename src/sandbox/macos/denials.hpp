// The denials of a Seatbelt run, for the decision log (DESIGN.md §9; agentbox-log(5),
// seatbelt.denied). macOS reports each denial in its unified log, from the kernel's Sandbox
// extension, as one message:
//   Sandbox: curl(4711) deny(1) network-outbound 203.0.113.7:443 <message>
// where <message> is the `(with message ...)` of the rule that denied. Every deny rule of a
// launch carries the run's random tag (LaunchFacts::log_tag), so `log stream`, asked for the
// kernel's Sandbox messages ending in the tag, gives this run's denials and no other
// program's; the tag is random so that nothing inside can write a line that passes for one,
// and the query names the kernel as the sender, which no process can claim.
//
// POSIX only: the parser and the watch are tested on Linux with a stand-in for `log`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sandbox/backend.hpp"

namespace agentbox::sandbox::macos {

// An absolute path, never looked up in PATH.
inline constexpr const char* kLogProgram = "/usr/bin/log";

// A fresh tag for a launch: "agentbox-" and 32 random hex digits.
std::string new_log_tag();

// `log stream` for the kernel's Sandbox messages that end in `tag`, one per line.
std::vector<std::string> log_stream_argv(const std::string& log_program, const std::string& tag);

// One line of `log stream` as a seatbelt.denied event (operation, target, pid, comm), or
// nothing for a line that is not a Sandbox denial ending in `tag` (the stream's header, other
// messages). Pure.
std::optional<Event> parse_denial(std::string_view line, std::string_view tag);

// Runs `argv` from before the command starts until stop(), reading its output on a thread
// of its own. A program that cannot be started reports nothing: stop() then says so in a
// warning event, and the run goes on (macOS still refused the access; only the record of it
// is missing).
class DenialWatch {
public:
    DenialWatch(const std::vector<std::string>& argv, std::string tag);
    ~DenialWatch();
    DenialWatch(const DenialWatch&) = delete;
    DenialWatch& operator=(const DenialWatch&) = delete;

    // Waits until the program has written its first line (`log stream` announces its filter
    // when it is listening), at most `limit`; false when it has not (denials before it
    // listens are not seen). The command is started after this.
    bool wait_started(std::chrono::milliseconds limit);

    // Waits `grace` for reports still on their way (the log is written asynchronously), ends
    // the program and returns the events, in the order reported: at most kMaxEvents, then one
    // warning with the number left out.
    std::vector<Event> stop(std::chrono::milliseconds grace);

    static constexpr std::size_t kMaxEvents = 1000;

private:
    void read_lines();
    std::string tag_;
    std::string program_;
    int pid_ = -1;
    int out_ = -1;  // the read end of the program's stdout
    int err_ = 0;   // why it could not be started
    std::thread reader_;
    std::mutex mu_;
    std::condition_variable ready_;
    bool started_ = false;          // the program wrote something, or ended
    std::vector<Event> events_;     // mu_
    std::size_t dropped_ = 0;       // mu_
};

}  // namespace agentbox::sandbox::macos
