// Plan -> AppContainer plan (Windows), tested on Linux: capabilities, ACL entries with their
// access masks, job object limits, what cannot be enforced. Goldens in tests/data/appcontainer/
// (AGENTBOX_UPDATE_GOLDENS=1).
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "../policy/builtin_plans.hpp"
#include "../policy/golden.hpp"
#include "sandbox/windows/appcontainer.hpp"

using namespace agentbox;
using namespace agentbox::sandbox::windows;
using policy::MountKind;
using policy::test::mount;

namespace {

policy::Plan small_plan() {
    policy::Plan p;
    p.argv = {"python", "-c", "print('hi there')"};
    p.project = "/c/Users/u/proj";
    p.cwd = "/c/Users/u/proj/src";
    p.mounts = {mount(MountKind::tmpfs, "tmpfs", "/tmp", "filesystem.tmpfs \"/tmp\""),
                mount(MountKind::bind_ro, "/c/Python312", "/c/Python312", "filesystem.read"),
                mount(MountKind::bind_rw, "/c/cache", "/c/cache", "filesystem.write"),
                mount(MountKind::overlay, "/c/Users/u/proj", "/c/Users/u/proj",
                      "filesystem.write \"@project\""),
                mount(MountKind::mask_file, "", "/c/Users/u/proj/.env", "filesystem.deny"),
                mount(MountKind::mask_dir, "", "/c/Python312/secrets", "filesystem.deny")};
    p.env = {{"PATH", "/c/Python312", "env.pass \"PATH\""}};
    return p;
}

const AclEntry* entry(const AppContainerPlan& ac, Base base, const std::string& path) {
    for (const auto& a : ac.acl)
        if (a.path == PathRef{base, path}) return &a;
    return nullptr;
}

}  // namespace

TEST_CASE("every built-in profile translates to its golden AppContainer plan") {
    for (const auto& name : profile::builtin_names()) {
        CAPTURE(name);
        const std::string text = render_text(appcontainer_plan(policy::test::builtin_plan(name)));
        CHECK(text.find("ghp_secret") == std::string::npos);
        policy::test::check_golden("builtin-" + name + ".txt", text, "appcontainer");
    }
}

TEST_CASE("read paths get read and execute, write paths write and delete, masks deny all") {
    const AppContainerPlan ac = appcontainer_plan(small_plan());
    const AclEntry* py = entry(ac, Base::host, "/c/Python312");
    REQUIRE(py);
    CHECK(py->mask == (kFileGenericRead | kFileGenericExecute));
    CHECK_FALSE(py->deny);
    const AclEntry* cache = entry(ac, Base::host, "/c/cache");
    REQUIRE(cache);
    CHECK(cache->mask == (kFileGenericRead | kFileGenericWrite | kDelete | kFileDeleteChild |
                          kFileGenericExecute));
    const AclEntry* secrets = entry(ac, Base::host, "/c/Python312/secrets");
    REQUIRE(secrets);
    CHECK(secrets->deny);
    CHECK(secrets->inherit);
    CHECK(secrets->mask == kFileAllAccess);
    const AclEntry* env = entry(ac, Base::host, "/c/Users/u/proj/.env");
    REQUIRE(env);
    CHECK(env->deny);
    CHECK_FALSE(env->inherit);
    // denies after every grant
    const auto first_deny = std::find_if(ac.acl.begin(), ac.acl.end(),
                                         [](const AclEntry& a) { return a.deny; });
    CHECK(std::all_of(first_deny, ac.acl.end(), [](const AclEntry& a) { return a.deny; }));
}

TEST_CASE("the project is written only through the copy; the masked file stays out of it") {
    const AppContainerPlan ac = appcontainer_plan(small_plan());
    const AclEntry* proj = entry(ac, Base::host, "/c/Users/u/proj");
    REQUIRE(proj);
    CHECK((proj->mask & 0x116u) == 0);  // FILE_WRITE_DATA, APPEND_DATA, WRITE_EA, WRITE_ATTRIBUTES
    CHECK((proj->mask & kDelete) == 0);
    const AclEntry* copy = entry(ac, Base::copy, "");
    REQUIRE(copy);
    CHECK((copy->mask & kFileGenericWrite) == kFileGenericWrite);
    CHECK(ac.copy_excludes == std::vector<std::string>{".env"});
    CHECK(ac.cwd == PathRef{Base::copy, "/src"});
    const AclEntry* tmp = entry(ac, Base::scratch, "/tmp");
    REQUIRE(tmp);
    CHECK((tmp->mask & kFileGenericWrite) == kFileGenericWrite);
    CHECK_FALSE(entry(ac, Base::host, "/tmp"));
}

