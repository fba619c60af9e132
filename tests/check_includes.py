#!/usr/bin/env python3
"""The module rules of docs/HACKING.md, checked on the sources (ctest `unit.includes`).

Every module exports src/ as a public include directory, so a header-only include across a
forbidden edge compiles and links; only this check notices it. The rules come from
CMakeLists.txt itself:

- `agentbox_module(NAME DEPS ab_x ab_y ...)` lists what module NAME may include; an edge is
  allowed when it is in the transitive closure of those DEPS (policy may include profile, so
  seccomp, which depends on policy, may too). `cli` is the executable: src/cli/ and
  src/main.cpp, allowed what `target_link_libraries(agentbox ...)` names.
- tests/unit/<module>/ is built into test_<module>, linked with ab_<module> only: it may
  include what <module> may, plus doctest and other tests/unit/<dir>/ helpers of modules
  <module> may include.
- each third-party library stays in the modules named in THIRD_PARTY below.
- the DEPS graph has no cycle (so nothing can include back up).
- inside a module, the layers of SUBDIR_LAYERS below: sandbox/bwrap/ builds on sandbox/linux/,
  never the other way round.

A failure names file:line, the include and the edge it breaks. The last line is
"SUMMARY: N passed, N failed, N skipped", as the Python suites print it, for tests/run_all.sh.

    tests/check_includes.py [SOURCE_DIR]
"""
import os
import re
import sys
import tempfile

# Third-party headers -> (library, the modules that may include it). Derived from the code and
# the link lines of CMakeLists.txt; docs/design-notes.md items 1, 15 and 23 say why some
# libraries have more than one user. A prefix ending in "/" matches a header directory.
# <linux/seccomp.h> and the like are kernel headers, not libseccomp: only exact names match.
THIRD_PARTY = {
    "CLI/": ("CLI11", {"cli"}),
    "toml++/": ("toml++", {"profile"}),
    "seccomp.h": ("libseccomp", {"seccomp"}),
    "sodium.h": ("libsodium", {"audit"}),
    "sodium/": ("libsodium", {"audit"}),
    # compiled into both (XXH_INLINE_ALL): seccomp's filter cache key, stage's content hashes
    "xxhash.h": ("xxHash", {"seccomp", "stage"}),
    "archive.h": ("libarchive", {"stage"}),
    "archive_entry.h": ("libarchive", {"stage"}),
    "git2.h": ("libgit2", {"stage"}),
    "git2/": ("libgit2", {"stage"}),
    # TLS interception only (net/intercept.cpp, through net/openssl_lazy.hpp)
    "openssl/": ("OpenSSL", {"net"}),
    "asio.hpp": ("asio", {"net"}),
    "asio/": ("asio", {"net"}),
    # a data format, not a system library (design note 1): the modules that link it
    "nlohmann/": ("nlohmann-json", {"policy", "audit", "stage", "approve", "cli"}),
    "doctest/": ("doctest", set()),  # tests only (TESTS_ONLY below)
}
TESTS_ONLY = {"doctest"}

# Includes that break a rule but are accepted for now: (file, included path) -> reason.
# Keep this empty: fix the include, or say here why it must stay.
KNOWN_EXCEPTIONS = {}

# Layers inside one module: (directory of the including file, included prefix) -> why not.
# The two Linux backends share the launch, init and supervisor of linux/; bwrap/ adds its
# starter and argv on top, and the backend choice (sandbox/choose.hpp) sits above both.
SUBDIR_LAYERS = {
    ("src/sandbox/linux/", "sandbox/bwrap/"):
        "linux/ is the layer bwrap/ builds on (DESIGN.md §4); shared names go in sandbox/*.hpp",
}
# The cli reaches what differs per system through one seam, sandbox/host.hpp (and choose.hpp):
# the macOS build has no linux/, bwrap/ or seccomp, and ctest cross.macos links without them.
for _here in ("src/cli/", "src/main.cpp"):
    for _prefix in ("sandbox/linux/", "sandbox/bwrap/", "seccomp/"):
        SUBDIR_LAYERS[(_here, _prefix)] = (
            "the cli asks the platform through sandbox/host.hpp (DESIGN.md §10), which the "
            "macOS build defines without Linux's code")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def strip_comments(text):
    return re.sub(r"#[^\n]*", "", text)


