#include "stage/gitindex.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <vector>

#include "stage/gitblob.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

namespace {

std::uint32_t be32(std::string_view d, std::size_t at) {
    return (std::uint32_t{static_cast<unsigned char>(d[at])} << 24) |
           (std::uint32_t{static_cast<unsigned char>(d[at + 1])} << 16) |
           (std::uint32_t{static_cast<unsigned char>(d[at + 2])} << 8) |
           std::uint32_t{static_cast<unsigned char>(d[at + 3])};
}

unsigned be16(std::string_view d, std::size_t at) {
    return (unsigned{static_cast<unsigned char>(d[at])} << 8) |
           unsigned{static_cast<unsigned char>(d[at + 1])};
}

// A path that leaves the work tree or enters a git directory once git writes it: a `..` or
// `.git` component (read-cache.c verify_path refuses both when git adds an entry, not when it
// reads one). Compared without case and trailing dots and spaces, as git does for filesystems
// that fold them. Up to the first NUL: that is the name the filesystem gets.
std::optional<std::string> unsafe_path(std::string path) {
    path.resize(std::min(path.size(), path.find('\0')));
    for (const auto& part : util::split(path, '/')) {
        std::string low = util::to_lower(part);
        if (low == "..") return "an entry " + util::quote(path) + " that leaves the work tree";
        while (!low.empty() && (low.back() == '.' || low.back() == ' ')) low.pop_back();
        if (low == ".git") return "an entry " + util::quote(path) + " inside a git directory";
    }
    return std::nullopt;
}

enum class Read { ok, unreadable };

// The tree object of every directory of the index, built as `git commit` builds it from the
// entries when its cache tree says nothing (cache-tree.c update_one): each directory's
// entries in index order as "<mode in octal> <name>\0<id>", a subdirectory as "40000", the
// object named by the SHA-1 of "tree <size>\0" and that text. Fed the entries in order.
class Trees {
public:
    struct Dir {
        std::string id;  // raw SHA-1 bytes
        std::uint64_t entries = 0;
        bool valid = true;  // git writes a cache tree for it (no unmerged or intent-to-add entry)
    };

    // `name` as in the index (a sparse directory's with its trailing '/'); `plain`: stage 0
    // and not intent-to-add.
    // False for a name with an empty component ("/x/y", "a//b"), which git never writes
    // (verify_path): there is no directory to open for it, and the loop below, which opens
    // one component at a time, would make no progress (the fuzzer's endless loop).
    bool add(std::string_view name, std::uint32_t mode, std::string_view id, bool plain) {
        if (name.ends_with('/')) name.remove_suffix(1);
        const std::size_t slash = name.rfind('/');
        const std::string_view dir = slash == std::string_view::npos ? "" : name.substr(0, slash);
        while (frames_.size() > 1 && !within(dir, frames_.back().path)) close();
        // Open the directories between the innermost open one and the entry's.
        while (frames_.back().path != dir) {
            const std::string& at = frames_.back().path;
            const std::size_t from = at.empty() ? 0 : at.size() + 1;
            const std::size_t end = dir.find('/', from);
            if (end == from) return false;
            frames_.push_back({std::string(dir.substr(0, end)), {}, 0, true});
        }
        for (auto& f : frames_) {
            ++f.entries;
            if (!plain) f.valid = false;
        }
        append(frames_.back().body, mode, name.substr(slash == std::string_view::npos ? 0 : slash + 1),
               id);
        return true;
    }

    // The directories, once every entry is in.
    const std::map<std::string, Dir>& finish() {
        while (!frames_.empty()) close();
        return dirs_;
    }

private:
    struct Frame {
        std::string path;  // "" = the top
        std::string body;
        std::uint64_t entries;
        bool valid;
    };

    static bool within(std::string_view dir, const std::string& path) {
        return path.empty() || dir == path ||
               (dir.size() > path.size() && dir.starts_with(path) && dir[path.size()] == '/');
    }

