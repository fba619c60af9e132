// libFuzzer target for the git config reader (stage/gitconfig.cpp): arbitrary bytes as one
// config file's text, as stage/select.cpp reads it (the include-following around it opens
// files; the parser takes the text alone). Invariants: every include path returned is
// non-empty (its caller reads its first character) and NUL-free (git hands it on as a C
// string); every word git_command_words gives is non-empty; no crash, hang, leak or
// sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "stage/gitconfig.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    for (const std::string& path : agentbox::stage::git_config_includes(text)) {
        if (path.empty() || path.find('\0') != std::string::npos) std::abort();
    }
    // The commands' words: each non-empty (the caller reads its first character).
    for (const auto& c : agentbox::stage::git_config_read(text).commands)
        for (const std::string& word : agentbox::stage::git_command_words(c.value))
            if (word.empty()) std::abort();
    // A value is any bytes too.
    for (const std::string& word : agentbox::stage::git_command_words(text))
        if (word.empty()) std::abort();
    return 0;
}
