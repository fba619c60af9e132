// A Windows program that links the whole AppContainer backend: run on Windows as
// `appcontainer_check` it prints the AppContainer plan of a fixed Plan; `appcontainer_check
// run` also runs `cmd /c exit 7` in it (expect exit 7).
#include <cstdio>
#include <cstring>

#include "sandbox/windows/appcontainer.hpp"
#include "sandbox/windows/appcontainer_exec.hpp"

int main(int argc, char** argv) {
    using namespace agentbox;
    policy::Plan plan;
    plan.argv = {"cmd", "/c", "exit 7"};
    plan.project = "C:/agentbox-check/project";
    plan.cwd = plan.project;
    plan.staging = policy::Staging::none;
    plan.net.mode = profile::NetMode::none;
    const auto ac = sandbox::windows::appcontainer_plan(plan);
    std::fputs(sandbox::windows::render_text(ac).c_str(), stdout);
    if (argc > 1 && std::strcmp(argv[1], "run") == 0) {
        const auto r = sandbox::windows::run_appcontainer(plan, ac, "", "");
        if (!r.error.empty()) std::fprintf(stderr, "%s\n", r.error.c_str());
        return r.exit_code;
    }
    return 0;
}
