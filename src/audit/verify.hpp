// Checking a decision log (agentbox log --verify): JSON, schema version, sequence, the hash
// chain and every session.end signature, stopping at the first line that fails and saying why.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace agentbox::audit {

struct Verdict {
    bool ok = false;            // every line verified and the last one is a signed session.end
    bool cut_short = false;     // the whole lines verify but the log does not end signed
    std::size_t lines = 0;      // whole lines that verified, from the first
    std::size_t bad_line = 0;   // 1-based number of the first bad line; 0 when none
    std::string reason;         // why bad_line is bad, or why the log is cut short
    std::size_t signed_lines = 0;  // lines covered by the last valid session.end signature
    std::string session;
    std::string key;            // the public key in session.start (hex)
};

// `text` is the whole file. With `trusted_key` (hex; the user's own key), a log signed by any
// other key fails at line 1: whoever rewrote the log could sign it with a key of their own.
Verdict verify(std::string_view text, std::string_view trusted_key = {});

}  // namespace agentbox::audit
