// Entry point: parse, dispatch, and turn every escaping error into one message on stderr and
// an exit code (DESIGN.md §2). Under `run`, anything that fails before the command runs exits
// 125, so that a harness can tell "agentbox refused" from the command's own status; other
// commands exit 2 for usage and profile errors and 1 for other failures.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>

#include "cli/app.hpp"
#include "cli/errors.hpp"
#include "cli/term.hpp"
#include "profile/load.hpp"
#include "sandbox/host.hpp"
#include "sys/error.hpp"
#include "sys/prefault.hpp"
#include "sys/stdfds.hpp"
#include "util/phases.hpp"

using namespace agentbox;

int main(int argc, char** argv) {
    util::phases::mark("main");
    // agentbox as a backend's helper (bubblewrap's init, --backend bwrap): no command line.
    if (const int helper = sandbox::helper_main(argc, argv); helper >= 0) return helper;
    try {
        sys::ensure_std_fds();
    } catch (const std::exception&) {
        return cli::exit_setup;  // no usable stderr to say so on
    }
    const bool is_run = cli::names_run(argc, argv);
    // A run's supervisor touches ~400 KiB of heap before it ends, ~250 KiB of it before the
    // sandbox's clone, and much of its code: mapped at once, not a page fault at a time
    // (sys/prefault.hpp). Other commands are short, and touch less of either.
    if (is_run) {
        sys::reserve_heap(384 << 10);
        sys::map_code();
    }
    const int usage_code = is_run ? cli::exit_setup : cli::exit_usage;
    const int failure_code = is_run ? cli::exit_setup : cli::exit_refused;
    const char* usage_hint = is_run ? "see 'agentbox run --help'" : "see 'agentbox help'";

    std::unique_ptr<cli::Cli> app;
    int code = 0;
    try {
        app = std::make_unique<cli::Cli>();
        app->parse(argc, argv);
        util::phases::mark("parsed");
        code = app->dispatch();
    } catch (const CLI::ParseError& e) {
        // --help and --version arrive as "errors" with exit code 0; CLI11 prints them, and
        // they end as a command does, below.
        if (e.get_exit_code() != 0) {
            cli::error(std::string(e.what()) + " (" + usage_hint + ")");
            return usage_code;
        }
        code = app->app().exit(e);
    } catch (const cli::UsageError& e) {
        cli::error(std::string(e.what()) + " (" + usage_hint + ")");
        return usage_code;
    } catch (const profile::ProfileError& e) {
        cli::error(e.what());  // "FILE:LINE:COL: message"
        return usage_code;
    } catch (const cli::Failure& e) {
        if (*e.what() != '\0') cli::error(e.what());
        return e.code();
    } catch (const sys::SysError& e) {
        cli::error(e.what());
        return failure_code;
    } catch (const std::exception& e) {
        cli::error(e.what());
        return failure_code;
    }
    // What a command was asked to print is its result: failing to write it is a failure.
    std::cout.flush();
    if (!std::cout || std::fflush(stdout) != 0) {
        cli::error("write to standard output failed");
        return failure_code;
    }
    // Every command ends here without the static destructors and atexit handlers (OpenSSL's
    // cleanup, CLI11's command tree and its validators, the locale's tables): ~0.25 ms of a
    // run and ~0.7 ms of `diff`, freeing memory the kernel takes back anyway. Nothing is lost:
    // the command has returned, so every object that writes (a session's record, the log,
    // the run lock, staging, a journal, secrets' files, a pager) is destroyed already, a run's
    // log finished (RunRecord::finish) and its threads joined; no command keeps a stream of
    // its own open past its return, stdout is flushed and checked just above and stderr is
    // unbuffered (flushed anyway). Errors above return through exit(): they are not hot. Not
    // under AddressSanitizer, whose leak check runs at exit.
#if !defined(__SANITIZE_ADDRESS__)
    std::cerr.flush();
    std::fflush(stderr);
    std::_Exit(code);
#endif
    return code;
}
