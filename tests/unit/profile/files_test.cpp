// Everything that touches files: the search path, the trust rule, extends chains, list().
// Each test builds its own directory tree under a fresh temporary directory.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "profile/load.hpp"
#include "profile/sha256.hpp"
#include "profile/trust.hpp"
#include "../temp_dir.hpp"

using namespace agentbox::profile;
namespace fs = std::filesystem;

namespace {

class TempDir : public agentbox::test::TempDir {
public:
    TempDir() : agentbox::test::TempDir("profile") {}

    // Writes `text` to `rel` under the directory, creating parents; returns the full path.
    std::string write(const std::string& rel, const std::string& text) const {
        const fs::path p = fs::path(path()) / rel;
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
};

// A context whose whole world is under `root`: home, project, config, nothing from the host.
Context context_in(const TempDir& root) {
    Context ctx;
    ctx.home = root.path() + "/home";
    ctx.project = root.path() + "/home/proj";
    ctx.cwd = ctx.project;
    ctx.tmp = root.path() + "/tmp";
    ctx.environ = {{"XDG_CONFIG_HOME", root.path() + "/config"}};
    ctx.search_path = {root.path() + "/config/agentbox/profiles"};
    return ctx;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ProfileError& e) {
        return e.what();
    }
    return {};
}

const std::string kData = AGENTBOX_TEST_DATA "/profiles";

}  // namespace

TEST_CASE("the default search path: trusted project, XDG config, /etc") {
    Context ctx;
    ctx.home = "/home/u";
    ctx.project = "/home/u/proj";
    CHECK(default_search_path(ctx) ==
          std::vector<std::string>{"/home/u/.config/agentbox/profiles", "/etc/agentbox/profiles"});
    ctx.environ["XDG_CONFIG_HOME"] = "/cfg/";
    CHECK(default_search_path(ctx)[0] == "/cfg/agentbox/profiles");
    // The XDG spec: a relative value is invalid and ignored.
    ctx.environ["XDG_CONFIG_HOME"] = "cfg";
    CHECK(default_search_path(ctx)[0] == "/home/u/.config/agentbox/profiles");
    ctx.trust_project_profiles = true;
    CHECK(default_search_path(ctx) ==
          std::vector<std::string>{"/home/u/proj/.agentbox/profiles",
                                   "/home/u/.config/agentbox/profiles", "/etc/agentbox/profiles"});
}

TEST_CASE("project_trusted reads the trusted-projects list like git's safe.directory") {
    TempDir root;
    Context ctx = context_in(root);
    CHECK_FALSE(project_trusted(ctx));  // no file: nothing is trusted
    root.write("config/agentbox/trusted-projects",
               "# my projects\n\n" + root.path() + "/home/other\nhome/proj\n");
    CHECK_FALSE(project_trusted(ctx));  // relative entries are ignored
    root.write("config/agentbox/trusted-projects",
               "# my projects\n  " + root.path() + "/home/proj/  \n");
    CHECK(project_trusted(ctx));
    ctx.project += "/sub";
    CHECK_FALSE(project_trusted(ctx));  // exact directories only, not what is below them
}

TEST_CASE("a trust list inside the project itself trusts nothing") {
    TempDir root;
    Context ctx = context_in(root);
    ctx.environ["XDG_CONFIG_HOME"] = ctx.project + "/.config";
    root.write("home/proj/.config/agentbox/trusted-projects", ctx.project + "\n");
    CHECK_FALSE(project_trusted(ctx));
}

TEST_CASE("an agent cannot loosen its next run with a profile in the project") {
    TempDir root;
    Context ctx = context_in(root);
    root.write("home/proj/.agentbox/profiles/loose.toml", "version = 1\n");
    ctx.search_path = default_search_path(ctx);

    const std::string e = error_of([&] { locate("loose", ctx); });
    CHECK(e.find("profile \"loose\" not found in ") == 0);
    CHECK(e.find("loose.toml was not used: this project's profiles are not trusted") !=
          std::string::npos);

    // Even when a caller puts the project directory in the search path by hand.
    ctx.search_path.insert(ctx.search_path.begin(), ctx.project + "/.agentbox/profiles");
    CHECK_THROWS_AS(locate("loose", ctx), ProfileError);

    // Named by path, it is the user's explicit choice.
    CHECK(locate("./.agentbox/profiles/loose.toml", ctx) ==
          ctx.project + "/.agentbox/profiles/loose.toml");

    ctx.trust_project_profiles = true;
    ctx.search_path = default_search_path(ctx);
    CHECK(locate("loose", ctx) == ctx.project + "/.agentbox/profiles/loose.toml");
}

