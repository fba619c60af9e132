// The profile `agentbox learn` writes: how observed paths collapse into grants, and that the
// text is a profile the loader takes, whatever names the sandbox chose.
#include <doctest/doctest.h>

#include <string>

#include "profile/learned.hpp"
#include "profile/load.hpp"

using namespace agentbox::profile;

TEST_CASE("a package's files collapse to the directory below its well-known parent") {
    const std::string home = "/home/u";
    CHECK(collapse_path("/home/u/.cache/pip/http/a/b", home) == "/home/u/.cache/pip");
    CHECK(collapse_path("/home/u/.config/learnapp/settings.ini", home) == "/home/u/.config/learnapp");
    CHECK(collapse_path("/home/u/.local/share/uv/tools/x", home) == "/home/u/.local/share/uv");
    CHECK(collapse_path("/home/u/.local/bin/claude", home) == "/home/u/.local/bin/claude");
    CHECK(collapse_path("/home/u/.npmrc", home) == "/home/u/.npmrc");
    CHECK(collapse_path("/home/u/go/pkg/mod/x", home) == "/home/u/go");
    CHECK(collapse_path("/opt/tool/lib/x.so", home) == "/opt/tool");
    CHECK(collapse_path("/usr/local/lib/python3.11/dist-packages/y", home) ==
          "/usr/local/lib/python3.11");
    CHECK(collapse_path("/srv/data/../data/f", home) == "/srv/data");
}

TEST_CASE("a well-known parent is never granted whole") {
    const std::string home = "/home/u";
    for (const char* p : {"/", "/opt", "/home/u", "/home/u/.cache", "/home/u/.config",
                          "/home/u/.local/share", "/usr/local", "/home"})
        CHECK_MESSAGE(!collapse_path(p, home), p);
    CHECK(!collapse_path("relative/path", home));
    CHECK(!collapse_path("", home));
}

TEST_CASE("the learned text loads as a profile, and hostile names stay data") {
    Learned r;
    r.read.push_back(LearnedGrant{"~/.config/we\"ird name", {"py\nthon", "sh"}, 3});
    r.read.push_back(LearnedGrant{"~/.config/new\nline", {"sh"}, 1});
    r.read.push_back(LearnedGrant{"/opt/tool", {"tool"}, 1});
    r.exec_seen.push_back(LearnedGrant{"/usr/bin/python3", {"python3"}, 1});
    r.hosts = {"pypi.org", "example.com:8080"};
    const std::string text =
        learned_profile_text(r, "learned", {"default"}, {"python3", "-c", "print('x')\n"}, "S1");
    // A newline the sandbox put in a name must not end a comment and start a TOML line.
    CHECK(text.find("\nthon") == std::string::npos);
    CHECK(text.find("\nline") == std::string::npos);
    CHECK(text.find("# left out: ~/.config/new?line") != std::string::npos);
    CHECK(text.find("python3 -c \"print('x')\\n\"") != std::string::npos);

    Context ctx;
    ctx.project = "/home/u/proj";
    ctx.cwd = ctx.project;
    ctx.home = "/home/u";
    ctx.tmp = "/tmp";
    const Profile p = parse(text, "learned.toml", ctx);
    REQUIRE(p.filesystem.read.size() == 2);
    CHECK(p.filesystem.read[0].value == "/home/u/.config/we\"ird name");  // the newline one: out
    CHECK(p.filesystem.read[1].value == "/opt/tool");
    CHECK(p.filesystem.exec.empty());  // the base does not restrict execution: comments only
    REQUIRE(p.network.allow.size() == 2);
    CHECK(p.network.allow[0].value == "pypi.org");
    CHECK(*p.network.mode == NetMode::proxy);
    REQUIRE(p.extends.size() == 1);
    CHECK(p.extends[0].value == "default");
}
