// stage::review_state_change: which changes to an agent state file are held for review.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "stage/state.hpp"

using namespace agentbox::stage;

namespace {

const std::vector<std::string> kClaudeKeys{"mcpServers", "hooks", "statusLine", "apiKeyHelper"};

StateVerdict judge(std::optional<std::string> before, std::optional<std::string> after,
                   bool whole = false) {
    return review_state_change(before, after, whole, kClaudeKeys);
}

}  // namespace

TEST_CASE("harmless edits to ~/.claude.json are not held") {
    const auto v = judge(R"({"numStartups":3,"projects":{"/p":{"history":[]}}})",
                         R"({"numStartups":4,"projects":{"/p":{"history":["ls"]}},"tip":1})");
    CHECK_FALSE(v.hold);
    CHECK(v.keys.empty());
}

TEST_CASE("an MCP server planted at the top of ~/.claude.json is held") {
    const auto v = judge(R"({"numStartups":3})",
                         R"({"numStartups":4,"mcpServers":{"x":{"command":"sh"}}})");
    CHECK(v.hold);
    CHECK(v.keys == std::vector<std::string>{"mcpServers"});
}

TEST_CASE("an MCP server planted in a project's entry, at any depth, is held") {
    const auto v = judge(R"({"projects":{"/p":{"mcpServers":{}}}})",
                         R"({"projects":{"/p":{"mcpServers":{"x":{"command":"sh"}}}}})");
    CHECK(v.hold);
    CHECK(v.keys == std::vector<std::string>{"projects./p.mcpServers"});
}

TEST_CASE("a reviewed key inside an array, or spelled with escapes, is still found") {
    CHECK(judge(R"({"a":[{}]})", R"({"a":[{"hooks":{"Stop":[]}}]})").hold);
    CHECK(judge(R"({})", R"({"mcp\u0053ervers":{"x":{}}})").hold);
}

TEST_CASE("a duplicate key counts as the parser that reads it last would") {
    // JSON.parse keeps the last duplicate: a planted server hidden behind an empty first one.
    CHECK(judge(R"({})", R"({"mcpServers":{},"mcpServers":{"x":{"command":"sh"}}})").hold);
}

TEST_CASE("removing a reviewed key is a change too") {
    CHECK(judge(R"({"hooks":{"Stop":[]}})", R"({})").hold);
}

TEST_CASE("a new file is judged against nothing: reviewed keys in it are held") {
    CHECK(judge(std::nullopt, R"({"mcpServers":{"x":{}}})").hold);
    CHECK_FALSE(judge(std::nullopt, R"({"numStartups":1})").hold);
}

TEST_CASE("a file that is not JSON cannot prove its keys unchanged: held") {
    const auto v = judge(R"({})", "notify = [\"sh\", \"-c\", \"x\"]\n");
    CHECK(v.hold);
    CHECK(v.reason.find("not JSON") != std::string::npos);
    CHECK(judge("not json", R"({})").hold);
    // Nested past any real configuration: refused before the parser or the walk recurse.
    CHECK(judge(R"({})", std::string(100000, '[') + std::string(100000, ']')).hold);
}

TEST_CASE("a file reviewed whole is held on any change, and a removal is always held") {
    CHECK(judge("a", "b", /*whole=*/true).hold);
    CHECK_FALSE(judge("a", "a", /*whole=*/true).hold);
    CHECK(judge(R"({})", std::nullopt).hold);
}

TEST_CASE("without reviewed keys, any change of a file not reviewed whole is saved") {
    CHECK_FALSE(review_state_change("x", "y", false, {}).hold);
}

TEST_CASE("JSON Lines (a history file) are read line by line") {
    CHECK_FALSE(judge("{\"display\":\"one\"}\n", "{\"display\":\"one\"}\n{\"display\":\"two\"}\n").hold);
    CHECK(judge("{\"display\":\"one\"}\n", "{\"display\":\"one\"}\n{\"hooks\":{}}\n").hold);
    CHECK(judge("{\"display\":\"one\"}\n", "{\"display\":\"one\"}\nnot json\n").hold);
}
