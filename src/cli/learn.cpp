#include "cli/learn.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/context.hpp"
#include "cli/errors.hpp"
#include "cli/term.hpp"
#include "profile/learned.hpp"
#include "profile/load.hpp"
#include "util/strings.hpp"

namespace agentbox::cli {

namespace {

const profile::Source kLearn{"<learn>", 0, 0};

// Top-level directories the sandbox makes itself, or that hold nothing a command reads as a
// file (sockets and runtime state under /run are never learned: a read grant of /run would
// reach other programs' sockets).
constexpr const char* kNeverViewed[] = {"proc", "sys", "dev", "run", "tmp", "lost+found"};

std::string under_home(const std::string& path, const std::string& home) {
    if (!home.empty() && home != "/" && util::path_within(path, home))
        return path.size() == home.size() ? "~" : "~" + path.substr(home.size());
    return path;
}

bool exists_on_host(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

// The deepest mount of `plan` that shows something at `path` (structure aside).
const policy::Mount* covering(const policy::Plan& plan, const std::string& path) {
    const policy::Mount* best = nullptr;
    for (const auto& m : plan.mounts) {
        if (m.kind == policy::MountKind::dir || m.kind == policy::MountKind::symlink) continue;
        if (util::path_within(path, m.target) && (!best || m.target.size() >= best->target.size()))
            best = &m;
    }
    return best;
}

// Visible only because of the learn layer: what the learned profile must grant.
bool learned_view(const policy::Plan& plan, const std::string& path) {
    const policy::Mount* m = covering(plan, path);
    return m && m->src.file == kLearn.file &&
           (m->kind == policy::MountKind::bind_ro || m->kind == policy::MountKind::bind_rw);
}

}  // namespace

profile::Profile Learner::layer(const profile::Profile& base, const std::string& home) {
    profile::Profile p;
    p.layers.push_back(profile::Layer{"<learn>", "<learn>", ""});
    const auto granted = [&base](const std::string& path) {
        for (const auto* list : {&base.filesystem.read, &base.filesystem.write})
            for (const auto& e : *list)
                if (util::normalize_path(e.value) == path) return true;
        return false;
    };
    std::vector<std::string> roots;
    std::error_code ec;
    for (const auto& d : std::filesystem::directory_iterator("/", ec)) {
        const std::string name = d.path().filename().string();
        if (std::find(std::begin(kNeverViewed), std::end(kNeverViewed), name) !=
            std::end(kNeverViewed))
            continue;
        // A symlink (/bin -> usr/bin) shows what its target shows; a file at / is no tree.
        if (!d.is_directory(ec) || d.is_symlink(ec)) continue;
        if (!granted("/" + name)) roots.push_back("/" + name);
    }
    if (!home.empty() && home != "/" && !granted(home) &&
        std::find(roots.begin(), roots.end(), home) == roots.end())
        roots.push_back(home);
    std::sort(roots.begin(), roots.end());
    for (const auto& r : roots) p.filesystem.read.push_back(profile::Entry{r, r, kLearn});
    base_restricts_exec_ = !base.filesystem.exec.empty();
    if (base_restricts_exec_)
        for (const auto& r : roots) p.filesystem.exec.push_back(profile::Entry{r, r, kLearn});

    // The network: unlisted hosts are asked, and the learner answers yes. Host mode has no
    // proxy to learn from; a base `deny` still refuses before any ask.
    if (!base.network.mode.set || base.network.mode.value != profile::NetMode::host) {
        p.network.mode = {profile::NetMode::proxy, kLearn, true};
        p.network.unlisted = {profile::Unlisted::ask, kLearn, true};
    }
    return p;
}

bool Learner::take(const sandbox::Event& ev) {
    if (ev.type != "learn.file") return false;
    std::string op, path, comm;
    for (const auto& [k, v] : ev.fields) {
        if (k == "op") op = v;
        else if (k == "path") path = v;
        else if (k == "comm") comm = v;
    }
    if (!path.empty()) (op == "exec" ? execs_ : reads_)[path].comms.insert(comm);
    return true;
}

sandbox::AskAnswer Learner::ask(const sandbox::AskRequest& req) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (req.op == "connect") hosts_.insert(req.target);
    }
    sandbox::AskAnswer a;
    a.allow = req.op == "connect";
    a.session = true;
    a.by = "learn";
    a.how = "answered";
    a.reason = a.allow ? "agentbox learn: the host is recorded" : "agentbox learn: not a connect";
    return a;
}

