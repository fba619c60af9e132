// profile/names.hpp: one table per profile enum, read by the loader and the flags, written by
// `profile show` and the Plan rendering.
#include "profile/names.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace agentbox::profile;

namespace {

template <class E>
void round_trips() {
    for (const auto& n : names(E{})) {
        CHECK(std::string(name_of(n.value)) == n.name);
        CHECK(parse_name<E>(n.name) == n.value);
    }
    CHECK_FALSE(parse_name<E>("no-such-name").has_value());
}

}  // namespace

TEST_CASE("every profile enum's name reads back to the same value") {
    round_trips<NetMode>();
    round_trips<Unlisted>();
    round_trips<SeccompMode>();
    round_trips<LandlockMode>();
    round_trips<OnExit>();
    CHECK(std::string(name_of(LandlockMode::best_effort)) == "best-effort");
    CHECK(std::string(name_of(SeccompMode::default_)) == "default");
    CHECK(parse_name<OnExit>("discard") == OnExit::discard);
}
