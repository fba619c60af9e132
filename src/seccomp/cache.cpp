// A disk cache of compiled filters, so a run does not pay for libseccomp (the strict set takes
// milliseconds to compile; reading a cached entry takes microseconds).
//
// Entry: "<dir>/<key>.bpf" = one header line "agentbox-seccomp-bpf 1 <key> <xxh3 of payload>"
// then the BPF program. The key names the rule set, the notify flag and the libseccomp version.
// The header repeats the key, so an entry renamed under another key is refused; the checksum
// catches a torn or corrupted file. The cache is only an optimization: any problem with it
// means "compile again", never an error.
#include <linux/filter.h>
#include <xxhash.h>

#include <cstdio>
#include <optional>

#include "seccomp/rules.hpp"
#include "sys/dirs.hpp"
#include "sys/error.hpp"
#include "sys/io.hpp"

namespace agentbox::seccomp {

namespace {

constexpr std::size_t kMaxProgram = BPF_MAXINSNS * sizeof(sock_filter);

std::string hash_hex(const std::uint8_t* p, std::size_t n) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(XXH3_64bits(p, n)));
    return buf;
}

std::string header(const std::string& key, const std::vector<std::uint8_t>& bpf) {
    return "agentbox-seccomp-bpf 1 " + key + " " + hash_hex(bpf.data(), bpf.size()) + "\n";
}

std::optional<std::vector<std::uint8_t>> load(const std::string& path, const std::string& key) {
    // A filter decides what the sandbox may do: only an entry we wrote ourselves is trusted.
    std::string data;
    if (!sys::read_own_file(path, data, kMaxProgram + 256)) return std::nullopt;
    const auto nl = data.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    std::vector<std::uint8_t> bpf(data.begin() + static_cast<std::ptrdiff_t>(nl) + 1, data.end());
    if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0 || bpf.size() > kMaxProgram)
        return std::nullopt;
    if (data.compare(0, nl + 1, header(key, bpf)) != 0) return std::nullopt;
    return bpf;
}

void store(const std::string& dir, const std::string& path, const std::string& key,
           const std::vector<std::uint8_t>& bpf) {
    if (dir.empty()) return;
    try {
        sys::make_dirs(dir);
    } catch (const sys::SysError&) {
        return;  // not stored: compiled again next time
    }
    std::string data = header(key, bpf);
    data.append(bpf.begin(), bpf.end());
    sys::replace_own_file(path, data);  // not stored: compiled again next time
}

}  // namespace

std::vector<std::uint8_t> compile_cached(const RuleSet& rs, bool notify,
                                         const std::string& cache_dir,
                                         const std::string& rs_digest) {
    const std::string key =
        (rs_digest.empty() ? digest(rs) : rs_digest) + (notify ? "-notify" : "-errno") + "-libseccomp" + libseccomp_version();
    const std::string path = cache_dir + "/" + key + ".bpf";
    if (!cache_dir.empty())
        if (auto hit = load(path, key)) return *hit;
    auto bpf = compile(rs, notify);
    store(cache_dir, path, key, bpf);
    return bpf;
}

}  // namespace agentbox::seccomp
