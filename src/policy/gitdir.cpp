#include "policy/gitdir.hpp"

#include <array>
#include <string_view>

#include "util/strings.hpp"

namespace agentbox::policy {

namespace {

bool is_hex(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// Files at the top of a git directory that git writes as it works and reads only as data:
// the current branch and the other ref files, the index, messages being edited, bisect
// state. Not here, and so asked about: config, hooks/, info/ (exclude and attributes pick
// filter and diff drivers), commondir and gitdir (move git's config and hooks elsewhere),
// worktrees/ and modules/ (other repositories' config and hooks), refs/replace/ (swaps
// the objects that other refs name), rebase-merge/,
// rebase-apply/ and sequencer/ (todo lists run `exec` lines when the user continues),
// objects/info/alternates (other object stores), commit-graphs and the pack files that index
// other packs (objects git would read unchecked), and anything git adds later.
constexpr std::array<std::string_view, 25> kTopFiles = {
    "HEAD",          "ORIG_HEAD",      "FETCH_HEAD",        "MERGE_HEAD",
    "MERGE_MSG",     "MERGE_MODE",     "CHERRY_PICK_HEAD",  "REVERT_HEAD",
    "REBASE_HEAD",   "AUTO_MERGE",     "COMMIT_EDITMSG",    "TAG_EDITMSG",
    "SQUASH_MSG",    "index",          "packed-refs",       "shallow",
    "BISECT_LOG",    "BISECT_START",   "BISECT_TERMS",      "BISECT_NAMES",
    "BISECT_HEAD",   "BISECT_EXPECTED_REV", "BISECT_ANCESTORS_OK", "BISECT_FIRST_PARENT",
    // Shown by gitweb and `git instaweb` as text; nothing runs it.
    "description",
};

}  // namespace

bool git_writes_in_ordinary_work(const std::string& inside) {
    // The directory itself is not: a `.git` file or symlink redirects git wholesale, and
    // deleting or replacing the directory is not ordinary work. (Creating one empty is
    // allowed by the caller, as any new directory is: its entries are judged one by one.)
    if (inside.empty()) return false;
    for (const auto& f : kTopFiles)
        if (inside == f) return true;
    const auto parts = util::split(inside, '/');
    const std::string_view top = parts.front();
    // A replace ref (refs/replace/<id>) is no name of a commit but an instruction: every git
    // command reads its object wherever <id> is named, so HEAD's own commit can gain a file
    // that the next `git reset --hard` writes, with no branch moving. Only `git replace`
    // writes one; it asks. (The same ref as a packed-refs line: stage/select.cpp.)
    if (top == "refs" && parts.size() > 1 && util::to_lower(parts[1]) == "replace") return false;
    // Other refs and their logs are names and hashes; git never runs them.
    if (top == "refs" || top == "logs") return true;
    if (top != "objects") return false;
    if (parts.size() == 1) return true;
    const std::string_view sub = parts[1];
    // Loose objects: objects/ab/cdef...; packs with their indexes, bitmaps and keep files.
    if (sub.size() == 2 && is_hex(sub)) return parts.size() <= 3;
    if (sub == "pack") {
        // A pack with its index, its reverse index and its keep and promisor marks; the
        // commit checks that the index lists what the pack holds (stage/select.cpp, note
        // 93). Not the files that say where an object lies or what reaches what without
        // being checked against the objects -- multi-pack-index, bitmaps, cruft mtimes --
        // nor anything git adds later.
        if (parts.size() == 2) return true;
        if (parts.size() != 3) return false;
        const std::string_view f = parts[2];
        for (const std::string_view ext : {".pack", ".idx", ".rev", ".keep", ".promisor"})
            if (f.starts_with("pack-") && f.size() > 5 + ext.size() && f.ends_with(ext))
                return true;
        return false;
    }
    if (sub == "info") {
        // objects/info/alternates and http-alternates point git at other object stores;
        // a commit-graph gives each commit's tree and parents in place of the commit's own,
        // and git log, status and merges read them from it unchecked (note 93).
        if (parts.size() == 2) return true;
        return parts[2] == "packs" && parts.size() == 3;
    }
    return false;
}

std::optional<std::string> git_dir_protection(const std::string& rel,
                                              const std::vector<std::string>& git_dirs,
                                              bool symlink, bool rewrite) {
    auto judge_inside = [&](const std::string& dir,
                            const std::string& inside) -> std::optional<std::string> {
        const std::string where = util::quote(dir) + " is a git directory";
        if (symlink)
            return where + ": git writes no symlinks in it, and one there can point its config, "
                           "hooks or objects elsewhere";
        if (!git_writes_in_ordinary_work(inside))
            return where + ", and git does not write " + util::quote(inside) +
                   " in ordinary work";
        // Objects and packs are written once under a name git derives (the content's hash)
        // and never rewritten: a changed one changes what the next checkout writes, with no
        // diff of the files themselves to review.
        if (rewrite && (inside.starts_with("objects/pack/") ||
                        (inside.size() > 10 && inside.starts_with("objects/") && inside[10] == '/')))
            return where + ", and git never rewrites the stored object " + util::quote(inside);
        return std::nullopt;
    };
    // Every `.git` component: a nested repository's hooks run as surely as the top one's.
    // In any case: on a case-insensitive project `.GIT/hooks/x` lands in `.git/hooks/x`
    // (git itself refuses such paths in trees there, core.protectHFS and protectNTFS).
    const std::string lower = util::to_lower(rel);
    std::size_t from = 0;
    for (;;) {
        const std::size_t at = lower.find(".git", from);
        if (at == std::string::npos) break;
        const std::size_t end = at + 4;
        const bool starts = at == 0 || rel[at - 1] == '/';
        const bool ends = end == rel.size() || rel[end] == '/';
        if (starts && ends) {
            const std::string dir = rel.substr(0, end);
            const std::string inside = end == rel.size() ? "" : rel.substr(end + 1);
            if (auto why = judge_inside(dir, inside)) return why;
        }
        from = at + 1;
    }
    for (const auto& d : git_dirs) {
        if (!util::path_within(rel, d) && !d.empty()) continue;
        const std::string inside = d.empty() ? rel : rel == d ? "" : rel.substr(d.size() + 1);
        if (auto why = judge_inside(d.empty() ? "." : d, inside)) return why;
    }
    return std::nullopt;
}

}  // namespace agentbox::policy