    static void append(std::string& body, std::uint32_t mode, std::string_view name,
                       std::string_view id) {
        char octal[12];
        char* p = octal + sizeof octal;
        do {
            *--p = static_cast<char>('0' + (mode & 7));
            mode >>= 3;
        } while (mode != 0);
        body.append(p, octal + sizeof octal);
        body.push_back(' ');
        body += name;
        body.push_back('\0');
        body += id;
    }

    void close() {
        Frame f = std::move(frames_.back());
        frames_.pop_back();
        detail::Sha1 sha;
        const std::string header = "tree " + std::to_string(f.body.size());
        sha.update(header.data(), header.size() + 1);  // with its NUL
        sha.update(f.body.data(), f.body.size());
        const std::string hex = sha.hex();
        std::string id;
        for (std::size_t i = 0; i < hex.size(); i += 2)
            id.push_back(static_cast<char>(std::strtoul(hex.substr(i, 2).c_str(), nullptr, 16)));
        if (!frames_.empty()) {
            const std::size_t slash = f.path.rfind('/');
            append(frames_.back().body, 040000,
                   slash == std::string::npos ? f.path : f.path.substr(slash + 1), id);
        }
        dirs_[f.path] = {std::move(id), f.entries, f.valid};
    }

    std::vector<Frame> frames_{{"", {}, 0, true}};
    std::map<std::string, Dir> dirs_;
};

// Whether the cache tree extension (TREE, `data` its payload) records for some directory a
// tree other than its entries make: `git commit` takes a directory's recorded tree as it is
// (cache-tree.c update_one returns at once for a valid one), so the next commit would record
// content that neither the index's entries nor `git diff --cached` show. Read as
// cache-tree.c read_one reads it; one git cannot read, git drops whole (the cache tree is then
// rebuilt from the entries): nothing to judge. `trees`: nullptr where they cannot be computed
// here (SHA-256 ids, a split index whose entries are partly in another file, entries out of
// order): then any recorded tree needs approval.
std::optional<std::string> cache_tree_hazard(std::string_view data, std::size_t hash_size,
                                             const std::map<std::string, Trees::Dir>* trees) {
    std::optional<std::string> hazard;
    std::size_t at = 0;
    // Returns false where git would stop reading the extension.
    auto node = [&](auto& self, const std::string& parent, bool top, int depth) -> bool {
        if (depth > 4096) return false;
        const std::size_t nul = data.find('\0', at);
        if (nul == std::string_view::npos) return false;
        const std::string name(data.substr(at, nul - at));
        const std::string path = top ? "" : parent.empty() ? name : parent + "/" + name;
        at = nul + 1;
        const std::size_t eol = data.find('\n', at);
        if (eol == std::string_view::npos) return false;
        // Two decimal numbers as strtol reads them, then whatever precedes the newline.
        const std::string counts(data.substr(at, eol - at));
        char* end = nullptr;
        const long entries = std::strtol(counts.c_str(), &end, 10);
        if (end == counts.c_str()) return false;
        const char* second = end;
        const long subtrees = std::strtol(second, &end, 10);
        if (end == second || subtrees < 0) return false;
        at = eol + 1;
        if (entries >= 0) {
            if (data.size() - at < hash_size) return false;
            const std::string_view id = data.substr(at, hash_size);
            at += hash_size;
            if (!hazard && trees == nullptr) {
                hazard = "a cache tree (TREE) recording trees that agentbox cannot check "
                         "against the entries (git commit takes them as they are)";
            } else if (!hazard) {
                const auto it = trees->find(path);
                if (it == trees->end() || !it->second.valid || it->second.id != id ||
                    it->second.entries != static_cast<std::uint64_t>(entries))
                    hazard = "a cache tree (TREE) recording for " +
                             util::quote(path.empty() ? "." : path) +
                             " another tree than its entries make (git commit would record it, "
                             "unseen by git diff --cached)";
            }
        }
        for (long i = 0; i < subtrees; ++i)
            if (!self(self, path, false, depth + 1)) return false;
        return true;
    };
    node(node, "", true, 0);
    return hazard;
}

constexpr std::size_t kEoie = 8 + 24;  // "EOIE", its size, an offset and a SHA-1

bool has_eoie(std::string_view d, std::size_t end) {
    return end >= 12 + kEoie && d.substr(end - kEoie, 4) == "EOIE" && be32(d, end - kEoie + 4) == 24;
}

// Whether git 2.39 with index.threads set (or GIT_TEST_INDEX_THREADS) would load other entries
// than those read in order from the header: its threaded loader takes them from the blocks of
// the index entry offset table (IEOT), found through the end-of-index-entries extension
// (EOIE) that it locates from the file's end, and each block's first name is read without the
// previous one (read-cache.c: read_eoie_extension, read_ieot_extension,
// load_cache_entries_threaded). `starts` are the entries' offsets in order, `stripped`
// whether each (v4) takes part of the previous name, and `end` where the checksum starts. The
// EOIE's own hash is not checked: an index it would fail for is held to the same as one it
// passes.
bool threaded_differs(std::string_view d, std::size_t end, const std::vector<std::size_t>& starts,
                      const std::vector<bool>& stripped, bool v4) {
    if (!has_eoie(d, end)) return false;
    const std::size_t eoie = end - kEoie;
    std::size_t at = be32(d, eoie + 8);
    if (at < 12 || at >= eoie) return false;
    // The IEOT as git looks for it: extension headers from there, up to the checksum.
    std::size_t table = 0, size = 0;
    while (end >= 8 && at <= end - 8) {
        const std::size_t n = be32(d, at + 4);
        if (d.substr(at, 4) == "IEOT") {
            table = at + 8;
            size = n;
            break;
        }
        at += 8 + n;
    }
    if (table == 0 || size < 4) return false;
    if (table + size > end) return true;  // git reads the table past the extensions
    if (be32(d, table) != 1) return false;
    const std::size_t blocks = (size - 4) / 8;
    if (blocks == 0) return false;
    std::size_t entry = 0;
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t offset = be32(d, table + 4 + 8 * b);
        const std::size_t nr = be32(d, table + 8 + 8 * b);
        if (entry >= starts.size() || starts[entry] != offset) return true;
        if (v4 && stripped[entry]) return true;
        if (nr > starts.size() - entry) return true;
        entry += nr;
    }
    return entry != starts.size();
}

