// Diff renderings of a change set. libgit2 is used only here, for the hunks of text diffs:
// its buffer API cannot express file modes or our paths' quoting, so the headers are written
// here the way git writes them.
#include "stage/patch.hpp"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "stage/fsops.hpp"
#include "stage/gitblob.hpp"
#include "sys/lazylib.hpp"
#include "stage/tree_read.hpp"
#include "sys/error.hpp"
#include "util/escape.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"

namespace agentbox::stage {

namespace {
sys::LazyLib& git2() {
    static sys::LazyLib lib(AGENTBOX_LIBGIT2_SONAME);
    return lib;
}
}  // namespace

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::added: return "added";
        case Kind::modified: return "modified";
        case Kind::deleted: return "deleted";
        case Kind::replaced: return "replaced";
        case Kind::mode: return "mode";
        case Kind::type: return "type";
    }
    return "unknown";
}

char kind_letter(Kind k) {
    switch (k) {
        case Kind::added: return 'A';
        case Kind::modified: return 'M';
        case Kind::deleted: return 'D';
        case Kind::replaced: return 'R';
        case Kind::mode: return 'M';
        case Kind::type: return 'T';
    }
    return '?';
}

// ---------------------------------------------------------------------------------------------
// Quoting and escaping

std::string git_quote(std::string_view path) {
    // git's quote_c_style with core.quotePath on (its default).
    const bool needs = std::any_of(path.begin(), path.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
    });
    if (!needs) return std::string(path);
    std::string out = "\"";
    for (const char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '\a': out += "\\a"; continue;
            case '\b': out += "\\b"; continue;
            case '\t': out += "\\t"; continue;
            case '\n': out += "\\n"; continue;
            case '\v': out += "\\v"; continue;
            case '\f': out += "\\f"; continue;
            case '\r': out += "\\r"; continue;
            case '"': out += "\\\""; continue;
            case '\\': out += "\\\\"; continue;
            default: break;
        }
        if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\%03o", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

