// limits.stage_size measured for copy staging by portable code (stage_size.hpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "stage/stage_size.hpp"
#include "tree_fixture.hpp"

namespace agentbox::stage {
namespace {

using test::Trees;

TEST_CASE("what a copy-staged command writes is measured as the snapshot's growth") {
    Trees t;
    Trees::file(t.project, "old", std::string(64 * 1024, 'o'));
    const std::uint64_t base = tree_bytes(t.project);
    CHECK(base >= 64 * 1024);
    CHECK(copy_staged_bytes(t.project, base) == 0);
    Trees::file(t.project, "new", std::string(256 * 1024, 'n'));
    const std::uint64_t staged = copy_staged_bytes(t.project, base);
    CHECK(staged >= 256 * 1024);
    CHECK(over_stage_size(staged, 128 * 1024));
    CHECK_FALSE(over_stage_size(staged, 1024 * 1024));
    CHECK_FALSE(over_stage_size(staged, 0));  // no limit
    // Deleting shrinks it; never below nothing.
    std::filesystem::remove(t.project + "/new");
    std::filesystem::remove(t.project + "/old");
    CHECK(copy_staged_bytes(t.project, base) == 0);
    CHECK(tree_bytes(t.root + "/missing") == 0);
}

}  // namespace
}  // namespace agentbox::stage