// The entries of `d` read with object hashes of `hash_size` bytes, as git reads them; the first
// unsafe name found goes to `hazard`. `unreadable` where git would stop with an error.
Read read_entries(std::string_view d, std::size_t hash_size, std::optional<std::string>& hazard,
                  std::vector<IndexEntry>* entries = nullptr) {
    constexpr std::size_t kHeader = 12, kStat = 40;
    constexpr unsigned kNameMask = 0x0fff, kStage = 0x3000, kExtended = 0x4000,
                       kKnownExtended = 0x6000, kIntentToAdd = 0x2000;
    if (d.size() < kHeader + hash_size || d.substr(0, 4) != "DIRC") return Read::unreadable;
    const std::uint32_t version = be32(d, 4);
    if (version < 2 || version > 4) return Read::unreadable;
    const std::uint32_t count = be32(d, 8);
    const std::size_t end = d.size() - hash_size;  // the trailing checksum
    std::size_t at = kHeader;
    std::string previous;
    // Kept only where git may load the entries otherwise (threaded_differs).
    const bool eoie = has_eoie(d, end);
    std::vector<std::size_t> starts;
    std::vector<bool> stripped;
    Trees trees;
    bool ordered = true;  // as git sorts them (strcmp): it refuses an index that is not
    for (std::uint32_t i = 0; i < count; ++i) {
        if (eoie) {
            starts.push_back(at);
            stripped.push_back(false);
        }
        std::size_t name_at = at + kStat + hash_size + 2;
        if (name_at > end) return Read::unreadable;
        const unsigned flags = be16(d, name_at - 2);
        bool plain = (flags & kStage) == 0;
        if (flags & kExtended) {
            if (name_at + 2 > end || (be16(d, name_at) & ~kKnownExtended) != 0)
                return Read::unreadable;
            if (be16(d, name_at) & kIntentToAdd) plain = false;
            name_at += 2;
        }
        std::size_t len = flags & kNameMask;
        std::string name;
        std::size_t next = 0;
        if (version == 4) {
            // The name is the previous one less `strip` bytes, then a NUL-terminated suffix.
            std::size_t p = name_at;
            if (p >= end) return Read::unreadable;
            unsigned char c = static_cast<unsigned char>(d[p++]);
            std::uint64_t strip = c & 127;
            while (c & 128) {
                if (p >= end || strip > (std::uint64_t{1} << 50)) return Read::unreadable;
                c = static_cast<unsigned char>(d[p++]);
                strip = ((strip + 1) << 7) + (c & 127);
            }
            if (strip > previous.size()) return Read::unreadable;
            if (eoie) stripped.back() = strip != 0;
            const std::size_t keep = previous.size() - strip;
            const std::size_t nul = d.find('\0', p);
            if (nul == std::string_view::npos || nul >= end) return Read::unreadable;
            if (len == kNameMask) len = (nul - p) + keep;
            if (len < keep || p + (len - keep) + 1 > end) return Read::unreadable;
            name = previous.substr(0, keep) + std::string(d.substr(p, len - keep));
            next = p + (len - keep) + 1;
        } else {
            if (len == kNameMask) {
                const std::size_t nul = d.find('\0', name_at);
                if (nul == std::string_view::npos || nul >= end) return Read::unreadable;
                len = nul - name_at;
            }
            // Padded with 1 to 8 NULs to a multiple of 8 bytes from the entry's start.
            const std::size_t size = ((name_at - at) + len + 8) & ~std::size_t{7};
            if (name_at + len > end || at + size > end) return Read::unreadable;
            name = std::string(d.substr(name_at, len));
            next = at + size;
        }
        if (!hazard) hazard = unsafe_path(name);
        if (i > 0 && name < previous) ordered = false;
        if (hash_size == 20 && !trees.add(name, be32(d, at + 24), d.substr(at + kStat, 20), plain))
            return Read::unreadable;
        if (entries != nullptr)
            entries->push_back({name.substr(0, name.find('\0')), std::string(d.substr(at + kStat, hash_size)),
                                be32(d, at + 24)});
        previous = std::move(name);
        at = next;
    }
    // Extensions: a 4-byte signature and a 4-byte length each, up to the checksum.
    std::string_view cache_tree;
    bool split = false;  // a split index: the other entries are in a shared index file
    while (at + 8 <= end) {
        const std::uint32_t n = be32(d, at + 4);
        if (n > end - at - 8) return Read::unreadable;
        if (d.substr(at, 4) == "TREE") cache_tree = d.substr(at + 8, n);
        if (d.substr(at, 4) == "link") split = true;
        at += 8 + n;
    }
    if (!hazard && !cache_tree.empty()) {
        const auto& dirs = trees.finish();
        hazard = cache_tree_hazard(cache_tree, hash_size,
                                   hash_size == 20 && !split && ordered ? &dirs : nullptr);
    }
    if (!hazard && threaded_differs(d, end, starts, stripped, version == 4))
        hazard = "an entry offset table (IEOT) that gives git, loading it in threads, other "
                 "entries than those listed";
    return Read::ok;
}

}  // namespace

std::optional<std::vector<IndexEntry>> git_index_entries(std::string_view data) {
    for (const std::size_t hash_size : std::array<std::size_t, 2>{20, 32}) {
        std::optional<std::string> hazard;
        std::vector<IndexEntry> out;
        if (read_entries(data, hash_size, hazard, &out) == Read::ok) return out;
    }
    return std::nullopt;
}

std::optional<std::string> git_index_hazard(std::string_view data) {
    bool readable = false;
    for (const std::size_t hash_size : std::array<std::size_t, 2>{20, 32}) {
        std::optional<std::string> hazard;
        if (read_entries(data, hash_size, hazard) != Read::ok) continue;
        readable = true;
        if (hazard) return "the index holds " + *hazard + " (git checkout would write it there)";
    }
    if (!readable) return std::string("git cannot read it as an index, and agentbox cannot check "
                                      "what it would make git write");
    return std::nullopt;
}

}  // namespace agentbox::stage