namespace {

// Display width of already escaped text: one column per code point (good enough to align
// --stat columns; East Asian wide characters are rare in paths).
std::size_t display_width(std::string_view s) {
    std::size_t n = 0;
    for (const char ch : s)
        if ((static_cast<unsigned char>(ch) & 0xc0) != 0x80) ++n;
    return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The files of a patch

namespace {

using detail::Tree;

constexpr std::size_t binary_probe = 8000;  // git's FIRST_FEW_BYTES

bool representable(mode_t m) { return S_ISREG(m) || S_ISLNK(m); }

// The mode git records: symlink, or a regular file executable or not by its owner.
unsigned git_mode(mode_t m) {
    if (S_ISLNK(m)) return 0120000;
    return (m & S_IXUSR) ? 0100755 : 0100644;
}

std::string octal(unsigned m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06o", m);
    return buf;
}

// One file-level entry of the patch: absent on one side when its mode is 0.
struct Item {
    std::string path;
    mode_t old_mode = 0;
    mode_t new_mode = 0;
    bool same_content = false;  // a `mode` change: no need to read either side
    std::string hash;           // XXH3-128 of the new content, when known
};

// Calls `each` for every file-level entry of the patch, in order. Only the deleted-path set is
// kept, not the items: memory does not grow with what each holds.
template <class F>
void for_each_item(const std::vector<Change>& changes, const Tree& project, F each) {
    // A path can be reached twice (a file inside a deleted directory that is also listed on its
    // own): emit its deletion once.
    std::set<std::string> deleted;
    auto deletion = [&](const std::string& path, mode_t mode) {
        if (mode == 0) {
            struct ::stat st {};
            if (!project.lstat(path, st)) return;
            mode = st.st_mode;
        }
        if (S_ISDIR(mode)) {
            for (const auto& [p, m] : project.walk(path))
                if (representable(m) && deleted.insert(p).second) each(Item{p, m, 0, false, {}});
        } else if (representable(mode) && deleted.insert(path).second) {
            each(Item{path, mode, 0, false, {}});
        }
    };
    for (const Change& c : changes) {
        if (!c.refused.empty()) continue;  // never committed: not part of what would change
        switch (c.kind) {
            case Kind::added:
                // Directories come through their entries, which follow as their own changes.
                if (representable(c.new_mode)) each(Item{c.path, 0, c.new_mode, false, c.hash});
                break;
            case Kind::deleted: deletion(c.path, c.old_mode); break;
            case Kind::modified:
            case Kind::mode:
                if (representable(c.old_mode) && representable(c.new_mode) &&
                    (c.old_mode & S_IFMT) == (c.new_mode & S_IFMT))
                    each(Item{c.path, c.old_mode, c.new_mode, c.kind == Kind::mode, c.hash});
                break;
            case Kind::type:
                // As git: the old path goes, then the new one comes.
                deletion(c.path, c.old_mode);
                if (representable(c.new_mode)) each(Item{c.path, 0, c.new_mode, false, c.hash});
                break;
            case Kind::replaced:
                // The hidden project entries come as explicit `deleted` changes.
                break;
        }
    }
}

// One side of an item: the first 8000 bytes decide binary; the rest is read only for a text
// diff (bounded by the options' limits) or streamed, a block at a time, for blob ids and
// binary patch data.
struct Side {
    bool present = false;
    std::string data;        // the head, or everything once `whole`
    std::uint64_t size = 0;  // from fstat; what is hashed and encoded
    bool whole = true;
    sys::unique_fd fd;  // open regular file while not whole
    std::string shown;

    void load_head(const Tree& t, const std::string& path, mode_t mode) {
        present = mode != 0;
        if (!present) return;
        shown = t.shown(path);
        if (S_ISLNK(mode)) {
            data = t.read_link(path);
            size = data.size();
            return;
        }
        fd = t.open_file(path);
        struct ::stat st {};
        if (::fstat(fd.get(), &st) != 0) throw sys::SysError("stat", shown, errno);
        size = static_cast<std::uint64_t>(st.st_size);
        data = detail::read_fd(fd.get(), shown, std::min<std::uint64_t>(size, binary_probe));
        whole = data.size() >= size;
        if (whole) {
            size = data.size();  // shrank since fstat: what was read is the content
            fd.reset();
        }
    }
    // The rest, when at most `limit` bytes in all. False (nothing read) when larger.
    bool load_rest(std::uint64_t limit) {
        if (whole) return true;
        if (size > limit) return false;
        data += detail::read_fd(fd.get(), shown, size - data.size());
        size = data.size();
        whole = true;
        fd.reset();
        return true;
    }
    bool binary() const {
        return std::memchr(data.data(), '\0', std::min<std::size_t>(data.size(), binary_probe)) !=
               nullptr;
    }
    std::size_t lines() const {
        return static_cast<std::size_t>(std::count(data.begin(), data.end(), '\n'));
    }
    std::string id() const {
        if (!present) return std::string(40, '0');
        return whole ? detail::blob_id(data) : detail::blob_id(fd.get(), size, shown);
    }
    void literal(const Sink& out) const {
        if (!present) detail::literal(-1, {}, 0, shown, out);
        else if (whole) detail::literal(-1, data, data.size(), shown, out);
        else detail::literal(fd.get(), {}, size, shown, out);
    }
};

void libgit2_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (AGENTBOX_LAZY(git2(), git_libgit2_init)() < 0) throw std::runtime_error("libgit2 initialisation failed");
    });
}

struct PatchFree {
    void operator()(git_patch* p) const { AGENTBOX_LAZY(git2(), git_patch_free)(p); }
};
using PatchPtr = std::unique_ptr<git_patch, PatchFree>;

[[noreturn]] void git_fail(const std::string& what, const std::string& path) {
    const git_error* e = AGENTBOX_LAZY(git2(), git_error_last)();
    throw std::runtime_error(what + " " + util::quote(path) + ": " +
                             (e != nullptr && e->message != nullptr ? e->message : "libgit2 error"));
}

