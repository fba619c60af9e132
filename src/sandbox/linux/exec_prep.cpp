// Supervisor-side preparation of what the command needs: its execve arguments (before clone)
// and its seccomp filter (before its go).
#include <linux/filter.h>
#include <sys/mman.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "sandbox/linux/child.hpp"
#include "sys/error.hpp"
#include "util/phases.hpp"
#include "util/strings.hpp"

namespace agentbox::sandbox::lnx {

namespace {

constexpr std::size_t kProgramBytes =
    sizeof(std::uint64_t) + BPF_MAXINSNS * sizeof(sock_filter);
// After the program: one CLOCK_MONOTONIC reading (ns) per ChildPoint.
constexpr std::size_t kFilterBytes =
    kProgramBytes + static_cast<std::size_t>(ChildPoint::count) * sizeof(long long);

}  // namespace

SharedFilter::SharedFilter() {
    void* p =
        ::mmap(nullptr, kFilterBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw sys::SysError("mmap", "seccomp filter", errno);
    base_ = static_cast<std::uint8_t*>(p);
}

SharedFilter::~SharedFilter() {
    ::munmap(base_, kFilterBytes);
}

void SharedFilter::put(const std::vector<std::uint8_t>& bpf) {
    if (bpf.size() > kProgramBytes - sizeof(std::uint64_t))
        throw sys::SysError("seccomp", "filter larger than BPF_MAXINSNS", E2BIG);
    const std::uint64_t n = bpf.size();
    std::memcpy(base_ + sizeof n, bpf.data(), bpf.size());
    std::memcpy(base_, &n, sizeof n);
}

std::size_t SharedFilter::size() const {
    std::uint64_t n = 0;
    std::memcpy(&n, base_, sizeof n);
    return static_cast<std::size_t>(n);
}

void SharedFilter::stamp(ChildPoint p) const noexcept {
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long ns = ts.tv_sec * 1000000000LL + ts.tv_nsec;
    std::memcpy(base_ + kProgramBytes + static_cast<std::size_t>(p) * sizeof ns, &ns, sizeof ns);
}

void SharedFilter::mark_points() const noexcept {
    static constexpr const char* kNames[] = {"sandbox:maps", "sandbox:base", "sandbox:mounts",
                                             "sandbox:pivot", "sandbox:built", "sandbox:command",
                                             "sandbox:waiting", "sandbox:went",
                                             "sandbox:exec", "sandbox:resumed",
                                             "sandbox:reaped"};
    static_assert(sizeof kNames / sizeof kNames[0] == static_cast<std::size_t>(ChildPoint::count));
    for (std::size_t i = 0; i < static_cast<std::size_t>(ChildPoint::count); ++i) {
        long long ns = 0;
        std::memcpy(&ns, base_ + kProgramBytes + i * sizeof ns, sizeof ns);
        util::phases::mark_at(kNames[i], ns);
    }
}

std::vector<std::string> exec_candidates(const std::string& argv0, const std::string& path) {
    if (argv0.find('/') != std::string::npos) return {argv0};
    if (argv0.empty()) return {};
    std::vector<std::string> out;
    for (const std::string& dir : util::split(path, ':')) {
        // An empty PATH entry means the current directory, as in execvp.
        out.push_back(dir.empty() ? argv0 : (dir.back() == '/' ? dir : dir + "/") + argv0);
    }
    return out;
}

void prepare_exec(ChildSetup& cs) {
    const policy::Plan& plan = *cs.plan;
    cs.argv.clear();
    for (const std::string& a : plan.argv) cs.argv.push_back(const_cast<char*>(a.c_str()));
    cs.argv.push_back(nullptr);

    // Without PATH in the sandbox's environment, the same default as execvp's _CS_PATH-like
    // fallback; the host's PATH is never used, it may name directories the sandbox lacks.
    std::string path = "/usr/local/bin:/usr/bin:/bin";
    cs.env_storage.clear();
    for (const policy::EnvVar& v : plan.env) {
        cs.env_storage.push_back(v.name + "=" + v.value);
        if (v.name == "PATH") path = v.value;
    }
    cs.envp.clear();
    for (std::string& s : cs.env_storage) cs.envp.push_back(s.data());
    cs.envp.push_back(nullptr);

    cs.candidates = exec_candidates(plan.argv.empty() ? std::string() : plan.argv[0], path);
}

}  // namespace agentbox::sandbox::lnx
