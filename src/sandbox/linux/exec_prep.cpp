// Supervisor-side preparation of the command's execve arguments (before clone).
#include "sandbox/linux/child.hpp"
#include "util/strings.hpp"

namespace agentbox::sandbox::lnx {

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