PatchPtr make_patch(const Side& a, const Side& b, const std::string& path, int context) {
    libgit2_init();
    git_diff_options o = GIT_DIFF_OPTIONS_INIT;
    o.context_lines = static_cast<std::uint32_t>(std::max(context, 0));
    o.interhunk_lines = 0;
    o.flags = GIT_DIFF_FORCE_TEXT;
    git_patch* p = nullptr;
    if (AGENTBOX_LAZY(git2(), git_patch_from_buffers)(&p, a.present ? a.data.data() : nullptr, a.data.size(),
                               path.c_str(), b.present ? b.data.data() : nullptr, b.data.size(),
                               path.c_str(), &o) < 0)
        git_fail("diff", path);
    return PatchPtr(p);
}

// What the renderings need about one item.
struct Rendered {
    bool shown = false;   // something to show for it
    bool binary = false;  // binary or large: counted in bytes
    std::size_t added = 0, deleted = 0;  // lines, or bytes (new, old) for binary
};

// Renders one item into `out`, or only counts it when `out` is null (--stat).
Rendered render(const Item& it, const Tree& project, const Tree& upper, const PatchOptions& opts,
                const Sink* out) {
    Rendered r;
    const bool mode_changed =
        it.old_mode != 0 && it.new_mode != 0 && git_mode(it.old_mode) != git_mode(it.new_mode);
    if (it.same_content && !mode_changed) return r;  // nothing git can show

    const std::string a = git_quote("a/" + it.path);
    const std::string b = git_quote("b/" + it.path);
    std::string head = "diff --git " + a + " " + b + "\n";
    if (it.old_mode == 0) head += "new file mode " + octal(git_mode(it.new_mode)) + "\n";
    else if (it.new_mode == 0) head += "deleted file mode " + octal(git_mode(it.old_mode)) + "\n";
    else if (mode_changed)
        head += "old mode " + octal(git_mode(it.old_mode)) + "\nnew mode " +
                octal(git_mode(it.new_mode)) + "\n";
    if (it.same_content) {
        r.shown = true;
        if (out != nullptr) (*out)(head);
        return r;
    }

    Side o, n;
    o.load_head(project, it.path, it.old_mode);
    n.load_head(upper, it.path, it.new_mode);
    const std::string lbl_a = o.present ? a : "/dev/null";
    const std::string lbl_b = n.present ? b : "/dev/null";

    const bool binary = o.binary() || n.binary();
    // A binary side is never read whole; a text side only within the limits.
    const bool large = !binary && (!o.load_rest(opts.text_bytes) || !n.load_rest(opts.text_bytes) ||
                                   o.lines() > opts.text_lines || n.lines() > opts.text_lines);
    if (binary || large) {
        r.shown = true;
        r.binary = true;
        r.deleted = o.size;
        r.added = n.size;
        if (out == nullptr) return r;
        if (opts.binary) {
            // As `git diff --full-index --binary`: the mode on the index line when unchanged.
            const bool same_mode = o.present && n.present && !mode_changed;
            (*out)(head + "index " + o.id() + ".." + n.id() +
                   (same_mode ? " " + octal(git_mode(it.new_mode)) : "") + "\nGIT binary patch\n");
            n.literal(*out);  // forward: the new content
            o.literal(*out);  // reverse: the old one, for `git apply -R`
        } else if (binary) {
            (*out)(head + "Binary files " + lbl_a + " and " + lbl_b + " differ\n");
        } else {
            (*out)(head + "Large files " + lbl_a + " and " + lbl_b + " differ: " +
                   std::to_string(o.size) + " -> " + std::to_string(n.size) + " bytes" +
                   (it.hash.empty() ? "" : ", new content XXH3-128 " + it.hash) + "\n");
        }
        return r;
    }

    const PatchPtr p = make_patch(o, n, it.path, opts.context);
    std::size_t ctx = 0;
    if (AGENTBOX_LAZY(git2(), git_patch_line_stats)(&ctx, &r.added, &r.deleted, p.get()) < 0) git_fail("diff", it.path);
    const std::size_t hunks = AGENTBOX_LAZY(git2(), git_patch_num_hunks)(p.get());
    if (hunks == 0 && it.old_mode != 0 && it.new_mode != 0 && !mode_changed) return r;
    r.shown = true;
    if (out == nullptr) return r;
    std::string text = head;
    if (hunks != 0) {
        // git ends a label containing a space with a tab, so that the name's end is unambiguous.
        text += "--- " + lbl_a + (lbl_a.find(' ') != std::string::npos ? "\t" : "") + "\n";
        text += "+++ " + lbl_b + (lbl_b.find(' ') != std::string::npos ? "\t" : "") + "\n";
    }
    for (std::size_t h = 0; h < hunks; ++h) {
        const git_diff_hunk* hunk = nullptr;
        std::size_t lines = 0;
        if (AGENTBOX_LAZY(git2(), git_patch_get_hunk)(&hunk, &lines, p.get(), h) < 0) git_fail("diff", it.path);
        text.append(hunk->header, hunk->header_len);
        for (std::size_t i = 0; i < lines; ++i) {
            const git_diff_line* l = nullptr;
            if (AGENTBOX_LAZY(git2(), git_patch_get_line_in_hunk)(&l, p.get(), h, i) < 0) git_fail("diff", it.path);
            switch (l->origin) {
                case GIT_DIFF_LINE_CONTEXT:
                case GIT_DIFF_LINE_ADDITION:
                case GIT_DIFF_LINE_DELETION:
                    text += static_cast<char>(l->origin);
                    text.append(l->content, l->content_len);
                    break;
                default:  // the "\ No newline at end of file" markers, newline included
                    text.append(l->content, l->content_len);
                    break;
            }
        }
    }
    (*out)(text);
    return r;
}

}  // namespace

