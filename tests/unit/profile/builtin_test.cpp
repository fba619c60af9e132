// The built-in profiles are real policy: each one must parse, load with its chain, and say
// what DESIGN.md §3 promises.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "profile/load.hpp"
#include "profile/sha256.hpp"

using namespace agentbox::profile;

namespace {

Context host_free_context() {
    Context ctx;
    ctx.project = "/home/u/proj";
    ctx.cwd = "/home/u/proj";
    ctx.home = "/home/u";
    ctx.tmp = "/tmp";
    // Only the built-ins: nothing from this machine's /etc or ~/.config.
    ctx.search_path = {"/nonexistent/agentbox-test"};
    return ctx;
}

bool has(const std::vector<Entry>& list, const std::string& value) {
    return std::any_of(list.begin(), list.end(), [&](const Entry& e) { return e.value == value; });
}

}  // namespace

TEST_CASE("the eight built-in profiles are compiled in") {
    std::vector<std::string> names = builtin_names();
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"base", "ci", "claude-code", "codex", "default",
                                            "gemini", "python", "readonly"});
    CHECK(builtin_text("nosuch") == nullptr);
    // The digests are computed by the build (cmake/embed_profiles.cmake), not at run time.
    for (const std::string& name : names) {
        CAPTURE(name);
        REQUIRE(builtin_sha256(name) != nullptr);
        CHECK(std::string(builtin_sha256(name)) == sha256_hex(builtin_text(name)));
    }
    CHECK(builtin_sha256("nosuch") == nullptr);
}

TEST_CASE("a built-in is parsed without its comments, to the same values at the same places") {
    for (const std::string& name : builtin_names()) {
        CAPTURE(name);
        const std::string text = builtin_text(name);
        const std::string cut = without_comments(text);
        CHECK(std::count(cut.begin(), cut.end(), '\n') == std::count(text.begin(), text.end(), '\n'));
        CHECK(cut.find('#') == std::string::npos);  // no built-in has a '#' in a string
        // Every value and every source position the same.
        const std::string origin = "<builtin:" + name + ">";
        CHECK(parse(text, origin, host_free_context()) == parse(cut, origin, host_free_context()));
    }
    CHECK(without_comments(builtin_text("base")).size() < std::string(builtin_text("base")).size() * 2 / 3);
}

TEST_CASE("without_comments keeps a '#' that is inside a string") {
    CHECK(without_comments("a = \"x # y\" # c\nb = 1\n") == "a = \"x # y\" \nb = 1\n");
    CHECK(without_comments("a = 'p\\' # q\n") == "a = 'p\\' \n");  // no escapes in '...'
    CHECK(without_comments("a = \"q\\\"#\" #z") == "a = \"q\\\"#\" ");
    CHECK(without_comments("# only\n\n  # indented\nk = 2") == "\n\n  \nk = 2");
    CHECK(without_comments("\"#k\" = 1 # c") == "\"#k\" = 1 ");
    const std::string multi = "a = \"\"\"\n# not a comment\n\"\"\"\n";
    CHECK(without_comments(multi) == multi);
}

TEST_CASE("every built-in profile parses, loads and names itself") {
    const Context ctx = host_free_context();
    for (const std::string& name : builtin_names()) {
        CAPTURE(name);
        const Profile p = load(name, ctx);
        CHECK(p.version == 1);
        CHECK(*p.name == name);
        CHECK_FALSE(p.description.value.empty());
        REQUIRE_FALSE(p.layers.empty());
        CHECK(p.layers.front().name == "base");
        CHECK(p.layers.back().path == "<builtin:" + name + ">");
        CHECK(p.layers.back().sha256 == sha256_hex(builtin_text(name)));
        // Everything extends base: secrets hidden, no network unless asked for.
        CHECK(has(p.filesystem.deny, "/home/u/.ssh"));
        CHECK(has(p.filesystem.deny, "/home/u/.config/agentbox"));
        CHECK(has(p.filesystem.deny, "/etc/shadow"));
        CHECK(has(p.env.deny, "*_TOKEN"));
        CHECK(has(p.commit.protect, ".github/workflows/**"));
        CHECK(p.network.mode.set);
        CHECK(*p.process.seccomp == SeccompMode::default_);
        // Built-in sources carry real lines.
        CHECK(p.network.mode.src.line > 0);
        CHECK(p.network.mode.src.file.rfind("<builtin:", 0) == 0);
    }
}

TEST_CASE("built-in profiles grant what their names say") {
    const Context ctx = host_free_context();
    const Profile base = load("base", ctx);
    CHECK(base.filesystem.write.empty());
    CHECK(*base.network.mode == NetMode::none);
    CHECK(has(base.filesystem.tmpfs, "/tmp"));

    const Profile def = load("default", ctx);
    CHECK(has(def.filesystem.write, "/home/u/proj"));
    CHECK(has(def.filesystem.deny, "/home/u/proj/.env"));
    CHECK(*def.network.mode == NetMode::none);
    REQUIRE(def.layers.size() == 2);

    const Profile ro = load("readonly", ctx);
    CHECK(ro.filesystem.write.empty());
    CHECK(has(ro.filesystem.read, "/home/u/proj"));

    const Profile py = load("python", ctx);
    CHECK(*py.network.mode == NetMode::proxy);
    CHECK(has(py.network.allow, "pypi.org"));
    CHECK(py.env.set.at("PIP_DISABLE_PIP_VERSION_CHECK").value == "1");
    CHECK(py.layers.size() == 3);

    const Profile cc = load("claude-code", ctx);
    CHECK(has(cc.network.allow, "api.anthropic.com"));
    // Its state files are copies saved back after review, never binds of the host's files.
    CHECK(has(cc.filesystem.state, "/home/u/.claude.json"));
    CHECK(has(cc.filesystem.state, "/home/u/.claude/settings.json"));
    CHECK(has(cc.filesystem.state_review, "mcpServers"));
    CHECK(has(cc.filesystem.state_review, "hooks"));
    CHECK(has(cc.filesystem.state_review, "/home/u/.claude/settings.json"));
    CHECK(!has(cc.filesystem.write, "/home/u/.claude"));
    CHECK(!has(cc.filesystem.write, "/home/u/.claude.json"));
    CHECK(has(cc.network.allow, "platform.claude.com"));
    CHECK(has(cc.env.pass, "ANTHROPIC_API_KEY"));

    const Profile cx = load("codex", ctx);
    CHECK(has(cx.network.allow, "api.openai.com"));
    CHECK(has(cx.filesystem.state, "/home/u/.codex/config.toml"));
    CHECK(has(cx.filesystem.state_review, "/home/u/.codex/config.toml"));
    CHECK(!has(cx.filesystem.write, "/home/u/.codex"));

    const Profile gm = load("gemini", ctx);
    CHECK(has(gm.network.allow, "generativelanguage.googleapis.com"));
    CHECK(has(gm.filesystem.state, "/home/u/.gemini/settings.json"));
    CHECK(has(gm.filesystem.state_review, "/home/u/.gemini/settings.json"));
    CHECK(has(gm.env.pass, "GEMINI_API_KEY"));
    CHECK(has(cx.env.pass, "OPENAI_API_KEY"));

    const Profile ci = load("ci", ctx);
    CHECK(*ci.commit.on_exit == OnExit::keep);
    CHECK(*ci.process.landlock == LandlockMode::require);
    CHECK(*ci.limits.timeout_ms == 30ULL * 60 * 1000);
    CHECK(ci.limits.pids.set);
}