profile::Learned Learner::result(const policy::Plan& plan, const std::string& home) const {
    profile::Learned r;
    std::map<std::string, profile::LearnedGrant> reads;
    const auto add_read = [&](const std::string& path, const std::set<std::string>& comms) {
        if (!learned_view(plan, path) || !exists_on_host(path)) return;
        const auto grant = profile::collapse_path(path, home);
        if (!grant) return;
        profile::LearnedGrant& g = reads[*grant];
        g.path = under_home(*grant, home);
        g.users.insert(comms.begin(), comms.end());
        ++g.files;
    };
    for (const auto& [path, use] : reads_) add_read(path, use.comms);
    // What is executed must be visible too.
    for (const auto& [path, use] : execs_) add_read(path, use.comms);
    for (auto& [_, g] : reads) r.read.push_back(std::move(g));

    for (const auto& [path, use] : execs_) {
        if (!exists_on_host(path)) continue;
        if (base_restricts_exec_) {
            if (!learned_view(plan, path)) continue;
            r.exec.push_back(profile::LearnedGrant{under_home(path, home), use.comms, 1});
        } else {
            r.exec_seen.push_back(profile::LearnedGrant{under_home(path, home), use.comms, 1});
        }
    }
    std::set<std::string> hosts;
    {
        std::lock_guard<std::mutex> lock(mu_);
        hosts = hosts_;
    }
    for (std::string h : hosts) {
        // A bare name means ports 80 and 443 (agentbox-profile(5)); any other port stays.
        for (const char* port : {":443", ":80"})
            if (h.ends_with(port)) h.resize(h.size() - std::strlen(port));
        if (std::find(r.hosts.begin(), r.hosts.end(), h) == r.hosts.end()) r.hosts.push_back(h);
    }
    return r;
}

int run_learn(LearnOptions& o) {
    if (o.run.command.empty())
        throw UsageError("learn: no command given (agentbox learn -o FILE [--] CMD [ARGS...])");
    const std::string cwd = current_dir();
    const std::string out = o.output.front() == '/' ? o.output : cwd + "/" + o.output;
    struct stat st {};
    if (::lstat(out.c_str(), &st) == 0 && !o.force)
        throw UsageError("learn: " + util::quote(o.output) +
                         " exists (--force overwrites it)");
    const std::string dir = out.substr(0, out.rfind('/') == 0 ? 1 : out.rfind('/'));
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw UsageError("-o: " + util::quote(dir) + " is not a directory");

    // The learned run is an ordinary session whose changes wait for review; nothing about it
    // is committed by learning.
    o.run.on_exit = "keep";
    Learner learner;
    o.run.learner = &learner;
    const int rc = run_run(o.run);
    if (!learner.done()) return rc;  // the sandbox never ran: nothing was learned

    auto env = environment();
    const std::string home = home_dir(env);
    const profile::Learned res = learner.result(learner.plan(), home);
    std::vector<std::string> extends;
    for (const auto& p : o.run.profiles.empty() ? std::vector<std::string>{"default"}
                                                : o.run.profiles)
        // A file named relative to here is named absolutely: `extends` resolves a relative
        // path from the learned profile's own directory.
        extends.push_back(p.find('/') != std::string::npos && p.front() != '/' ? cwd + "/" + p : p);
    std::string name = std::filesystem::path(out).stem().string();
    for (auto& c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) c = '-';
    if (name.empty()) name = "learned";
    const std::string text =
        profile::learned_profile_text(res, name, extends, o.run.command, learner.session());

    // Written whole or not at all.
    const std::string tmp = out + ".tmp-" + std::to_string(::getpid());
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << text;
        f.flush();
        if (!f) {
            ::unlink(tmp.c_str());
            throw Failure("learn: write " + tmp + ": " + std::strerror(errno), exit_setup);
        }
    }
    if (::rename(tmp.c_str(), out.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw Failure("learn: rename " + tmp + " to " + out + ": " + std::strerror(err),
                      exit_setup);
    }
    // The profile must load as written: a learned profile that `run -p` would refuse is a bug.
    try {
        profile::Context ctx = make_context(cwd, cwd, home, env);
        (void)profile::load_all({out}, ctx);
    } catch (const std::exception& e) {
        error(std::string("learn: the learned profile does not load: ") + e.what());
        return exit_setup;
    }
    if (!o.run.quiet)
        note("learned " + std::to_string(res.read.size()) + " read, " +
             std::to_string(res.exec.size()) + " exec and " + std::to_string(res.hosts.size()) +
             " host entries into " + o.output + "; the run's changes stay staged in session " +
             learner.session() + "\nnext: agentbox run -p " + o.output + " -- " +
             profile::command_text(o.run.command));
    return rc;
}

}  // namespace agentbox::cli