void patch(const std::vector<Change>& changes, const std::string& upper,
           const std::string& project, const PatchOptions& opts, const Sink& out) {
    const Tree up(upper), proj(project);
    for_each_item(changes, proj, [&](const Item& it) { render(it, proj, up, opts, &out); });
}

std::string patch(const std::vector<Change>& changes, const std::string& upper,
                  const std::string& project, const PatchOptions& opts) {
    std::string text;
    patch(changes, upper, project, opts, [&](std::string_view piece) { text += piece; });
    return text;
}

std::vector<Change> with_deleted_entries(const std::vector<Change>& changes,
                                         const std::string& project) {
    const auto dir_gone = [](const Change& c) {
        return (c.kind == Kind::deleted || c.kind == Kind::type) && S_ISDIR(c.old_mode);
    };
    // Most change sets delete no directory: then there is nothing to add, and neither the
    // project nor a set of every path is needed.
    if (std::none_of(changes.begin(), changes.end(), dir_gone)) return changes;
    const Tree proj(project);
    std::set<std::string> listed;
    for (const Change& c : changes) listed.insert(c.path);
    std::vector<Change> out;
    out.reserve(changes.size());
    for (const Change& c : changes) {
        out.push_back(c);
        if (!dir_gone(c)) continue;
        for (const auto& [p, m] : proj.walk(c.path, /*dirs=*/true)) {
            if (!listed.insert(p).second) continue;
            Change d;
            d.path = p;
            d.kind = Kind::deleted;
            d.old_mode = m;
            out.push_back(std::move(d));
        }
    }
    return out;
}

mode_t landing_mode(mode_t staged, mode_t old, mode_t umask) {
    if (S_ISDIR(staged)) return S_ISDIR(old) ? (old & 07777) : (0777 & ~umask);
    if (!S_ISREG(staged)) return staged & 0777;
    const bool exec = (staged & S_IXUSR) != 0;
    if (S_ISREG(old) && ((old & S_IXUSR) != 0) == exec) return old & 0777;
    return (exec ? 0777 : 0666) & ~umask;
}

