// The bubblewrap backend's launch, supervisor side: bwrap builds the sandbox from the argv of
// argv.hpp, agentbox's own init runs inside it (init.cpp), and the native supervisor watches it.
#pragma once

#include <string>

#include "policy/plan.hpp"
#include "sandbox/backend.hpp"

namespace agentbox::sandbox::bwrap {

// Never throws: every failure becomes Outcome{exit_code=125, error=...}.
Outcome launch(const policy::Plan& plan, const StageDirs& stage, const Io& io,
               const EventSink& sink);

// Entry point of agentbox as the sandbox's init, exec'd by bwrap: argv = [self, kInitArg,
// SYNC_FD, REPORT_FD, SPEC_FD, GO_FD]. Never returns when the descriptors are valid.
int init_main(int argc, char** argv);

// "bubblewrap 0.8.0" -> {0, 8, 0}; all -1 when bwrap is missing or does not answer.
struct Version {
    int major = -1, minor = -1, patch = -1;
    std::string text;  // what it printed, first line
    bool found() const { return major >= 0; }
};
Version probe_version(const std::string& bwrap = "/usr/bin/bwrap");

// Whether this bubblewrap can mount an overlay (--overlay-src, --overlay; 0.11.0 and later):
// asked of the feature, as `bwrap --help` lists it, never inferred from a version number
// (distributions backport, and a build may leave an option out). False when bwrap is missing.
// The parse is sandbox::lists_overlay (choose.hpp), which doctor shares.
bool probe_overlay(const std::string& bwrap = "/usr/bin/bwrap");

}  // namespace agentbox::sandbox::bwrap
