// The macOS backend: `/usr/bin/sandbox-exec -p PROFILE` under the supervisor of
// seatbelt_run.cpp, in the session's copy of the project (the copy strategy: the cli's
// stage::RunStaging clones it before and turns it into the change set after, as for bwrap).
// What it runs is decided by the pure functions of seatbelt.cpp and supervised by
// seatbelt_run.cpp, both of which the Linux tests run. Written against POSIX and compiled on
// every system: the dry run's check() is this backend's, and ctest cross.macos links it on
// Linux. It launches only on macOS (sandbox/choose.hpp, cannot_run_here).
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "sandbox/backend.hpp"
#include "sandbox/macos/denials.hpp"
#include "sandbox/macos/seatbelt.hpp"
#include "sandbox/macos/seatbelt_run.hpp"
#include "util/exit_codes.hpp"

namespace agentbox::sandbox {
namespace {

namespace fs = std::filesystem;

class Seatbelt final : public Backend {
public:
    const char* name() const override { return "seatbelt"; }
    bool checks_everything() const override { return true; }

    // The same list `--dry-run --target macos` prints (seatbelt.cpp), so that a dry run that
    // exits 0 is a run that starts.
    std::vector<policy::Weakening> check(const policy::Plan& plan) const override {
        return macos::seatbelt_weakenings(plan);
    }

    Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
                   const EventSink& sink) override {
        Outcome out;
        const auto start = std::chrono::steady_clock::now();
        try {
            run(plan, stage, io, sink, out);
        } catch (const std::exception& e) {
            // Before the command ran (run_seatbelt throws only before its fork): 125.
            out.exit_code = util::kExitSetup;
            out.started = false;
            out.error = e.what();
        }
        out.wall_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return out;
    }

private:
    static void run(const policy::Plan& plan, const StageDirs& stage, const Io& io,
                    const EventSink& sink, Outcome& out) {
        // The command works in the session's copy of the project (StageDirs::snapshot, made by
        // the cli); its work/ holds the scratch directories.
        const std::string copy = stage.snapshot;
        const std::string scratch = stage.work.empty() ? std::string() : stage.work + "/scratch";
        if (plan.staging != policy::Staging::none && copy.empty())
            throw std::runtime_error("the copy strategy needs the session's copy of the project");
        std::error_code ec;
        if (!scratch.empty()) fs::create_directories(scratch, ec);
        // Seatbelt matches real paths: the session's directories are named by theirs (the
        // state directory may be reached through a symlinked home or /var).
        const auto real = [](const std::string& p) {
            std::error_code e;
            const auto r = fs::canonical(p, e);
            return e ? std::string("/nonexistent") : r.string();
        };
        macos::LaunchFacts facts;
        // xcode-select's choice, unless it is the Command Line Tools the profile has already.
        if (const std::string dev = real("/private/var/db/xcode_select_link");
            dev != "/nonexistent" && dev.rfind("/Library/Developer/CommandLineTools", 0) != 0)
            facts.developer_dir = dev;
        // The denials macOS reports for this run's rules, by their tag (denials.hpp), from a
        // `log stream` that is listening before the command starts.
        facts.log_tag = macos::new_log_tag();
        std::optional<macos::DenialWatch> watch;
        if (sink) {
            watch.emplace(macos::log_stream_argv(macos::kLogProgram, facts.log_tag),
                          facts.log_tag);
            if (!watch->wait_started(std::chrono::seconds(2)))
                sink(Event{"warning", {{"message", "Seatbelt denials may not all be logged: `log "
                                                   "stream` was not listening within 2 s"}}});
        }
        // The supervisor, the pty, the proxy and the exit codes: seatbelt_run.cpp, which the
        // Linux tests run with a stand-in for sandbox-exec.
        macos::run_seatbelt(macos::kSandboxExec, plan, copy.empty() ? "/nonexistent" : real(copy),
                            scratch.empty() ? "/nonexistent" : real(scratch), facts, io, sink,
                            out);
        // The log is written asynchronously: the last denials may arrive a little later.
        if (watch)
            for (const Event& ev : watch->stop(std::chrono::milliseconds(150))) sink(ev);
    }
};

}  // namespace

std::unique_ptr<Backend> make_seatbelt() { return std::make_unique<Seatbelt>(); }

}  // namespace agentbox::sandbox