mode_t process_umask() {
    // /proc/self/status says it without the umask(2) set-and-restore, which would race with
    // any other thread creating a file meanwhile.
    if (FILE* f = std::fopen("/proc/self/status", "re")) {
        char line[256];
        unsigned m = 0;
        bool found = false;
        while (std::fgets(line, sizeof line, f) != nullptr)
            if (std::sscanf(line, "Umask: %o", &m) == 1) {
                found = true;
                break;
            }
        std::fclose(f);
        if (found) return static_cast<mode_t>(m & 0777);
    }
    const mode_t m = ::umask(022);
    ::umask(m);
    return m;
}

bool loose_mode(mode_t m) { return (m & (S_IWGRP | S_IWOTH)) != 0 && !S_ISLNK(m); }

// ---------------------------------------------------------------------------------------------
// --stat, following git's show_stats (diff.c) so that the two read alike.

namespace {

int decimal_width(std::size_t n) {
    int w = 1;
    for (; n >= 10; n /= 10) ++w;
    return w;
}

// At least one column for any change: scale as if one column narrower, then add one.
std::size_t scale_linear(std::size_t it, std::size_t width, std::size_t max_change) {
    if (it == 0) return 0;
    return 1 + (it * (width - 1) / max_change);
}

}  // namespace

std::string stat(const std::vector<Change>& changes, const std::string& upper,
                 const std::string& project, int width) {
    const Tree up(upper), proj(project);
    struct Line {
        std::string name;
        Rendered r;
    };
    std::vector<Line> lines;
    std::string last_path;
    for_each_item(changes, proj, [&](const Item& it) {
        Rendered r = render(it, proj, up, PatchOptions{}, nullptr);
        if (!r.shown) return;
        // A type change is two patches of one path but one line, as in git's --stat.
        if (!lines.empty() && it.path == last_path) {
            Rendered& prev = lines.back().r;
            prev.binary = prev.binary || r.binary;
            prev.added += r.added;
            prev.deleted += r.deleted;
            return;
        }
        last_path = it.path;
        lines.push_back({util::escape_for_terminal(it.path), std::move(r)});
    });
    if (lines.empty()) return {};

    std::size_t max_change = 0, max_len = 0;
    int number_width = 0, bin_width = 0;
    for (const auto& l : lines) {
        max_len = std::max(max_len, display_width(l.name));
        if (l.r.binary) {
            // "Bin XXX -> YYY bytes"
            bin_width = std::max(bin_width, 14 + decimal_width(l.r.added) + decimal_width(l.r.deleted));
            number_width = 3;  // change counts align with "Bin"
            continue;
        }
        max_change = std::max(max_change, l.r.added + l.r.deleted);
    }
    number_width = std::max(number_width, decimal_width(max_change));
    // Guarantee 6 columns for the graph and 10 for the name.
    width = std::max(width, 16 + 6 + number_width);
    long graph_width = static_cast<long>(max_change) + 4 > bin_width
                           ? static_cast<long>(max_change)
                           : bin_width - 4;
    long name_width = static_cast<long>(max_len);
    if (name_width + number_width + 6 + graph_width > width) {
        if (graph_width > width * 3 / 8 - number_width - 6) {
            graph_width = width * 3 / 8 - number_width - 6;
            if (graph_width < 6) graph_width = 6;
        }
        if (name_width > width - number_width - 6 - graph_width)
            name_width = width - number_width - 6 - graph_width;
        else
            graph_width = width - number_width - 6 - name_width;
    }

    std::string out;
    std::size_t adds = 0, dels = 0;
    char buf[64];
    for (const auto& l : lines) {
        // Too long a name keeps its end, "..."-prefixed, cut at a '/' when there is one.
        std::string name = l.name;
        std::string prefix;
        long len = name_width;
        long name_len = static_cast<long>(display_width(name));
        if (name_width < name_len) {
            prefix = "...";
            len = std::max(0L, len - 3);
            std::size_t pos = 0;
            while (name_len > len) {
                ++pos;
                while (pos < name.size() && (static_cast<unsigned char>(name[pos]) & 0xc0) == 0x80)
                    ++pos;
                --name_len;
            }
            name = name.substr(pos);
            if (const auto slash = name.find('/'); slash != std::string::npos)
                name = name.substr(slash);
        }
        const long padding = std::max(0L, len - static_cast<long>(display_width(name)));
        out += " " + prefix + name + std::string(static_cast<std::size_t>(padding), ' ') + " | ";
        if (l.r.binary) {
            std::snprintf(buf, sizeof buf, "%*s", number_width, "Bin");
            out += buf;
            if (l.r.added != 0 || l.r.deleted != 0)
                out += " " + std::to_string(l.r.deleted) + " -> " + std::to_string(l.r.added) +
                       " bytes";
            out += "\n";
            continue;
        }
        adds += l.r.added;
        dels += l.r.deleted;
        std::size_t add = l.r.added, del = l.r.deleted;
        const auto gw = static_cast<std::size_t>(graph_width);
        if (gw <= max_change) {
            std::size_t total = scale_linear(add + del, gw, max_change);
            if (total < 2 && add != 0 && del != 0) total = 2;
            if (add < del) {
                add = scale_linear(add, gw, max_change);
                del = total - add;
            } else {
                del = scale_linear(del, gw, max_change);
                add = total - del;
            }
        }
        std::snprintf(buf, sizeof buf, "%*zu", number_width, l.r.added + l.r.deleted);
        out += buf;
        if (l.r.added + l.r.deleted != 0) out += " ";
        out += std::string(add, '+') + std::string(del, '-') + "\n";
    }
    const std::size_t files = lines.size();
    out += " " + std::to_string(files) + (files == 1 ? " file changed" : " files changed");
    if (adds != 0 || dels == 0)
        out += ", " + std::to_string(adds) + (adds == 1 ? " insertion(+)" : " insertions(+)");
    if (dels != 0 || adds == 0)
        out += ", " + std::to_string(dels) + (dels == 1 ? " deletion(-)" : " deletions(-)");
    return out + "\n";
}

