// Placeholders in path-valued settings: each one, and each way to get them wrong.
#include <doctest/doctest.h>

#include <string>

#include "profile/load.hpp"
#include "profile/placeholders.hpp"

using namespace agentbox::profile;

namespace {

Context test_context() {
    Context ctx;
    ctx.project = "/home/u/proj";
    ctx.cwd = "/home/u/proj/sub";
    ctx.home = "/home/u";
    ctx.tmp = "/tmp/ab.1";
    ctx.environ = {{"CACHE", "/var/cache/x"}, {"REL", "rel/dir"}, {"EMPTY", ""}};
    return ctx;
}

const Source kAt{"t.toml", 4, 9};

std::string path(const std::string& raw, const Context& ctx = test_context()) {
    return expand_path(raw, "filesystem.read", kAt, ctx);
}

std::string path_error(const std::string& raw, const Context& ctx = test_context()) {
    try {
        expand_path(raw, "filesystem.read", kAt, ctx);
    } catch (const ProfileError& e) {
        CHECK(e.where() == kAt);
        return e.what();
    }
    return {};
}

std::string protect_error(const std::string& raw) {
    try {
        project_glob(raw, "commit.protect", kAt, test_context());
    } catch (const ProfileError& e) {
        return e.what();
    }
    return {};
}

}  // namespace

TEST_CASE("each placeholder expands at the start of a path") {
    CHECK(path("@project") == "/home/u/proj");
    CHECK(path("@project/src") == "/home/u/proj/src");
    CHECK(path("@cwd/x") == "/home/u/proj/sub/x");
    CHECK(path("@tmp") == "/tmp/ab.1");
    CHECK(path("@home/.cache") == "/home/u/.cache");
    CHECK(path("~") == "/home/u");
    CHECK(path("~/.ssh") == "/home/u/.ssh");
    CHECK(path("${CACHE}/pip") == "/var/cache/x/pip");
    CHECK(path("/opt/${REL}/x") == "/opt/rel/dir/x");
    CHECK(path("~/${REL}") == "/home/u/rel/dir");
}

TEST_CASE("expanded paths are normalized and globs survive") {
    CHECK(path("/usr//lib/./x/") == "/usr/lib/x");
    CHECK(path("@project/../other") == "/home/u/other");
    CHECK(path("@project/**/.env*") == "/home/u/proj/**/.env*");
    CHECK(path("/a/@project") == "/a/@project");  // only at the start
    CHECK(path("/a/~") == "/a/~");
}

TEST_CASE("placeholder errors name the entry, the setting and the location") {
    CHECK(path_error("foo") ==
          "t.toml:4:9: filesystem.read entry \"foo\" is not an absolute path (use @project/foo "
          "or ~/foo)");
    CHECK(path_error("./foo") ==
          "t.toml:4:9: filesystem.read entry \"./foo\" is not an absolute path (use "
          "@project/foo or ~/foo)");
    CHECK(path_error("${REL}/x") ==
          "t.toml:4:9: filesystem.read entry \"${REL}/x\" is not an absolute path (use "
          "@project/${REL}/x or ~/${REL}/x)");
    CHECK(path_error("") ==
          "t.toml:4:9: filesystem.read entry \"\" is not an absolute path (use @project/ or ~/)");
    CHECK(path_error("${NOPE}/x") ==
          "t.toml:4:9: filesystem.read entry \"${NOPE}/x\": environment variable NOPE is not "
          "set");
    CHECK(path_error("/x/${CACHE") ==
          "t.toml:4:9: filesystem.read entry \"/x/${CACHE\": unterminated \"${\"");
    CHECK(path_error("/x/${A-B}") ==
          "t.toml:4:9: filesystem.read entry \"/x/${A-B}\": \"A-B\" is not a valid variable name");
    CHECK(path_error("~bob/x") ==
          "t.toml:4:9: filesystem.read entry \"~bob/x\": \"~bob\" (another user's home) is not "
          "supported; write the path in full");
    CHECK(path_error("@projekt/x") ==
          "t.toml:4:9: filesystem.read entry \"@projekt/x\": unknown placeholder \"@projekt\" "
          "(did you mean \"@project\"?)");
    CHECK(path_error("@zzzzzz") ==
          "t.toml:4:9: filesystem.read entry \"@zzzzzz\": unknown placeholder \"@zzzzzz\"; the "
          "placeholders are @project, @cwd, @tmp, @home and ~");
    CHECK(path_error("/a\nb") ==
          "t.toml:4:9: filesystem.read entry \"/a\\nb\": contains a control character");
}

TEST_CASE("an empty variable is set, an unknown context value is an error") {
    CHECK(path("/x${EMPTY}/y") == "/x/y");
    Context ctx = test_context();
    ctx.tmp.clear();
    CHECK(path_error("@tmp/x", ctx) ==
          "t.toml:4:9: filesystem.read entry \"@tmp/x\": @tmp has no value here");
    ctx.home.clear();
    CHECK(path_error("~/x", ctx) ==
          "t.toml:4:9: filesystem.read entry \"~/x\": ~ has no value here (no home directory)");
}

TEST_CASE("env.set values expand placeholders but need not be paths") {
    const Context ctx = test_context();
    CHECK(expand_value("1", "env.set.X", kAt, ctx) == "1");
    CHECK(expand_value("~/.cache//x", "env.set.X", kAt, ctx) == "/home/u/.cache//x");
    CHECK(expand_value("a ${REL} b", "env.set.X", kAt, ctx) == "a rel/dir b");
    CHECK_THROWS_AS(expand_value("${NOPE}", "env.set.X", kAt, ctx), ProfileError);
}

TEST_CASE("commit.protect entries become project-relative globs") {
    const Context ctx = test_context();
    auto glob = [&](const std::string& raw) { return project_glob(raw, "commit.protect", kAt, ctx); };
    CHECK(glob(".git/hooks/**") == ".git/hooks/**");
    CHECK(glob("./.envrc") == ".envrc");
    CHECK(glob("@project/.github/workflows/**") == ".github/workflows/**");
    CHECK(glob("/home/u/proj/.vscode/**") == ".vscode/**");
    CHECK(glob("@project") == "**");
    CHECK(glob("**/.envrc") == "**/.envrc");
    CHECK(protect_error("/etc/passwd") ==
          "t.toml:4:9: commit.protect entry \"/etc/passwd\": is outside the project "
          "\"/home/u/proj\"; commit.protect entries are paths inside the project");
    CHECK(protect_error("~/.bashrc") ==
          "t.toml:4:9: commit.protect entry \"~/.bashrc\": is outside the project "
          "\"/home/u/proj\"; commit.protect entries are paths inside the project");
    CHECK(protect_error("../x") ==
          "t.toml:4:9: commit.protect entry \"../x\": leaves the project; commit.protect "
          "entries are paths inside it");
    CHECK(protect_error("") == "t.toml:4:9: commit.protect entry \"\": is empty");
}