TEST_CASE("locate: search path first, then built-ins; paths must exist") {
    TempDir root;
    Context ctx = context_in(root);
    CHECK(locate("python", ctx) == "<builtin:python>");
    const std::string mine = root.write("config/agentbox/profiles/python.toml", "version = 1\n");
    CHECK(locate("python", ctx) == mine);
    // A name ending in .toml is a path, taken from the current directory.
    CHECK(error_of([&] { load("python.toml", ctx); }) ==
          "profile file \"" + ctx.cwd + "/python.toml\": No such file or directory");
    CHECK(error_of([&] { locate("pyhton", ctx); }) ==
          "profile \"pyhton\" not found in " + root.path() +
              "/config/agentbox/profiles, or the built-in profiles; did you mean \"python\"?");
    CHECK(error_of([&] { locate("-rf x", ctx); }) ==
          "profile name \"-rf x\" is not valid (letters, digits, \".\", \"_\" and \"-\"; a path "
          "needs a \"/\" or the .toml suffix)");
}

TEST_CASE("read_profile refuses FIFOs and oversized files") {
    TempDir root;
    Context ctx = context_in(root);
    const std::string fifo = root.path() + "/fifo.toml";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(error_of([&] { load(fifo, ctx); }) ==
          "profile file \"" + fifo + "\" is not a regular file");
    const std::string big = root.write("big.toml", "version = 1\n#" + std::string(1 << 20, 'x'));
    CHECK(error_of([&] { load(big, ctx); }) ==
          "profile file \"" + big + "\" is larger than 1 MiB");
}