TEST_CASE("filesystem.exec withholds FILE_EXECUTE elsewhere, and says system dirs stay executable") {
    policy::Plan p = small_plan();
    p.exec_allow = {"/c/Python312/python.exe"};
    const AppContainerPlan ac = appcontainer_plan(p);
    CHECK((entry(ac, Base::host, "/c/Python312")->mask & kFileGenericExecute) !=
          kFileGenericExecute);
    CHECK((entry(ac, Base::copy, "")->mask & 0x20u) == 0);  // FILE_EXECUTE
    REQUIRE(ac.weakenings.size() == 1);
    CHECK(ac.weakenings[0].rule == "filesystem.exec");
}

TEST_CASE("network: none has no capability, host the client capabilities, proxy is refused") {
    policy::Plan p = small_plan();
    CHECK(appcontainer_plan(p).capabilities.empty());
    p.net.mode = profile::NetMode::host;
    auto ac = appcontainer_plan(p);
    REQUIRE(ac.capabilities.size() == 3);
    CHECK(ac.capabilities[0].sid == "S-1-15-3-1");
    CHECK(ac.weakenings.empty());
    p.net.mode = profile::NetMode::proxy;
    ac = appcontainer_plan(p);
    CHECK(ac.capabilities.empty());  // never internetClient for the proxy mode
    REQUIRE(ac.weakenings.size() == 1);
    CHECK(ac.weakenings[0].rule == "network.mode \"proxy\"");
}

TEST_CASE("limits map to the job object; those without an equivalent are weakenings") {
    policy::Plan p = small_plan();
    const profile::Source s{"test.toml", 7, 1};
    p.limits = {{"memory", 512ull << 20, policy::Mechanism::cgroup1, s},
                {"pids", 64, policy::Mechanism::cgroup1, s},
                {"timeout", 90000, policy::Mechanism::supervisor, s},
                {"open_files", 256, policy::Mechanism::rlimit, s},
                {"file_size", 0, policy::Mechanism::none, s}};
    const AppContainerPlan ac = appcontainer_plan(p);
    CHECK(ac.job.flags == (kJobLimitKillOnJobClose | kJobLimitDieOnUnhandledException |
                           kJobLimitJobMemory | kJobLimitActiveProcess));
    CHECK(ac.job.job_memory == 512ull << 20);
    CHECK(ac.job.active_processes == 64);
    CHECK(ac.job.timeout_ms == 90000);
    CHECK(ac.job.ui_restrictions == kJobUiLimitAll);
    REQUIRE(ac.weakenings.size() == 1);
    CHECK(ac.weakenings[0].rule == "limits.open_files");
    CHECK(ac.weakenings[0].src == s);
}

TEST_CASE("command lines split back into the same words (CommandLineToArgvW rules)") {
    CHECK(command_line({"a", "b c", ""}) == "a \"b c\" \"\"");
    CHECK(command_line({"say \"hi\""}) == "\"say \\\"hi\\\"\"");
    CHECK(command_line({"C:\\dir\\"}) == "C:\\dir\\");
    CHECK(command_line({"C:\\my dir\\"}) == "\"C:\\my dir\\\\\"");
    CHECK(command_line({"a\\\"b"}) == "\"a\\\\\\\"b\"");
    // an argument cannot smuggle a second one out of its quotes
    CHECK(command_line({"x\" & calc & \""}) == "\"x\\\" & calc & \\\"\"");
}

TEST_CASE("the container name is stable and within the 64-character limit") {
    const std::string a = container_name("/work/proj");
    CHECK(a == container_name("/work/proj"));
    CHECK(a != container_name("/work/proj2"));
    CHECK(a.size() == 25);
    CHECK(a.starts_with("agentbox."));
}

TEST_CASE("access masks have names") {
    CHECK(access_names(kFileGenericRead | kFileGenericExecute) == "read,execute");
    CHECK(access_names(kFileAllAccess) == "all");
    CHECK(access_names(kFileGenericRead | kFileGenericWrite | kDelete) == "read,write,delete");
}
