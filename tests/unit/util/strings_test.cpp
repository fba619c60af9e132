#include <doctest/doctest.h>

#include "util/strings.hpp"

using namespace agentbox::util;

TEST_CASE("glob_match in path mode keeps * inside one segment") {
    CHECK(glob_match(".env*", ".env"));
    CHECK(glob_match(".env*", ".env.local"));
    CHECK_FALSE(glob_match(".env*", ".env/x"));
    CHECK(glob_match(".git/hooks/**", ".git/hooks/pre-commit"));
    CHECK(glob_match(".git/hooks/**", ".git/hooks/a/b"));
    CHECK_FALSE(glob_match(".git/hooks/**", ".git/config"));
    CHECK(glob_match("**/.env", ".env"));
    CHECK(glob_match("**/.env", "a/b/.env"));
    CHECK_FALSE(glob_match("**/.env", "a/b/x.env"));
    CHECK(glob_match("a/*/c", "a/b/c"));
    CHECK_FALSE(glob_match("a/*/c", "a/b/x/c"));
    CHECK(glob_match("a?c", "abc"));
    CHECK_FALSE(glob_match("a?c", "a/c"));
    CHECK(glob_match("/home/*/.ssh", "/home/u/.ssh"));
}

TEST_CASE("glob_match outside path mode spans everything") {
    CHECK(glob_match("*_TOKEN", "GITHUB_TOKEN", false));
    CHECK(glob_match("*SECRET*", "MY_SECRET_X", false));
    CHECK(glob_match("LC_*", "LC_ALL", false));
    CHECK_FALSE(glob_match("LC_*", "LANG", false));
    CHECK(glob_match("a*b", "a/x/b", false));
}

TEST_CASE("quote escapes terminal control bytes") {
    CHECK(quote("a b") == "\"a b\"");
    CHECK(quote("a\nb") == "\"a\\nb\"");
    CHECK(quote("\x1b[2J") == "\"\\x1b[2J\"");
    CHECK(quote("q\"") == "\"q\\\"\"");
}

TEST_CASE("toml_quote writes a TOML basic string") {
    CHECK(toml_quote("a b") == "\"a b\"");
    CHECK(toml_quote("a\nb\tc") == "\"a\\nb\\tc\"");
    CHECK(toml_quote("\x1b[2J") == "\"\\u001b[2J\"");
    CHECK(toml_quote("\x7f") == "\"\\u007f\"");
    CHECK(toml_quote("q\"\\") == "\"q\\\"\\\\\"");
}

TEST_CASE("nearest suggests plausible typos only") {
    std::vector<std::string> keys{"read", "write", "deny", "tmpfs", "exec"};
    CHECK(nearest("wirte", keys) == "write");
    CHECK(nearest("raed", keys) == "read");
    CHECK(nearest("completely-different", keys).empty());
}

TEST_CASE("nearest suggests the one name that a short form begins") {
    // `-p claude` means claude-code: too many edits away, but the start of one name only.
    std::vector<std::string> profiles{"default", "claude-code", "codex", "ci", "readonly"};
    CHECK(nearest("claude", profiles) == "claude-code");
    CHECK(nearest("CLAUDE", profiles) == "claude-code");
    // The start of two names, or too short to mean anything: no guess.
    CHECK(nearest("cod", std::vector<std::string>{"codex", "code-review"}).empty());
    CHECK(nearest("xy", std::vector<std::string>{"xylophone"}).empty());
}

TEST_CASE("lexical paths") {
    CHECK(normalize_path("/a//b/./c/../d") == "/a/b/d");
    CHECK(normalize_path("/../x") == "/x");
    // Already-normal paths come back as they are; anything else takes the general path.
    for (const char* same : {"/", "/a", "/a/b", "a/b", "/a/.b", "/a/b..c", "/...", "x"})
        CHECK(normalize_path(same) == same);
    CHECK(normalize_path("/a/b/") == "/a/b");
    CHECK(normalize_path("//") == "/");
    CHECK(normalize_path(".") == ".");
    CHECK(normalize_path("") == ".");
    CHECK(normalize_path("..") == "..");
    CHECK(normalize_path("a/..") == ".");
    CHECK(normalize_path("/a/..") == "/");
    CHECK(path_within("/a/b", "/a"));
    CHECK(path_within("/a", "/a"));
    CHECK_FALSE(path_within("/ab", "/a"));
    CHECK(path_within("/x", "/"));
    CHECK(relative_to("/p/a/b", "/p") == "a/b");
    CHECK(relative_to("/q", "/p").empty());
    CHECK(path_depth("/a/b/c") == 3);
    CHECK(path_depth("/") == 0);
    CHECK(path_depth("") == 0);
    CHECK(path_depth("//a//b/") == 2);
    CHECK(path_depth("a/b") == 2);
}
