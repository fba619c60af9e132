#include "sandbox/linux/cgroup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "sys/error.hpp"
#include "util/strings.hpp"

namespace agentbox::sandbox::lnx {

using policy::Mechanism;

std::string own_cgroup(const std::string& text, const std::string& controller) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        // hierarchy-id:controller-list:path; the path may itself contain ':'.
        auto a = line.find(':');
        if (a == std::string::npos) continue;
        auto b = line.find(':', a + 1);
        if (b == std::string::npos) continue;
        std::string list = line.substr(a + 1, b - a - 1);
        bool match = controller.empty() ? (line.compare(0, a, "0") == 0 && list.empty())
                                        : false;
        if (!controller.empty())
            for (const auto& c : util::split(list, ','))
                if (c == controller) match = true;
        if (match) return line.substr(b + 1);
    }
    return {};
}

namespace {

void write_file(const std::string& path, const std::string& value) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw sys::SysError("open", path, errno);
    ssize_t n = ::write(fd, value.data(), value.size());
    int err = errno;
    ::close(fd);
    if (n < 0) throw sys::SysError("write", path, err);
}

// Optional knobs (swap accounting may be compiled out): a missing file is not an error.
void write_if_present(const std::string& path, const std::string& value) {
    if (::access(path.c_str(), F_OK) == 0) write_file(path, value);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Unique per process and per run: several runs may share one supervisor process (tests).
std::string unique_name() {
    static std::atomic<unsigned> counter{0};
    struct timespec ts {};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return "agentbox-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(ts.tv_nsec);
}

bool controller_listed(const std::string& list, const std::string& name) {
    for (const auto& c : util::split(util::trim(list), ' '))
        if (c == name) return true;
    return false;
}

}  // namespace

void enable_controllers(const std::string& parent, const std::vector<std::string>& names) {
    const std::string control = parent + "/cgroup.subtree_control";
    std::string want;
    for (const std::string& n : names)
        if (!controller_listed(read_text(control), n)) want += (want.empty() ? "+" : " +") + n;
    if (want.empty()) return;
    const int fd = ::open(control.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw sys::SysError("open", control, errno);
    ssize_t n = ::write(fd, want.data(), want.size());
    int err = errno;
    if (n < 0 && err == EBUSY) {
        // cgroup v2 keeps processes out of a cgroup that hands controllers to its children
        // ("no internal processes"), and a delegated scope holds agentbox itself (and the
        // shell it was started from). They move into a leaf of their own, left in place: the
        // scope ends with them.
        const std::string leaf = parent + "/agentbox-leaf";
        if (::mkdir(leaf.c_str(), 0755) < 0 && errno != EEXIST) {
            err = errno;
            ::close(fd);
            throw sys::SysError("mkdir", leaf, err);
        }
        std::istringstream procs(read_text(parent + "/cgroup.procs"));
        std::string pid;
        while (std::getline(procs, pid)) {
            try {
                write_file(leaf + "/cgroup.procs", pid);
            } catch (const sys::SysError&) {  // one that exited meanwhile (ESRCH)
            }
        }
        n = ::write(fd, want.data(), want.size());
        err = errno;
    }
    ::close(fd);
    if (n < 0) throw sys::SysError("write(" + want + ")", control, err);
}

Cgroups::Cgroups(Cgroups&& o) noexcept
    : dirs_(std::move(o.dirs_)), v1_procs_(std::move(o.v1_procs_)),
      peak_file_(std::move(o.peak_file_)), v2_fd_(std::move(o.v2_fd_)) {
    o.dirs_.clear();
}

Cgroups::~Cgroups() {
    v2_fd_.reset();
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
        // The last tasks leave the cgroup asynchronously after init is reaped: retry briefly.
        for (int i = 0; i < 200; ++i) {
            if (::rmdir(it->c_str()) == 0 || errno != EBUSY) break;
            struct timespec ts {0, 1000000};
            ::nanosleep(&ts, nullptr);
        }
    }
}

Cgroups Cgroups::create(const policy::Plan& plan) {
    Cgroups cg;
    const std::string name = unique_name();
    std::string self;  // /proc/self/cgroup, read once when needed
    bool v2_made = false;
    std::string v2_dir;
    for (const policy::Limit& l : plan.limits) {
        if (l.value == 0) continue;
        if (l.how != Mechanism::cgroup1 && l.how != Mechanism::cgroup2) continue;
        if (l.name != "memory" && l.name != "pids")
            throw sys::SysError("cgroup limit " + l.name, EINVAL);
        const std::string value = std::to_string(l.value);
        if (l.how == Mechanism::cgroup2) {
            if (!v2_made) {
                if (plan.cgroup_parent.empty())
                    throw sys::SysError("cgroup v2 (no delegated directory in the plan)",
                                        ENOENT);
                // The controllers this run's limits need, handed down to our child.
                std::vector<std::string> needed;
                for (const policy::Limit& m : plan.limits)
                    if (m.value != 0 && m.how == Mechanism::cgroup2) needed.push_back(m.name);
                enable_controllers(plan.cgroup_parent, needed);
                v2_dir = plan.cgroup_parent + "/" + name;
                if (::mkdir(v2_dir.c_str(), 0755) < 0)
                    throw sys::SysError("mkdir", v2_dir, errno);
                cg.dirs_.push_back(v2_dir);
                v2_made = true;
            }
            if (l.name == "memory") {
                write_file(v2_dir + "/memory.max", value);
                write_if_present(v2_dir + "/memory.swap.max", "0");
                cg.peak_file_ = v2_dir + "/memory.peak";
            } else {
                write_file(v2_dir + "/pids.max", value);
            }
            continue;
        }
        // cgroup v1: one hierarchy per controller; nest under our own cgroup there so that
        // whatever limits the supervisor itself still apply.
        if (self.empty()) self = read_text("/proc/self/cgroup");
        std::string mine = own_cgroup(self, l.name);
        std::string dir = plan.cgroup1_root + "/" + l.name + (mine == "/" ? "" : mine) + "/" +
                          name;
        if (::mkdir(dir.c_str(), 0755) < 0) throw sys::SysError("mkdir", dir, errno);
        cg.dirs_.push_back(dir);
        if (l.name == "memory") {
            write_file(dir + "/memory.limit_in_bytes", value);
            write_if_present(dir + "/memory.memsw.limit_in_bytes", value);
            cg.peak_file_ = dir + "/memory.max_usage_in_bytes";
        } else {
            write_file(dir + "/pids.max", value);
        }
        cg.v1_procs_.push_back(dir + "/cgroup.procs");
    }
    if (v2_made) {
        cg.v2_fd_.reset(::open(v2_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!cg.v2_fd_) throw sys::SysError("open", v2_dir, errno);
    }
    return cg;
}

void Cgroups::add(pid_t pid) const {
    for (const auto& procs : v1_procs_) write_file(procs, std::to_string(pid));
}

std::uint64_t Cgroups::peak_memory() const {
    if (peak_file_.empty()) return 0;
    std::string s = read_text(peak_file_);
    try {
        return std::stoull(s);
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace agentbox::sandbox::lnx
