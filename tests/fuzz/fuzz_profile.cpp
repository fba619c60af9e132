// libFuzzer target for the profile parser: arbitrary bytes as a profile document. A
// ProfileError is the expected answer to bad input; any other exception, crash, leak or
// sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "profile/load.hpp"
#include "profile/summary.hpp"

namespace {

const agentbox::profile::Context& fixed_context() {
    static const agentbox::profile::Context ctx = [] {
        agentbox::profile::Context c;
        c.project = "/home/u/proj";
        c.cwd = "/home/u/proj/sub";
        c.home = "/home/u";
        c.tmp = "/tmp/agentbox-fuzz";
        c.environ = {{"HOME", "/home/u"}, {"CACHE", "/var/cache"}, {"EMPTY", ""}};
        c.search_path = {"/nonexistent/agentbox-fuzz"};
        return c;
    }();
    return ctx;
}

// Parsed once: re-parsing it for every input would spend most of the time on known bytes.
const agentbox::profile::Profile& base_profile() {
    static const agentbox::profile::Profile base = agentbox::profile::parse(
        agentbox::profile::builtin_text("base"), "<builtin:base>", fixed_context());
    return base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    namespace profile = agentbox::profile;
    try {
        // Layer the result on a built-in, as `-p base -p FILE` would.
        profile::Profile merged = base_profile();
        profile::merge_into(merged, profile::parse(text, "fuzz.toml", fixed_context()));
    } catch (const profile::ProfileError&) {
    }
    try {
        (void)profile::read_description(text, "fuzz.toml");
    } catch (const profile::ProfileError&) {
    }
    // The unit parsers see the same bytes, bounded to what a TOML string value could hold.
    (void)profile::parse_size(text.substr(0, 64));
    (void)profile::parse_duration_ms(text.substr(0, 64));
    return 0;
}
