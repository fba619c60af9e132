// Writes agentbox's default seccomp filter as raw BPF (struct sock_filter[]), for
// bench/startup.py to hand to `bwrap --seccomp FD`: both sandboxes then load the same filter.
// Usage: seccomp_export FILE
#include <cstdio>
#include <exception>

#include "policy/plan.hpp"
#include "seccomp/rules.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    try {
        const agentbox::policy::SeccompPlan plan;  // the default set, as in `-p default`
        const auto bpf = agentbox::seccomp::compile(agentbox::seccomp::rules_for(plan), false);
        std::FILE* f = std::fopen(argv[1], "wb");
        if (!f || std::fwrite(bpf.data(), 1, bpf.size(), f) != bpf.size() || std::fclose(f)) {
            std::perror(argv[1]);
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "seccomp_export: %s\n", e.what());
        return 1;
    }
    return 0;
}
