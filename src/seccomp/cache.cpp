// A disk cache of compiled filters, so a run does not pay for libseccomp (the strict set takes
// milliseconds to compile; reading a cached entry takes microseconds).
//
// Entry: "<dir>/<key>.bpf" = one header line "agentbox-seccomp-bpf 1 <key> <xxh3 of payload>"
// then the BPF program. The key names the rule set, the notify flag and the libseccomp version.
// The header repeats the key, so an entry renamed under another key is refused; the checksum
// catches a torn or corrupted file. The cache is only an optimization: any problem with it
// means "compile again", never an error.
//
// A second kind of entry skips the rule set too (filter_cached): "<dir>/in-<key>.bpf", keyed by
// the rule set's inputs (input_key), with the header line "agentbox-seccomp-plan 1 <key>
// <digest> <rules> <xxh3 of payload>" -- the rule set's digest and size ride along for the log.
// Checked exactly like the first kind.
#include <elf.h>
#include <link.h>
#include <linux/filter.h>
#include <sys/utsname.h>
#include <xxhash.h>

#include <cstdio>
#include <cstring>
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

std::string plan_header(const std::string& key, const Filter& f) {
    return "agentbox-seccomp-plan 1 " + key + " " + f.digest + " " + std::to_string(f.rules) +
           " " + hash_hex(f.bpf.data(), f.bpf.size()) + "\n";
}

bool plain_token(const std::string& s, std::size_t max) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::optional<Filter> load_plan(const std::string& path, const std::string& key) {
    // As load(): only our own entry, and its header must be exactly the one we would write for
    // this key and this payload.
    std::string data;
    if (!sys::read_own_file(path, data, kMaxProgram + 512)) return std::nullopt;
    const auto nl = data.find('\n');
    if (nl == std::string::npos) return std::nullopt;
    const std::string prefix = "agentbox-seccomp-plan 1 " + key + " ";
    if (data.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    // "<digest> <rules> <sum>"
    const std::string rest = data.substr(prefix.size(), nl - prefix.size());
    const auto sp = rest.find(' ');
    if (sp == std::string::npos) return std::nullopt;
    Filter f;
    f.digest = rest.substr(0, sp);
    const auto sp2 = rest.find(' ', sp + 1);
    if (sp2 == std::string::npos) return std::nullopt;
    const std::string count = rest.substr(sp + 1, sp2 - sp - 1);
    if (!plain_token(f.digest, 16) || count.empty() || count.size() > 6 ||
        count.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    f.rules = std::stoul(count);
    f.bpf.assign(data.begin() + static_cast<std::ptrdiff_t>(nl) + 1, data.end());
    if (f.bpf.empty() || f.bpf.size() % sizeof(sock_filter) != 0 || f.bpf.size() > kMaxProgram)
        return std::nullopt;
    if (data.compare(0, nl + 1, plan_header(key, f)) != 0) return std::nullopt;
    return f;
}

void store_plan(const std::string& dir, const std::string& path, const std::string& key,
                const Filter& f) {
    try {
        sys::make_dirs(dir);
    } catch (const sys::SysError&) {
        return;
    }
    std::string data = plan_header(key, f);
    data.append(f.bpf.begin(), f.bpf.end());
    sys::replace_own_file(path, data);  // not stored: built again next time
}

void field(std::string& out, const char* name, const std::string& value) {
    // Length-prefixed, so no value can pass for another field.
    out += name;
    out += ' ';
    out += std::to_string(value.size());
    out += ':';
    out += value;
    out += '\n';
}

// The GNU build id of the main program (the linker's hash of its contents), read from its
// loaded notes: no file is opened.
int find_build_id(struct dl_phdr_info* info, std::size_t, void* out) {
    auto& id = *static_cast<std::string*>(out);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const auto& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_NOTE) continue;
        const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
        const char* end = p + ph.p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            ElfW(Nhdr) nh;
            std::memcpy(&nh, p, sizeof nh);
            const char* name = p + sizeof nh;
            const char* desc = name + ((nh.n_namesz + 3) & ~3u);
            const char* next = desc + ((nh.n_descsz + 3) & ~3u);
            if (next > end) break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0 && nh.n_descsz > 0) {
                static const char* hexd = "0123456789abcdef";
                for (unsigned k = 0; k < nh.n_descsz; ++k) {
                    const auto b = static_cast<unsigned char>(desc[k]);
                    id += hexd[b >> 4];
                    id += hexd[b & 15];
                }
                return 1;
            }
            p = next;
        }
    }
    return 1;  // the first object is the main program: stop there either way
}

}  // namespace

std::string input_key(const policy::SeccompPlan& plan, bool notify, const std::string& build) {
    std::string text = "agentbox-seccomp-input 1\n";
    field(text, "build", build);
    field(text, "notify", notify ? "1" : "0");
    field(text, "mode", std::to_string(static_cast<int>(plan.mode)));
    for (const auto& a : plan.allow) field(text, "allow", a.name);
    for (const auto& d : plan.deny) field(text, "deny", d.name);
    field(text, "log_denials", plan.log_denials ? "1" : "0");
    field(text, "observe_files", plan.observe_files ? "1" : "0");
    const XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                  static_cast<unsigned long long>(h.low64));
    return buf;
}

const std::string& build_facts() {
    static const std::string facts = [] {
        std::string id;
        ::dl_iterate_phdr(find_build_id, &id);
        if (id.empty()) return std::string();
        struct utsname u {};
        if (::uname(&u) != 0) return std::string();
        return id + " libseccomp " + libseccomp_version() + " kernel " + u.release;
    }();
    return facts;
}

Filter filter_cached(const policy::SeccompPlan& plan, bool notify, const std::string& cache_dir,
                     const std::string& build, std::optional<RuleSet>* built) {
    const bool by_input = !cache_dir.empty() && !build.empty();
    std::string key, path;
    if (by_input) {
        key = input_key(plan, notify, build);
        path = cache_dir + "/in-" + key + ".bpf";
        if (auto hit = load_plan(path, key)) return std::move(*hit);
    }
    RuleSet rs = rules_for(plan);
    Filter f;
    f.digest = digest(rs);
    f.rules = rs.rules.size();
    f.bpf = cache_dir.empty() ? compile(rs, notify) : compile_cached(rs, notify, cache_dir, f.digest);
    if (by_input) store_plan(cache_dir, path, key, f);
    if (built != nullptr) *built = std::move(rs);
    return f;
}

std::vector<std::uint8_t> compile_cached(const RuleSet& rs, bool notify,
                                         const std::string& cache_dir,
                                         const std::string& rs_digest) {
    // "-fenced": programs compiled before the fence of unnamed numbers (bpf.cpp) are not it.
    const std::string key = (rs_digest.empty() ? digest(rs) : rs_digest) +
                            (notify ? "-notify" : "-errno") + "-fenced-libseccomp" +
                            libseccomp_version();
    const std::string path = cache_dir + "/" + key + ".bpf";
    if (!cache_dir.empty())
        if (auto hit = load(path, key)) return *hit;
    auto bpf = compile(rs, notify);
    store(cache_dir, path, key, bpf);
    return bpf;
}

}  // namespace agentbox::seccomp