// ---------------------------------------------------------------------------------------------

std::string name_status(const std::vector<Change>& changes) {
    // The umask only says where a loose mode lands: read (/proc/self/status, 4 calls and a
    // scan) for the first change that has one, not for every listing.
    mode_t umask = 0;
    bool have_umask = false;
    std::string out;
    for (const Change& c : changes) {
        const mode_t m = c.new_mode != 0 ? c.new_mode : c.old_mode;
        out += kind_letter(c.kind);
        out += '\t';
        out += util::escape_for_terminal(c.path);
        if (S_ISDIR(m)) out += '/';
        if (c.new_mode != 0 && loose_mode(c.new_mode)) {
            if (!have_umask) umask = process_umask(), have_umask = true;
            const mode_t lands = (c.new_mode & S_IFMT) | landing_mode(c.new_mode, c.old_mode, umask);
            out += "\t(staged mode " + octal(c.new_mode & (S_IFMT | 0777)) +
                   ": group/world-writable; commit writes " + octal(lands) + ")";
        }
        out += '\n';
    }
    return out;
}

namespace {

// Where a moved branch's paths land: below the `.git`'s directory; a bare-shaped repository
// has no work tree, and its paths are shown as the tree holds them.
std::string landing_path(const BranchMove& b, const std::string& p) {
    const auto [top, name] = fsops::split_parent(b.git_dir);
    if (name != ".git" || top.empty()) return p;
    return top + "/" + p;
}

nlohmann::ordered_json branch_move_json(const BranchMove& b) {
    using nlohmann::ordered_json;
    ordered_json j;
    util::put_text(j, "git_dir", b.git_dir.empty() ? "." : b.git_dir);
    util::put_text(j, "name", b.name);
    j["from"] = b.old_id.empty() ? ordered_json(nullptr) : ordered_json(b.old_id);
    j["to"] = b.new_id;
    j["readable"] = b.move.readable;
    j["error"] = b.move.readable ? ordered_json(nullptr) : ordered_json(b.move.error);
    ordered_json commits = ordered_json::array();
    for (const auto& c : b.move.commits) {
        ordered_json e;
        const auto sp = c.find(' ');
        e["id"] = c.substr(0, sp);
        util::put_text(e, "subject", sp == std::string::npos ? "" : c.substr(sp + 1));
        commits.push_back(std::move(e));
    }
    j["commits"] = std::move(commits);
    ordered_json paths = ordered_json::array();
    for (std::size_t i = 0; i < b.move.paths.size(); ++i) {
        ordered_json e;
        e["status"] = std::string(1, b.move.status[i]);
        util::put_text(e, "path", landing_path(b, b.move.paths[i]));
        paths.push_back(std::move(e));
    }
    j["paths"] = std::move(paths);
    return j;
}

}  // namespace

