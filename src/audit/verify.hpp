// Checking a decision log (agentbox log --verify): JSON, schema version, sequence, the hash
// chain and every session.end signature, stopping at the first line that fails and saying why.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agentbox::audit {

struct Verdict {
    bool ok = false;            // every line verified, the last one is signed, nothing cut off
    bool cut_short = false;     // the whole lines verify but the log does not end signed
    std::size_t lines = 0;      // whole lines that verified, from the first
    std::size_t bad_line = 0;   // 1-based number of the first bad line; 0 when none
    std::string reason;         // why bad_line is bad, or why the log is cut short
    std::size_t signed_lines = 0;  // lines covered by the last valid signature
    // The last event a valid signature vouches for (with the chain, all before it too).
    std::string vouched_event;
    long long vouched_seq = -1;
    // The log ends before the signed head the session recorded: lines were cut off the end.
    bool truncated = false;
    std::string session;
    std::string key;            // the public key in session.start (hex)
};

// The head of the chain as the session's authenticated metadata recorded it after the last
// signed line (stage::Meta::log_seq, log_hash).
struct Head {
    std::uint64_t seq = 0;
    std::string hash;
};

// `text` is the whole file. With `trusted_key` (hex; the user's own key), a log signed by any
// other key fails at line 1: whoever rewrote the log could sign it with a key of their own.
// With `recorded`, a log that ends before that head is truncated (not ok), and one whose line
// at that seq has another hash fails there. Once a line is signed, every later line must be.
Verdict verify(std::string_view text, std::string_view trusted_key = {},
               const std::optional<Head>& recorded = std::nullopt);

}  // namespace agentbox::audit
