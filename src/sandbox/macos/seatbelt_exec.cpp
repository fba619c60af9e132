// The macOS backend: the copy strategy (APFS clonefile, else a plain recursive copy), then
// `/usr/bin/sandbox-exec -p PROFILE` under the supervisor of seatbelt_run.cpp. Compiled on
// macOS only; what it runs is decided by the pure functions of seatbelt.cpp and supervised by
// seatbelt_run.cpp, both of which the Linux tests run.
#ifdef __APPLE__

#include <sys/clonefile.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "sandbox/backend.hpp"
#include "sandbox/macos/seatbelt.hpp"
#include "sandbox/macos/seatbelt_run.hpp"
#include "util/exit_codes.hpp"

namespace agentbox::sandbox {
namespace {

namespace fs = std::filesystem;

std::string errno_text(const std::string& op, const std::string& path, int err) {
    return op + " " + path + ": " + std::strerror(err);
}

// clonefile() copies a whole tree copy-on-write in one call on APFS; elsewhere (HFS+, a
// network volume) it fails with ENOTSUP or EXDEV and the copy is made file by file.
std::string copy_project(const std::string& from, const std::string& to) {
    if (::clonefile(from.c_str(), to.c_str(), CLONE_NOFOLLOW) == 0) return "";
    const int err = errno;
    if (err != ENOTSUP && err != EXDEV) return errno_text("clonefile", to, err);
    std::error_code ec;
    fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    return ec ? "copy " + from + " to " + to + ": " + ec.message() : "";
}

class Seatbelt final : public Backend {
public:
    const char* name() const override { return "seatbelt"; }

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
        // The session's upper/ holds the copy, its work/ the scratch directories.
        const std::string copy = stage.upper.empty() ? std::string() : stage.upper + "/project";
        const std::string scratch = stage.work.empty() ? std::string() : stage.work + "/scratch";
        if (plan.staging != policy::Staging::none) {
            if (copy.empty()) throw std::runtime_error("the copy strategy needs a session directory");
            if (std::string e = copy_project(plan.project, copy); !e.empty())
                throw std::runtime_error(e);
        }
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
        // The supervisor, the pty, the proxy and the exit codes: seatbelt_run.cpp, which the
        // Linux tests run with a stand-in for sandbox-exec.
        macos::run_seatbelt(macos::kSandboxExec, plan, copy.empty() ? "/nonexistent" : real(copy),
                            scratch.empty() ? "/nonexistent" : real(scratch), facts, io, sink,
                            out);
    }
};

}  // namespace

std::unique_ptr<Backend> make_seatbelt() { return std::make_unique<Seatbelt>(); }

}  // namespace agentbox::sandbox

#endif  // __APPLE__