std::string branch_moves_text(const std::vector<BranchMove>& moves) {
    std::string out;
    for (const auto& b : moves) {
        out += "branch " + util::escape_for_terminal(b.name) + " of " +
               util::escape_for_terminal(b.git_dir.empty() ? "." : b.git_dir) + " moves " +
               (b.old_id.empty() ? std::string("(new)") : b.old_id.substr(0, 12)) + " -> " +
               b.new_id.substr(0, 12);
        if (!b.move.readable) {
            out += ": git cannot read its commits (" + b.move.error + ")\n";
            continue;
        }
        out += ", " + std::to_string(b.move.commits.size()) +
               (b.move.commits.size() == 20 ? "+" : "") + " commit(s):\n";
        for (const auto& c : b.move.commits) out += "    " + util::escape_for_terminal(c) + "\n";
        for (std::size_t i = 0; i < b.move.paths.size(); ++i)
            out += std::string("  ") + b.move.status[i] + " " +
                   util::escape_for_terminal(landing_path(b, b.move.paths[i])) + "\n";
    }
    return out;
}

std::string to_json(const std::vector<Change>& changes, const std::vector<BranchMove>* moves) {
    using nlohmann::ordered_json;
    const auto mode = [](mode_t m) -> ordered_json {
        if (m == 0) return nullptr;
        return octal(static_cast<unsigned>(m));
    };
    const mode_t umask = process_umask();
    ordered_json arr = ordered_json::array();
    for (const Change& c : changes) {
        ordered_json j;
        util::put_text(j, "path", c.path);
        j["kind"] = kind_name(c.kind);
        j["old_mode"] = mode(c.old_mode);
        const bool lands = c.new_mode != 0 && c.refused.empty();
        j["new_mode"] = lands ? mode((c.new_mode & S_IFMT) |
                                     landing_mode(c.new_mode, c.old_mode, umask))
                              : mode(c.new_mode);
        j["staged_mode"] = mode(c.new_mode);
        j["loose_mode"] = c.new_mode != 0 && loose_mode(c.new_mode);
        j["size"] = c.size;
        j["hash"] = c.hash.empty() ? ordered_json(nullptr) : ordered_json(c.hash);
        if (S_ISLNK(c.new_mode)) util::put_text(j, "link_target", c.link_target);
        else j["link_target"] = nullptr;
        j["link_outside"] = c.link_outside;
        j["setid"] = c.setid;
        j["refused"] = c.refused.empty() ? ordered_json(nullptr) : ordered_json(c.refused);
        if (moves) {
            ordered_json refs = ordered_json::array();
            for (const auto& b : *moves)
                if (b.change == c.path) refs.push_back(branch_move_json(b));
            j["refs"] = std::move(refs);
        }
        arr.push_back(std::move(j));
    }
    // Every string is valid UTF-8 by now; `replace` only guards against a slip.
    return arr.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace agentbox::stage
