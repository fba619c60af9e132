// Every built-in profile, loaded through the real loader and compiled on a fixed fake host,
// matches its golden Plan (text and JSON). A change to a profile or to compile() shows up
// here as a reviewable diff of tests/data/plans/builtin-*.
#include <doctest/doctest.h>

#include "builtin_plans.hpp"
#include "golden.hpp"

namespace agentbox::policy {
namespace {

TEST_CASE("every built-in profile compiles to its golden Plan") {
    const auto names = profile::builtin_names();
    REQUIRE(names.size() >= 7);
    for (const auto& name : names) {
        CAPTURE(name);
        const Plan plan = test::builtin_plan(name);
        const std::string text = render_text(plan);
        const std::string json = render_json(plan);
        CHECK(text.find("sk-ant-secret") == std::string::npos);
        CHECK(json.find("ghp_secret") == std::string::npos);
        test::check_golden("builtin-" + name + ".txt", text);
        test::check_golden("builtin-" + name + ".json", json + "\n");
    }
}

}  // namespace
}  // namespace agentbox::policy
