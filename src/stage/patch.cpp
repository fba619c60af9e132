// Diff renderings of a change set. libgit2 is used only here, for hunks and binary patch data:
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

#include "stage/tree_read.hpp"
#include "stage/lazylib.hpp"
#include "sys/error.hpp"

namespace agentbox::stage {

namespace {
LazyLib& git2() {
    static LazyLib lib(AGENTBOX_LIBGIT2_SONAME);
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

// The code point of the UTF-8 sequence at s[i] and its length; length 0 when the bytes there
// are not valid UTF-8 (overlong forms, surrogates, > U+10FFFF and truncated sequences are not).
std::pair<char32_t, std::size_t> decode_utf8(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return {c, 1};
    std::size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
    else return {0, 0};
    if (i + len > s.size()) return {0, 0};
    for (std::size_t k = 1; k < len; ++k) {
        if ((b(i + k) & 0xc0) != 0x80) return {0, 0};
        cp = (cp << 6) | (b(i + k) & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {0, 0};
    return {cp, len};
}

// Characters that change how the rest of the line is displayed without being visible:
// C1 controls (U+009B is CSI on some terminals), bidirectional overrides and isolates (the
// "Trojan Source" reordering), zero-width characters, line/paragraph separators, BOM.
bool invisible_format(char32_t cp) {
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

std::string escape(std::string_view s, bool keep_lines) {
    std::string out;
    out.reserve(s.size());
    char buf[16];
    for (std::size_t i = 0; i < s.size();) {
        const auto [cp, len] = decode_utf8(s, i);
        if (len == 0) {  // invalid UTF-8: show the byte
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
            out += buf;
            ++i;
            continue;
        }
        if (cp < 0x20 || cp == 0x7f) {
            if (keep_lines && (cp == '\n' || cp == '\t')) out += static_cast<char>(cp);
            else if (cp == '\n') out += "\\n";
            else if (cp == '\t') out += "\\t";
            else if (cp == '\r') out += "\\r";
            else {
                std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
                out += buf;
            }
        } else if (cp == '\\') {
            out += "\\\\";
        } else if (invisible_format(cp)) {
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
            out += buf;
        } else {
            out.append(s.substr(i, len));
        }
        i += len;
    }
    return out;
}

// Display width of already escaped text: one column per code point (good enough to align
// --stat columns; East Asian wide characters are rare in paths).
std::size_t display_width(std::string_view s) {
    std::size_t n = 0;
    for (const char ch : s)
        if ((static_cast<unsigned char>(ch) & 0xc0) != 0x80) ++n;
    return n;
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto [cp, len] = decode_utf8(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

}  // namespace

std::string escape_for_terminal(std::string_view s) { return escape(s, false); }
std::string escape_text_for_terminal(std::string_view s) { return escape(s, true); }

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
};

std::vector<Item> file_items(const std::vector<Change>& changes, const Tree& project) {
    std::vector<Item> out;
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
                if (representable(m) && deleted.insert(p).second) out.push_back({p, m, 0, false});
        } else if (representable(mode) && deleted.insert(path).second) {
            out.push_back({path, mode, 0, false});
        }
    };
    for (const Change& c : changes) {
        if (!c.refused.empty()) continue;  // never committed: not part of what would change
        switch (c.kind) {
            case Kind::added:
                // Directories come through their entries, which follow as their own changes.
                if (representable(c.new_mode)) out.push_back({c.path, 0, c.new_mode, false});
                break;
            case Kind::deleted: deletion(c.path, c.old_mode); break;
            case Kind::modified:
            case Kind::mode:
                if (representable(c.old_mode) && representable(c.new_mode) &&
                    (c.old_mode & S_IFMT) == (c.new_mode & S_IFMT))
                    out.push_back({c.path, c.old_mode, c.new_mode, c.kind == Kind::mode});
                break;
            case Kind::type:
                // As git: the old path goes, then the new one comes.
                deletion(c.path, c.old_mode);
                if (representable(c.new_mode)) out.push_back({c.path, 0, c.new_mode, false});
                break;
            case Kind::replaced:
                // The hidden project entries come as explicit `deleted` changes.
                break;
        }
    }
    return out;
}

// One side's content, read lazily: the first 8000 bytes decide binary, the rest is read only
// when the text is diffed or binary data is wanted.
struct Side {
    bool present = false;
    std::string data;
    std::uint64_t size = 0;
    bool complete = true;
    sys::unique_fd fd;  // open regular file while incomplete
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
        data = detail::read_fd(fd.get(), shown, binary_probe);
        complete = data.size() < binary_probe;
        if (complete) fd.reset();
    }
    void load_rest() {
        if (complete) return;
        data += detail::read_fd(fd.get(), shown);
        size = data.size();
        complete = true;
        fd.reset();
    }
    bool binary() const {
        return std::memchr(data.data(), '\0', std::min(data.size(), binary_probe)) != nullptr;
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
    throw std::runtime_error(what + " \"" + path + "\": " +
                             (e != nullptr && e->message != nullptr ? e->message : "libgit2 error"));
}

PatchPtr make_patch(const Side& a, const Side& b, const std::string& path, std::uint32_t flags,
                    int context) {
    libgit2_init();
    git_diff_options o = GIT_DIFF_OPTIONS_INIT;
    o.context_lines = static_cast<std::uint32_t>(std::max(context, 0));
    o.interhunk_lines = 0;
    o.flags = flags;
    git_patch* p = nullptr;
    if (AGENTBOX_LAZY(git2(), git_patch_from_buffers)(&p, a.present ? a.data.data() : nullptr, a.data.size(),
                               path.c_str(), b.present ? b.data.data() : nullptr, b.data.size(),
                               path.c_str(), &o) < 0)
        git_fail("diff", path);
    return PatchPtr(p);
}

std::string blob_id(const Side& s) {
    if (!s.present) return std::string(40, '0');
    libgit2_init();
    git_oid oid;
    if (AGENTBOX_LAZY(git2(), git_odb_hash)(&oid, s.data.data(), s.data.size(), GIT_OBJECT_BLOB) < 0)
        git_fail("hash", s.shown);
    char hex[GIT_OID_HEXSZ + 1];
    AGENTBOX_LAZY(git2(), git_oid_tostr)(hex, sizeof hex, &oid);
    return hex;
}

// "GIT binary patch\nliteral N\n...": the data part of libgit2's output for this pair.
std::string binary_data(const Side& a, const Side& b, const std::string& path) {
    const PatchPtr p = make_patch(a, b, path, GIT_DIFF_SHOW_BINARY, 0);
    std::string out;
    const auto cb = [](const git_diff_delta*, const git_diff_hunk*, const git_diff_line* l,
                       void* payload) -> int {
        if (l->origin == GIT_DIFF_LINE_BINARY)
            static_cast<std::string*>(payload)->append(l->content, l->content_len);
        return 0;
    };
    if (AGENTBOX_LAZY(git2(), git_patch_print)(p.get(), cb, &out) < 0) git_fail("diff", path);
    if (out.empty()) throw std::runtime_error("diff \"" + path + "\": no binary patch data");
    return out;
}

// Everything the renderings need about one item.
struct Rendered {
    std::string text;  // the patch of this file ("" = nothing to show)
    bool binary = false;
    std::size_t added = 0, deleted = 0;   // lines, or bytes (new, old) for binary
};

Rendered render(const Item& it, const Tree& project, const Tree& upper, const PatchOptions& opts,
                bool want_text) {
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
        r.text = head;
        return r;
    }

    Side o, n;
    o.load_head(project, it.path, it.old_mode);
    n.load_head(upper, it.path, it.new_mode);
    const std::string lbl_a = o.present ? a : "/dev/null";
    const std::string lbl_b = n.present ? b : "/dev/null";

    if (o.binary() || n.binary()) {
        r.binary = true;
        r.deleted = o.size;
        r.added = n.size;
        if (!want_text) return r;
        if (opts.binary) {
            o.load_rest();
            n.load_rest();
            r.text = head + "index " + blob_id(o) + ".." + blob_id(n) + "\n" +
                     binary_data(o, n, it.path);
        } else {
            r.text = head + "Binary files " + lbl_a + " and " + lbl_b + " differ\n";
        }
        return r;
    }

    o.load_rest();
    n.load_rest();
    const PatchPtr p = make_patch(o, n, it.path, GIT_DIFF_FORCE_TEXT, opts.context);
    std::size_t ctx = 0;
    if (AGENTBOX_LAZY(git2(), git_patch_line_stats)(&ctx, &r.added, &r.deleted, p.get()) < 0) git_fail("diff", it.path);
    const std::size_t hunks = AGENTBOX_LAZY(git2(), git_patch_num_hunks)(p.get());
    if (hunks == 0 && it.old_mode != 0 && it.new_mode != 0 && !mode_changed) return r;
    if (!want_text) {
        r.text = " ";  // something to show
        return r;
    }
    r.text = head;
    if (hunks == 0) return r;  // an empty file added or deleted, or only a mode change
    // git ends a label containing a space with a tab, so that the name's end is unambiguous.
    r.text += "--- " + lbl_a + (lbl_a.find(' ') != std::string::npos ? "\t" : "") + "\n";
    r.text += "+++ " + lbl_b + (lbl_b.find(' ') != std::string::npos ? "\t" : "") + "\n";
    for (std::size_t h = 0; h < hunks; ++h) {
        const git_diff_hunk* hunk = nullptr;
        std::size_t lines = 0;
        if (AGENTBOX_LAZY(git2(), git_patch_get_hunk)(&hunk, &lines, p.get(), h) < 0) git_fail("diff", it.path);
        r.text.append(hunk->header, hunk->header_len);
        for (std::size_t i = 0; i < lines; ++i) {
            const git_diff_line* l = nullptr;
            if (AGENTBOX_LAZY(git2(), git_patch_get_line_in_hunk)(&l, p.get(), h, i) < 0) git_fail("diff", it.path);
            switch (l->origin) {
                case GIT_DIFF_LINE_CONTEXT:
                case GIT_DIFF_LINE_ADDITION:
                case GIT_DIFF_LINE_DELETION:
                    r.text += static_cast<char>(l->origin);
                    r.text.append(l->content, l->content_len);
                    break;
                default:  // the "\ No newline at end of file" markers, newline included
                    r.text.append(l->content, l->content_len);
                    break;
            }
        }
    }
    return r;
}

}  // namespace

std::string patch(const std::vector<Change>& changes, const std::string& upper,
                  const std::string& project, const PatchOptions& opts) {
    const Tree up(upper), proj(project);
    std::string out;
    for (const Item& it : file_items(changes, proj)) out += render(it, proj, up, opts, true).text;
    return out;
}

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
    for (const Item& it : file_items(changes, proj)) {
        Rendered r = render(it, proj, up, PatchOptions{}, false);
        if (r.text.empty() && !r.binary) continue;
        // A type change is two patches of one path but one line, as in git's --stat.
        if (!lines.empty() && it.path == last_path) {
            Rendered& prev = lines.back().r;
            prev.binary = prev.binary || r.binary;
            prev.added += r.added;
            prev.deleted += r.deleted;
            continue;
        }
        last_path = it.path;
        lines.push_back({escape_for_terminal(it.path), std::move(r)});
    }
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
    std::string out;
    for (const Change& c : changes) {
        const mode_t m = c.new_mode != 0 ? c.new_mode : c.old_mode;
        out += kind_letter(c.kind);
        out += '\t';
        out += escape_for_terminal(c.path);
        if (S_ISDIR(m)) out += '/';
        out += '\n';
    }
    return out;
}

std::string to_json(const std::vector<Change>& changes) {
    using nlohmann::ordered_json;
    const auto hex = [](std::string_view s) {
        static const char digits[] = "0123456789abcdef";
        std::string h;
        for (const char ch : s) {
            const auto c = static_cast<unsigned char>(ch);
            h += digits[c >> 4];
            h += digits[c & 15];
        }
        return h;
    };
    const auto mode = [](mode_t m) -> ordered_json {
        if (m == 0) return nullptr;
        return octal(static_cast<unsigned>(m));
    };
    ordered_json arr = ordered_json::array();
    for (const Change& c : changes) {
        ordered_json j;
        j["path"] = c.path;
        if (!valid_utf8(c.path)) j["path_hex"] = hex(c.path);
        j["kind"] = kind_name(c.kind);
        j["old_mode"] = mode(c.old_mode);
        j["new_mode"] = mode(c.new_mode);
        j["size"] = c.size;
        j["hash"] = c.hash.empty() ? ordered_json(nullptr) : ordered_json(c.hash);
        const bool link = S_ISLNK(c.new_mode);
        j["link_target"] = link ? ordered_json(c.link_target) : ordered_json(nullptr);
        if (link && !valid_utf8(c.link_target)) j["link_target_hex"] = hex(c.link_target);
        j["link_outside"] = c.link_outside;
        j["setid"] = c.setid;
        j["refused"] = c.refused.empty() ? ordered_json(nullptr) : ordered_json(c.refused);
        arr.push_back(std::move(j));
    }
    // Invalid UTF-8 is replaced (and given exactly in the *_hex fields) rather than throwing.
    return arr.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace agentbox::stage