TEST_CASE("extends by relative path is relative to the extending file") {
    TempDir root;
    Context ctx = context_in(root);
    const Profile p = load(kData + "/chain/child.toml", ctx);
    CHECK(*p.network.mode == NetMode::proxy);
    CHECK(*p.limits.pids == 100);
    REQUIRE(p.filesystem.read.size() == 3);  // /usr once, /etc, /opt
    CHECK(p.filesystem.read[0].src.file == kData + "/parent/parent.toml");
    CHECK(p.filesystem.read[2].value == "/opt");
    CHECK(p.filesystem.write[0].value == ctx.project);
    REQUIRE(p.layers.size() == 2);
    CHECK(p.layers[0].name == "parent");
    CHECK(p.layers[0].path == kData + "/parent/parent.toml");
    CHECK(p.layers[1].name == "child");
    std::ifstream in(kData + "/chain/child.toml", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(p.layers[1].sha256 == sha256_hex(bytes));
}

TEST_CASE("errors inside a chain point into the file that has them") {
    TempDir root;
    Context ctx = context_in(root);
    CHECK(error_of([&] { load(kData + "/typo.toml", ctx); }) ==
          kData + "/typo.toml:6:1: unknown key \"wirte\" in [filesystem]; did you mean \"write\"?");
    CHECK(error_of([&] { load(kData + "/unset-var.toml", ctx); }) ==
          kData + "/unset-var.toml:3:9: filesystem.read entry \"${AGENTBOX_TEST_SURELY_UNSET}/x\": "
                  "environment variable AGENTBOX_TEST_SURELY_UNSET is not set");
    root.write("config/agentbox/profiles/top.toml", "version = 1\nextends = [\"nosuch\"]\n");
    CHECK(error_of([&] { load("top", ctx); }) ==
          root.path() + "/config/agentbox/profiles/top.toml:2:12: profile \"nosuch\" not found in " +
              root.path() + "/config/agentbox/profiles, or the built-in profiles");
}

TEST_CASE("an extends cycle is an error naming the chain") {
    TempDir root;
    Context ctx = context_in(root);
    CHECK(error_of([&] { load(kData + "/cycle/a.toml", ctx); }) ==
          kData + "/cycle/b.toml:3:12: extends cycle: " + kData + "/cycle/a.toml -> " + kData +
              "/cycle/b.toml -> " + kData + "/cycle/a.toml");
    root.write("config/agentbox/profiles/x.toml", "version = 1\nextends = [\"y\"]\n");
    root.write("config/agentbox/profiles/y.toml", "version = 1\nextends = [\"z\"]\n");
    root.write("config/agentbox/profiles/z.toml", "version = 1\nextends = [\"y\"]\n");
    CHECK(error_of([&] { load("x", ctx); }) == root.path() +
                                                   "/config/agentbox/profiles/z.toml:2:12: "
                                                   "extends cycle: y -> z -> y");
}

TEST_CASE("extends chains deeper than 16 are refused") {
    TempDir root;
    Context ctx = context_in(root);
    for (int i = 0; i < 17; ++i)
        root.write("config/agentbox/profiles/p" + std::to_string(i) + ".toml",
                   "version = 1\nextends = [\"p" + std::to_string(i + 1) + "\"]\n");
    root.write("config/agentbox/profiles/p17.toml", "version = 1\n");
    const std::string e = error_of([&] { load("p0", ctx); });
    CHECK(e.find("p15.toml:2:12: extends chain is deeper than 16 profiles: p0 -> p1 -> ") !=
          std::string::npos);
    CHECK(e.find("p15 -> p16") != std::string::npos);
    // 16 files are fine.
    root.write("config/agentbox/profiles/p15.toml", "version = 1\n");
    CHECK(load("p0", ctx).layers.size() == 16);
}

TEST_CASE("a diamond applies the shared base once, before both sides") {
    TempDir root;
    Context ctx = context_in(root);
    root.write("config/agentbox/profiles/root.toml",
               "version = 1\n[network]\nmode = \"none\"\n[filesystem]\nread = [\"/usr\"]\n");
    root.write("config/agentbox/profiles/b.toml",
               "version = 1\nextends = [\"root\"]\n[network]\nmode = \"proxy\"\n");
    root.write("config/agentbox/profiles/c.toml",
               "version = 1\nextends = [\"root\"]\n[filesystem]\nread = [\"/opt\"]\n");
    root.write("config/agentbox/profiles/top.toml", "version = 1\nextends = [\"b\", \"c\"]\n");
    const Profile p = load("top", ctx);
    // root coming back after b would have reset the mode to "none".
    CHECK(*p.network.mode == NetMode::proxy);
    REQUIRE(p.layers.size() == 4);
    CHECK(p.layers[0].name == "root");
    CHECK(p.layers[1].name == "b");
    CHECK(p.layers[2].name == "c");
    CHECK(p.layers[3].name == "top");
    CHECK(p.filesystem.read.size() == 2);

    // Several -p profiles share one chain the same way.
    const Profile q = load_all({"b", "c"}, ctx);
    CHECK(*q.network.mode == NetMode::proxy);
    CHECK(q.layers.size() == 3);
}

TEST_CASE("an allow rule under an inherited mode none selects the proxy, named after it") {
    TempDir root;
    Context ctx = context_in(root);
    root.write("config/agentbox/profiles/none.toml", "version = 1\n[network]\nmode = \"none\"\n");
    root.write("config/agentbox/profiles/allow.toml",
               "version = 1\nextends = [\"none\"]\n[network]\nallow = [\"example.com\"]\n");
    const Profile p = load("allow", ctx);
    CHECK(*p.network.mode == NetMode::proxy);
    CHECK(p.network.mode.src == p.network.allow.front().src);

    // A later layer's own "none" turns the network off again, whatever was allowed before.
    root.write("config/agentbox/profiles/off.toml",
               "version = 1\nextends = [\"allow\"]\n[network]\nmode = \"none\"\n");
    CHECK(*load("off", ctx).network.mode == NetMode::none);
    // "host" is kept: allow rules do not narrow it.
    root.write("config/agentbox/profiles/host.toml",
               "version = 1\n[network]\nmode = \"host\"\n");
    root.write("config/agentbox/profiles/hostallow.toml",
               "version = 1\nextends = [\"host\"]\n[network]\nallow = [\"example.com\"]\n");
    CHECK(*load("hostallow", ctx).network.mode == NetMode::host);
}

TEST_CASE("mode none and allow rules in one file is an error naming the fix") {
    TempDir root;
    Context ctx = context_in(root);
    root.write("config/agentbox/profiles/both.toml",
               "version = 1\n[network]\nmode = \"none\"\nallow = [\"example.com\"]\n");
    CHECK_THROWS_WITH_AS(load("both", ctx),
                         doctest::Contains("set mode = \"proxy\" or remove the allow rules"),
                         ProfileError);
}

TEST_CASE("a profile extending its own name gets the next one in the search path") {
    TempDir root;
    Context ctx = context_in(root);
    root.write("config/agentbox/profiles/default.toml",
               "version = 1\nextends = [\"default\"]\n[network]\nmode = \"host\"\n");
    const Profile p = load("default", ctx);
    CHECK(*p.network.mode == NetMode::host);
    REQUIRE(p.layers.size() == 3);
    CHECK(p.layers[0].path == "<builtin:base>");
    CHECK(p.layers[1].path == "<builtin:default>");
    CHECK(p.layers[2].path == root.path() + "/config/agentbox/profiles/default.toml");
}

TEST_CASE("list: every reachable name once, the first in search order wins") {
    TempDir root;
    Context ctx = context_in(root);
    ctx.search_path.push_back(root.path() + "/etc");
    root.write("config/agentbox/profiles/python.toml",
               "version = 1\ndescription = \"my python\"\n");
    root.write("etc/python.toml", "version = 1\ndescription = \"shadowed\"\n");
    root.write("etc/broken.toml", "version = 1\ndescription = [\n");
    root.write("etc/notes.txt", "not a profile");
    const std::vector<Listed> all = list(ctx);
    auto find = [&](const std::string& name) -> const Listed* {
        for (const auto& l : all)
            if (l.name == name) return &l;
        return nullptr;
    };
    REQUIRE(find("python") != nullptr);
    CHECK(find("python")->description == "my python");
    CHECK(find("python")->path == root.path() + "/config/agentbox/profiles/python.toml");
    REQUIRE(find("broken") != nullptr);
    CHECK(find("broken")->description.rfind("(invalid: " + root.path() + "/etc/broken.toml:", 0) ==
          0);
    CHECK(find("notes") == nullptr);
    for (const char* b : {"base", "default", "readonly", "claude-code", "codex", "gemini", "ci"}) {
        CAPTURE(b);
        REQUIRE(find(b) != nullptr);
        CHECK(find(b)->path == std::string("<builtin:") + b + ">");
        CHECK_FALSE(find(b)->description.empty());
    }
    CHECK(std::is_sorted(all.begin(), all.end(),
                         [](const Listed& a, const Listed& b) { return a.name < b.name; }));
}