def parse_cmake(text):
    """-> (deps: module -> set of direct module deps, dirs: src dir -> module)."""
    text = strip_comments(text)
    deps, dirs = {}, {}
    for m in re.finditer(r"\bagentbox_module\s*\(([^)]*)\)", text):
        words = m.group(1).split()
        if not words or words[0] == "name":  # the function's own definition
            continue
        name, section, d, ds = words[0], None, set(), []
        for w in words[1:]:
            if w in ("DEPS", "DIRS"):
                section = w
            elif section == "DEPS" and w.startswith("ab_"):
                d.add(w[3:])
            elif section == "DIRS":
                ds.append(w)
        deps[name] = d
        for x in ds or [name]:
            dirs[x] = name
    # The executable is the cli module: src/main.cpp and src/cli/.
    m = re.search(r"\btarget_link_libraries\s*\(\s*agentbox\s+([^)]*)\)", text)
    if m:
        deps["cli"] = {w[3:] for w in m.group(1).split() if w.startswith("ab_")}
        dirs["cli"] = "cli"
    return deps, dirs


def find_cycle(deps):
    """A list of modules forming a cycle in the DEPS graph, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(deps.get(n, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                c = visit(d)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(deps):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def closure(deps, name):
    seen, todo = set(), list(deps.get(name, ()))
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(deps.get(d, ()))
    return seen


def third_party(path):
    for prefix, owner in THIRD_PARTY.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return owner
    return None


def source_files(root):
    for base in ("src", os.path.join("tests", "unit")):
        top = os.path.join(root, base)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for f in sorted(filenames):
                if f.endswith((".hpp", ".cpp", ".h", ".c")):
                    yield os.path.relpath(os.path.join(dirpath, f), root)


def owner_of(rel, dirs):
    """(module, is_test) of a file under src/ or tests/unit/, or (None, ...) if none."""
    parts = rel.split(os.sep)
    if parts[0] == "src":
        if len(parts) == 2:
            return ("cli" if parts[1] == "main.cpp" else None), False
        return dirs.get(parts[1]), False
    if parts[:2] == ["tests", "unit"]:
        if len(parts) == 3:  # tests/unit/doctest_main.cpp: the shared main
            return "tests", True
        return dirs.get(parts[2], parts[2]), True
    return None, False


def included_module(root, rel, quote, path, dirs):
    """The module a quoted include names (src/<mod>/... or tests/unit/<mod>/...), or None."""
    if quote == "<":  # <sys/stat.h> is the system's; <policy/plan.hpp> would still be ours
        return dirs.get(path.split("/", 1)[0]) if os.path.isfile(os.path.join(root, "src", path)) else None
    here = os.path.dirname(os.path.join(root, rel))
    local = os.path.normpath(os.path.join(here, path))
    if os.path.exists(local):  # relative to the including file: the same dir, or ../policy/x
        mod, _ = owner_of(os.path.relpath(local, root), dirs)
        return mod
    first = path.split("/", 1)[0]
    if "/" in path and first in dirs:
        return dirs[first]
    return None  # a generated file (builtin_profiles.inc) or a system header in quotes


def forbidden_layer(root, rel, path):
    """Why an include breaks a layer of SUBDIR_LAYERS, or None."""
    local = os.path.normpath(os.path.join(os.path.dirname(os.path.join(root, rel)), path))
    target = (os.path.relpath(local, os.path.join(root, "src")) if os.path.exists(local)
              else path).replace(os.sep, "/")
    for (here, prefix), why in SUBDIR_LAYERS.items():
        if rel.replace(os.sep, "/").startswith(here) and target.startswith(prefix):
            return "%s may not include %s: %s" % (here.rstrip("/"), prefix.rstrip("/"), why)
    return None


def check(root):
    """-> (passed, failures): one case per file, plus the structural checks."""
    with open(os.path.join(root, "CMakeLists.txt")) as f:
        deps, dirs = parse_cmake(f.read())
    failures, passed = [], 0
    if not deps:
        return 0, ["CMakeLists.txt: no agentbox_module(...) found; the parser needs updating"]
    cycle = find_cycle(deps)
    if cycle:
        failures.append("CMakeLists.txt: module cycle in DEPS: %s" % " -> ".join(cycle))
    else:
        passed += 1
    unknown = sorted({d for ds in deps.values() for d in ds} - set(deps))
    if unknown:
        failures.append("CMakeLists.txt: DEPS name modules that do not exist: %s" % unknown)
    else:
        passed += 1
    allowed = {m: closure(deps, m) | {m} for m in deps}
    for rel in source_files(root):
        mod, is_test = owner_of(rel, dirs)
        if mod is None:
            failures.append("%s: belongs to no module of CMakeLists.txt (agentbox_module DIRS)" % rel)
            continue
        ok = allowed.get(mod, {mod}) | ({"tests"} if is_test else set())
        bad = []
        with open(os.path.join(root, rel), errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                quote, path = m.groups()
                if (rel, path) in KNOWN_EXCEPTIONS:
                    continue
                where = "%s:%d: #include %s%s%s" % (rel, n, quote, path, ">" if quote == "<" else '"')
                tp = third_party(path)
                if tp:
                    lib, owners = tp
                    if lib in TESTS_ONLY:
                        if not is_test:
                            bad.append("%s: %s is for tests only" % (where, lib))
                    elif mod not in owners:
                        bad.append("%s: %s may be included only by %s, not by %s"
                                   % (where, lib, "/".join(sorted(owners)), mod))
                    continue
                layer = forbidden_layer(root, rel, path)
                if layer:
                    bad.append("%s: %s" % (where, layer))
                    continue
                target = included_module(root, rel, quote, path, dirs)
                if target is not None and target not in ok:
                    bad.append("%s: forbidden edge %s -> %s (%s may include: %s)"
                               % (where, mod, target, mod, ", ".join(sorted(ok - {mod})) or "nothing"))
        if bad:
            failures.extend(bad)
        else:
            passed += 1
    return passed, failures


# --- self-test: the check must catch what it is for (a fake tree in a temp dir) ---------------

FAKE_CMAKE = """
function(agentbox_module name)
endfunction()
agentbox_module(util)
agentbox_module(sys DEPS ab_util)
agentbox_module(policy DEPS ab_util nlohmann_json::nlohmann_json)
agentbox_module(sandbox DEPS ab_policy ab_sys)
add_executable(agentbox src/main.cpp ${CLI_SOURCES})
target_link_libraries(agentbox PRIVATE ab_sandbox ab_policy ab_sys ab_util CLI11::CLI11)
"""


def fake_tree(d, files, cmake=FAKE_CMAKE):
    files = dict(files)
    files.setdefault("CMakeLists.txt", cmake)
    for rel, text in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)


def self_tests():
    """-> list of (name, failure message or None)."""
    good = {
        "src/util/a.hpp": "#include <string>\n",
        "src/sys/b.hpp": '#include "util/a.hpp"\n',
        "src/sandbox/c.cpp": '#include "policy/p.hpp"\n#include "util/a.hpp"\n#include <linux/seccomp.h>\n',
        "src/policy/p.hpp": "#include <nlohmann/json.hpp>\n",
        "src/cli/x.cpp": '#include <CLI/CLI.hpp>\n#include "sandbox/c.hpp"\n',
        "src/main.cpp": '#include "cli/x.hpp"\n',
        "tests/unit/policy/t.cpp": '#include <doctest/doctest.h>\n#include "fixtures.hpp"\n',
        "tests/unit/policy/fixtures.hpp": '#include "policy/p.hpp"\n',
        "tests/unit/sandbox/t.cpp": '#include "../policy/fixtures.hpp"\n',
        "src/sandbox/bwrap/l.cpp": '#include "sandbox/linux/x.hpp"\n',
    }
    cases = [
        ("a tree that keeps the rules passes", {}, None),
        ("an include up the graph fails", {"src/sys/bad.hpp": '#include "sandbox/c.hpp"\n'},
         "src/sys/bad.hpp:1: #include \"sandbox/c.hpp\": forbidden edge sys -> sandbox"),
        ("an include of a sibling not in DEPS fails", {"src/policy/bad.cpp": '\n#include "sys/b.hpp"\n'},
         "src/policy/bad.cpp:2: #include \"sys/b.hpp\": forbidden edge policy -> sys"),
        ("an include of cli from a module fails", {"src/util/bad.hpp": '#include "cli/x.hpp"\n'},
         "forbidden edge util -> cli"),
        ("a test including beyond its module fails",
         {"tests/unit/sys/bad.cpp": '#include "../policy/fixtures.hpp"\n'},
         "forbidden edge sys -> policy"),
        ("a third-party header outside its module fails",
         {"src/sandbox/bad.cpp": "#include <CLI/CLI.hpp>\n"},
         "CLI11 may be included only by cli, not by sandbox"),
        ("a third-party header reached through DEPS still fails",
         {"src/sandbox/bad.cpp": "#include <nlohmann/json.hpp>\n"},
         "nlohmann-json may be included only by"),
        ("doctest outside the tests fails", {"src/util/bad.hpp": "#include <doctest/doctest.h>\n"},
         "doctest is for tests only"),
        ("a source dir of no module fails", {"src/stray/x.cpp": "\n"}, "belongs to no module"),
        ("a cycle in DEPS fails",
         {"CMakeLists.txt": FAKE_CMAKE.replace("agentbox_module(util)", "agentbox_module(util DEPS ab_sys)")},
         "module cycle in DEPS: util -> sys -> util"),
        ("linux/ including bwrap/ fails",
         {"src/sandbox/linux/l.cpp": '#include "sandbox/bwrap/b.hpp"\n', "src/sandbox/bwrap/b.hpp": "\n"},
         "src/sandbox/linux may not include sandbox/bwrap"),
        ("linux/ including bwrap/ by a relative path fails",
         {"src/sandbox/linux/l.cpp": '#include "../bwrap/b.hpp"\n', "src/sandbox/bwrap/b.hpp": "\n"},
         "src/sandbox/linux may not include sandbox/bwrap"),
        ("an angle-bracket include of a module fails", {"src/util/bad.hpp": "#include <sys/b.hpp>\n"},
         "forbidden edge util -> sys"),
    ]
    results = []
    for name, extra, expect in cases:
        files = dict(good)
        files.update(extra)
        with tempfile.TemporaryDirectory(prefix="check_includes.") as d:
            fake_tree(d, files)
            _, failures = check(d)
        text = "\n".join(failures)
        if expect is None:
            results.append((name, text or None))
        elif expect not in text:
            results.append((name, "expected a failure containing %r, got:\n%s" % (expect, text or "(none)")))
        else:
            results.append((name, None))
    return results


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    passed, failures = check(root)
    for f in failures:
        print("check_includes: FAIL %s" % f)
    print("check_includes: %s: %d file(s) and rules keep the module rules, %d violation(s)"
          % (root, passed, len(failures)))
    st_failed = 0
    for name, err in self_tests():
        if err:
            st_failed += 1
            print("check_includes: self-test FAIL %s: %s" % (name, err))
        else:
            passed += 1
    print("SUMMARY: %d passed, %d failed, %d skipped" % (passed, len(failures) + st_failed, 0),
          flush=True)
    return 0 if not failures and not st_failed else 1


if __name__ == "__main__":
    sys.exit(main())
