// merge_into: set scalars of the top layer override, lists append without duplicates, env.set
// merges per name, layers accumulate.
#include <doctest/doctest.h>

#include "profile/load.hpp"

using namespace agentbox::profile;

namespace {

Entry entry(const std::string& v, int line) { return Entry{v, v, Source{"x.toml", line, 1}}; }

}  // namespace

TEST_CASE("set scalars override, unset ones leave the base alone") {
    Profile base;
    base.network.mode = {NetMode::none, Source{"base.toml", 3, 8}, true};
    base.limits.pids = {100, Source{"base.toml", 4, 8}, true};
    Profile top;
    top.network.mode = {NetMode::proxy, Source{"top.toml", 9, 8}, true};
    merge_into(base, top);
    CHECK(*base.network.mode == NetMode::proxy);
    CHECK(base.network.mode.src == Source{"top.toml", 9, 8});
    CHECK(*base.limits.pids == 100);
    CHECK(base.limits.pids.src == Source{"base.toml", 4, 8});
}

TEST_CASE("lists append in order and skip values already present") {
    Profile base;
    base.filesystem.read = {entry("/usr", 1), entry("/etc", 2)};
    base.filesystem.deny = {entry("/home/u/.ssh", 3)};
    Profile top;
    top.filesystem.read = {entry("/opt", 10), entry("/usr", 11)};
    top.filesystem.deny = {entry("/home/u/.aws", 12)};
    merge_into(base, top);
    REQUIRE(base.filesystem.read.size() == 3);
    CHECK(base.filesystem.read[0].value == "/usr");
    CHECK(base.filesystem.read[0].src.line == 1);  // the first layer to write it is named
    CHECK(base.filesystem.read[2].value == "/opt");
    CHECK(base.filesystem.deny.size() == 2);
}

TEST_CASE("env.set merges per name, the top layer winning") {
    Profile base;
    base.env.set = {{"A", entry("1", 1)}, {"B", entry("2", 2)}};
    Profile top;
    top.env.set = {{"B", entry("3", 7)}, {"C", entry("4", 8)}};
    merge_into(base, top);
    REQUIRE(base.env.set.size() == 3);
    CHECK(base.env.set.at("A").value == "1");
    CHECK(base.env.set.at("B").value == "3");
    CHECK(base.env.set.at("C").value == "4");
}

TEST_CASE("layers accumulate in application order") {
    Profile base;
    base.layers = {Layer{"base", "<builtin:base>", "aa"}};
    Profile top;
    top.layers = {Layer{"top", "/p/top.toml", "bb"}};
    merge_into(base, top);
    REQUIRE(base.layers.size() == 2);
    CHECK(base.layers[0].name == "base");
    CHECK(base.layers[1].path == "/p/top.toml");
}
