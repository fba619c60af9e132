// The macOS executor: the copy strategy (APFS clonefile, else a plain recursive copy), the
// scratch directories, and `/usr/bin/sandbox-exec -p PROFILE` under a supervisor that keeps
// the wall-clock limit. Everything it runs is decided by the pure functions of seatbelt.cpp,
// which the Linux tests cover. Written against POSIX (clonefile aside) and compiled on every
// system: the dry run's check() is this backend's, and ctest cross.macos links it on Linux.
// It launches only on macOS (sandbox/choose.hpp, cannot_run_here).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#ifdef __APPLE__
#include <sys/clonefile.h>
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "sandbox/backend.hpp"
#include "sandbox/macos/seatbelt.hpp"
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
#ifdef __APPLE__
    if (::clonefile(from.c_str(), to.c_str(), CLONE_NOFOLLOW) == 0) return "";
    const int err = errno;
    if (err != ENOTSUP && err != EXDEV) return errno_text("clonefile", to, err);
#endif
    std::error_code ec;
    fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    return ec ? "copy " + from + " to " + to + ": " + ec.message() : "";
}

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
        // The session's upper/ holds the copy, its work/ the scratch directories.
        const std::string copy = stage.upper.empty() ? std::string() : stage.upper + "/project";
        const std::string scratch = stage.work.empty() ? std::string() : stage.work + "/scratch";
        if (plan.staging != policy::Staging::none) {
            if (copy.empty()) {
                out.error = "the copy strategy needs a session directory";
                return out;
            }
            if (std::string e = copy_project(plan.project, copy); !e.empty()) {
                out.error = e;
                return out;
            }
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
        if (io.tty || ::isatty(io.in) == 1)
            if (const char* name = ::ttyname(io.in)) facts.tty = name;
        // xcode-select's choice, unless it is the Command Line Tools the profile has already.
        if (const std::string dev = real("/private/var/db/xcode_select_link");
            dev != "/nonexistent" && dev.rfind("/Library/Developer/CommandLineTools", 0) != 0)
            facts.developer_dir = dev;
        macos::Launch l;
        try {
            l = macos::seatbelt_launch(plan, copy.empty() ? "/nonexistent" : real(copy),
                                       scratch.empty() ? "/nonexistent" : real(scratch), facts);
        } catch (const std::invalid_argument& e) {
            out.error = e.what();
            return out;
        }
        for (const auto& rel : l.copy_excludes) fs::remove_all(copy + "/" + rel, ec);
        for (const auto& dir : l.scratch_dirs) {
            fs::create_directories(dir, ec);
            if (ec) {
                out.error = "create " + dir + ": " + ec.message();
                return out;
            }
            ::chmod(dir.c_str(), 0700);
        }
        for (const auto& [at, to] : l.links) {
            fs::create_directories(fs::path(at).parent_path(), ec);
            fs::create_symlink(to, at, ec);
            if (ec) {
                out.error = "symlink " + at + ": " + ec.message();
                return out;
            }
        }

        std::vector<char*> argv, envp;
        for (auto& a : l.argv) argv.push_back(a.data());
        argv.push_back(nullptr);
        for (auto& e : l.env) envp.push_back(e.data());
        envp.push_back(nullptr);

        const pid_t pid = ::fork();
        if (pid < 0) {
            out.error = errno_text("fork", "", errno);
            return out;
        }
        if (pid == 0) {
            // The child: its own process group (the supervisor kills the group), the rlimits
            // that mean the same on macOS, then sandbox-exec.
            ::setpgid(0, 0);
            ::dup2(io.in, 0);
            ::dup2(io.out, 1);
            ::dup2(io.err, 2);
            for (const auto& lim : plan.limits) {
                if (lim.value == 0 || lim.how != policy::Mechanism::rlimit) continue;
                int res = lim.name == "file_size" ? RLIMIT_FSIZE
                          : lim.name == "open_files" ? RLIMIT_NOFILE : -1;
                if (res < 0) continue;
                struct rlimit rl{static_cast<rlim_t>(lim.value), static_cast<rlim_t>(lim.value)};
                if (::setrlimit(res, &rl) != 0) ::_exit(util::kExitSetup);
            }
            if (::chdir(l.cwd.c_str()) != 0) ::_exit(util::kExitSetup);
            ::execve(argv[0], argv.data(), envp.data());
            ::_exit(errno == ENOENT ? util::kExitNotFound : util::kExitNotExecutable);
        }
        out.started = true;
        sink(Event{"exec", {{"argv0", plan.argv.empty() ? "" : plan.argv[0]},
                            {"backend", "seatbelt"}}});

        const policy::Limit* timeout = plan.limit("timeout");
        int status = 0;
        for (;;) {
            const pid_t r = ::wait4(pid, &status, WNOHANG, &out.usage);
            if (r == pid) break;
            if (r < 0 && errno != EINTR) {
                out.error = errno_text("wait4", "", errno);
                break;
            }
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start).count();
            if (timeout && timeout->value && static_cast<std::uint64_t>(ms) >= timeout->value &&
                !out.timed_out) {
                out.timed_out = true;
                ::kill(-pid, SIGKILL);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // What the command left running in its group ends with it, as the pid namespace
        // does on Linux.
        ::kill(-pid, SIGKILL);
        out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                               .count();
        out.peak_memory = static_cast<std::uint64_t>(out.usage.ru_maxrss);  // bytes on macOS
        if (out.timed_out) {
            out.exit_code = util::kExitTimeout;
        } else if (WIFSIGNALED(status)) {
            out.signal = WTERMSIG(status);
            out.exit_code = 128 + out.signal;
        } else {
            out.exit_code = WEXITSTATUS(status);
        }
        return out;
    }
};

}  // namespace

std::unique_ptr<Backend> make_seatbelt() { return std::make_unique<Seatbelt>(); }

}  // namespace agentbox::sandbox
