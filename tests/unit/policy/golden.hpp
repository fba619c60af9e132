// Golden files under tests/data/ (plans/ by default). AGENTBOX_UPDATE_GOLDENS=1 rewrites
// them instead of comparing: review the diff before committing it.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace agentbox::policy::test {

inline std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// `dir` is a directory under tests/data/: plans/, seatbelt/, appcontainer/.
inline void check_golden(const std::string& name, const std::string& actual,
                         const std::string& dir = "plans") {
    const std::string path = std::string(AGENTBOX_TEST_DATA) + "/" + dir + "/" + name;
    if (const char* u = std::getenv("AGENTBOX_UPDATE_GOLDENS"); u && std::string(u) == "1") {
        std::ofstream(path) << actual;
        return;
    }
    const std::string expected = read_file(path);
    INFO("golden ", path, " (AGENTBOX_UPDATE_GOLDENS=1 to regenerate)");
    CHECK(actual == expected);
}

}  // namespace agentbox::policy::test
