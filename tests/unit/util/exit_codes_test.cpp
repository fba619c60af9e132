#include <doctest/doctest.h>

#include "util/exit_codes.hpp"

// The values are published in agentbox(1) and scripts depend on them: changing one is a
// breaking change, not a refactoring.
TEST_CASE("run's own exit codes are the published ones") {
    CHECK(agentbox::util::kExitTimeout == 124);
    CHECK(agentbox::util::kExitSetup == 125);
    CHECK(agentbox::util::kExitNotExecutable == 126);
    CHECK(agentbox::util::kExitNotFound == 127);
}
