#!/usr/bin/env python3
"""The examples of examples/ (issue #7), each run for real with a stand-in for the agent:

  agents/claude-code.sh, agents/codex.sh, agents/gemini.sh   wrapping an agent with its profile
                                           (both through agents/wrap.sh)
  ci/agent-task.sh, ci/github-actions.yml  an unattended task: artifacts, protected-path gate
  review/approve.sh                        `agentbox diff --json | jq ... && agentbox commit`
  profiles/claude-code-node.toml           a custom profile that extends a built-in one
  quickstart.sh                            `make example`

Each case has its own home with planted secrets (abtest.Box): no secret may show up in any
output, and the project on the host changes only through a commit.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402

EXAMPLES = os.path.join(abtest.SOURCE_DIR, "examples")


def write_exe(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def npm_global_install(home, package, script, name, text):
    """`npm install -g` with a prefix in HOME: PREFIX/bin/NAME links to SCRIPT (relative to
    the package) in PREFIX/lib/node_modules/PACKAGE, a shell script of TEXT. Returns PREFIX."""
    prefix = os.path.join(home, ".npm-global")
    rel = os.path.join("lib", "node_modules", package, script)
    write_exe(os.path.join(prefix, rel), text)
    os.makedirs(os.path.join(prefix, "bin"))
    os.symlink(os.path.join("..", rel), os.path.join(prefix, "bin", name))
    return prefix


class ExampleTest(abtest.BoxTest):
    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.isdir(EXAMPLES), "no examples/ in %s" % abtest.SOURCE_DIR)
        b = self.box
        # `agentbox` on PATH, as after `make install`: the examples call it by name.
        self.bin = os.path.join(b.root, "bin")
        os.makedirs(self.bin)
        os.symlink(abtest.AGENTBOX, os.path.join(self.bin, "agentbox"))
        self.path = [self.bin]
        subprocess.run(["git", "init", "-q", b.project], check=True)
        os.makedirs(os.path.join(b.project, "src"))
        with open(os.path.join(b.project, "src", "main.c"), "w") as f:
            f.write("int main(void) { return 0; }\n")
        with open(os.path.join(b.project, "Makefile"), "w") as f:
            f.write("all:\n")
        self.before = abtest.tree_snapshot(b.project)

    def env(self, **extra):
        env = {"PATH": os.pathsep.join(self.path + [abtest.HOST_PATH]), "NO_COLOR": "1"}
        env.update(extra)
        return env

    def example(self, rel, *args, env=None, timeout=180):
        """Runs examples/REL from the project, as a user would; every output is checked for
        the planted secrets."""
        res = self.host_run([os.path.join(EXAMPLES, rel), *args],
                            env=self.box.env(env or self.env()), timeout=timeout)
        self.box.assert_no_canary(res.out + res.err, res)
        return res

    def agentbox(self, *args, env=None):
        return self.host_run([abtest.AGENTBOX, *args], env=self.box.env(env or self.env()))

    def require_sandbox(self, *profiles):
        """Skips unless `agentbox run` with PROFILES can start here (doctor names what is
        missing: user namespaces, cgroup delegation...)."""
        argv = ["run", "--dry-run"]
        for p in profiles:
            argv += ["-p", p]
        res = self.agentbox(*argv, "--", "true")
        if res.rc != 0:
            self.skipTest("agentbox cannot run %s here:\n%s" % (" ".join(profiles), res.err))

    def assertHostUnchanged(self):
        self.assertEqual(self.before, abtest.tree_snapshot(self.box.project),
                         "the project on the host changed without a commit")

    def staged_paths(self, *args):
        res = self.agentbox("diff", "--json", *args)
        self.assertRc(res, 0)
        return {c["path"] for c in json.loads(res.out)}

    def newest_session(self):
        ids = re.findall(r"^(\d{8}T\d{6}Z-[0-9a-f]+) ", self.agentbox("sessions").out, re.M)
        self.assertTrue(ids, "no session")
        return ids[-1]


class AgentWrappers(ExampleTest):
    def test_claude_code_wrapper_stages_edits_and_passes_only_the_anthropic_key(self):
        self.require_sandbox("claude-code")
        b = self.box
        # The native installer's place, which the claude-code profile makes visible.
        write_exe(os.path.join(b.home, ".local", "bin", "claude"), """#!/bin/sh
echo "stand-in claude: $*"
echo "a line by the agent" >> src/main.c
echo '{"theme":"dark"}' > ~/.claude/settings.json
echo '{"numStartups":1}' > ~/.claude.json
echo "ANTHROPIC_API_KEY=${ANTHROPIC_API_KEY:+set}"
echo "GITHUB_TOKEN=${GITHUB_TOKEN:+set}"
echo "HTTPS_PROXY=${HTTPS_PROXY:-unset}"
cat ~/.ssh/id_rsa ~/.aws/credentials 2>&1
exit 3
""")
        os.makedirs(os.path.join(b.home, ".claude"))
        self.path.append(os.path.join(b.home, ".local", "bin"))
        res = self.example("agents/claude-code.sh", "-p", "fix the bug",
                           env=self.env(ANTHROPIC_API_KEY="sk-ant-standin",
                                        GITHUB_TOKEN="ghp_" + "x" * 36))
        self.assertRc(res, 3)  # the agent's own status
        self.assertIn("stand-in claude: -p fix the bug", res.out)
        self.assertIn("ANTHROPIC_API_KEY=set", res.out)
        self.assertIn("GITHUB_TOKEN=\n", res.out)
        self.assertRegex(res.out, r"HTTPS_PROXY=http://127\.0\.0\.1:\d+")  # network: proxy only
        # Its edit is staged, and the wrapper said so. Its state file is saved back; its
        # settings (hooks, permissions) are held for review (agentbox-profile(5)).
        self.assertHostUnchanged()
        self.assertEqual({"src/main.c"}, self.staged_paths())
        self.assertIn("src/main.c | 1 +", res.err)
        self.assertIn("apply: agentbox commit", res.err)
        with open(os.path.join(b.home, ".claude.json")) as f:
            self.assertEqual('{"numStartups":1}\n', f.read())
        self.assertFalse(os.path.exists(os.path.join(b.home, ".claude", "settings.json")))
        self.assertIn("~/.claude/settings.json NOT saved", res.err)

    def test_codex_wrapper_grants_an_npm_prefix_in_home_and_nothing_else(self):
        self.require_sandbox("codex")
        b = self.box
        # `npm install -g` with a prefix in the home: bin/codex links into lib/node_modules.
        prefix = npm_global_install(b.home, "@openai/codex", "bin/codex.js", "codex", """#!/bin/sh
echo "stand-in codex: $*"
echo "# notes" > NOTES.md
echo "OPENAI_API_KEY=${OPENAI_API_KEY:+set} ANTHROPIC_API_KEY=${ANTHROPIC_API_KEY:+set}"
ls ~/.local/share 2>&1 | head -1
""")
        os.makedirs(os.path.join(b.home, ".local", "share", "private-app"))
        self.path.append(os.path.join(prefix, "bin"))
        env = self.env(OPENAI_API_KEY="sk-openai-standin", ANTHROPIC_API_KEY="sk-ant-standin")

        # The profile alone does not show an install under the home: the command is not found.
        res = self.agentbox("run", "-q", "--on-exit", "discard", "-p", "codex", "--", "codex",
                            env=env)
        self.assertRc(res, abtest.EXIT_NOTFOUND)

        res = self.example("agents/codex.sh", "exec", "add notes", env=env)
        self.assertRc(res, 0)
        self.assertIn("stand-in codex: exec add notes", res.out)
        self.assertIn("OPENAI_API_KEY=set ANTHROPIC_API_KEY=\n", res.out)
        # The grant was the npm prefix, not the home around it.
        self.assertNotIn("private-app", res.out)
        self.assertHostUnchanged()
        self.assertEqual({"NOTES.md"}, self.staged_paths())

    def test_gemini_wrapper_passes_its_key_only_and_stages_the_edit(self):
        self.require_sandbox("gemini")
        b = self.box
        prefix = npm_global_install(b.home, "@google/gemini-cli", "dist/index.js", "gemini",
                                    """#!/bin/sh
echo "stand-in gemini: $*"
echo "# plan" > PLAN.md
echo "GEMINI_API_KEY=${GEMINI_API_KEY:+set} OPENAI_API_KEY=${OPENAI_API_KEY:+set}"
""")
        self.path.append(os.path.join(prefix, "bin"))
        env = self.env(GEMINI_API_KEY="gemini-standin", OPENAI_API_KEY="sk-openai-standin")
        res = self.example("agents/gemini.sh", "-p", "plan it", env=env)
        self.assertRc(res, 0)
        self.assertIn("stand-in gemini: -p plan it", res.out)
        self.assertIn("GEMINI_API_KEY=set OPENAI_API_KEY=\n", res.out)
        self.assertHostUnchanged()
        self.assertEqual({"PLAN.md"}, self.staged_paths())
        self.assertIn("apply: agentbox commit", res.err)

    def test_wrap_without_an_agent_is_a_usage_error(self):
        res = self.example("agents/wrap.sh", "claude-code")
        self.assertRc(res, 2)
        self.assertIn("usage:", res.err)


class CiTask(ExampleTest):
    ARTIFACTS = {"summary.json", "changes.patch", "changes.json", "log.jsonl", "commit-dry-run.txt"}

    def setUp(self):
        super().setUp()
        self.require_sandbox("ci")
        self.out = os.path.join(self.box.root, "artifacts")

    def task(self, script):
        return self.example("ci/agent-task.sh", self.out, "--", "sh", "-c", script)

    def test_task_exports_patch_change_set_summary_and_verified_log(self):
        res = self.task("echo 'int helper;' > src/helper.c && echo '/* edited */' >> src/main.c")
        self.assertRc(res, 0)
        self.assertEqual(self.ARTIFACTS, set(os.listdir(self.out)))
        self.assertHostUnchanged()  # nothing committed
        with open(os.path.join(self.out, "summary.json")) as f:
            summary = json.load(f)
        self.assertEqual(0, summary["exit_code"])
        self.assertEqual(summary["session"], self.newest_session())
        with open(os.path.join(self.out, "changes.json")) as f:
            self.assertEqual({"src/helper.c", "src/main.c"}, {c["path"] for c in json.load(f)})
        # The patch applies to the project as it is, and gives the agent's result.
        patch = os.path.join(self.out, "changes.patch")
        self.assertRc(self.host_run(["git", "apply", "--check", patch]), 0)
        self.assertRc(self.host_run(["git", "apply", patch]), 0)
        with open(os.path.join(self.box.project, "src", "helper.c")) as f:
            self.assertEqual("int helper;\n", f.read())
        # The log: the whole session, ending with its end.
        with open(os.path.join(self.out, "log.jsonl")) as f:
            events = [json.loads(line)["event"] for line in f]
        self.assertEqual("session.start", events[0])
        self.assertEqual("session.end", events[-1])
        self.assertIn("process.exit", events)

    def test_task_fails_when_a_protected_path_changed(self):
        res = self.task("mkdir -p .github/workflows && echo 'on: push' > .github/workflows/x.yml"
                        " && echo ok >> src/main.c")
        self.assertRc(res, 1)
        self.assertIn("need a person's approval:\n  .github/workflows/x.yml\n", res.err)
        self.assertNotIn("  src/main.c\n", res.err)
        self.assertEqual(self.ARTIFACTS, set(os.listdir(self.out)))  # uploaded all the same
        self.assertHostUnchanged()

    def test_task_failure_is_the_jobs_failure_with_artifacts(self):
        res = self.task("echo half > src/half.c; exit 5")
        self.assertRc(res, 5)
        self.assertIn("changes.patch", os.listdir(self.out))
        self.assertHostUnchanged()

    def test_github_workflow_runs_the_script_and_uploads_what_it_writes(self):
        import yaml  # python3-yaml (deps/debian.txt)
        with open(os.path.join(EXAMPLES, "ci", "github-actions.yml")) as f:
            wf = yaml.safe_load(f)
        steps = {s.get("name", s.get("uses")): s for s in wf["jobs"]["agent"]["steps"]}
        run = steps["Run the task"]["run"]
        self.assertRegex(run, r'examples/ci/agent-task\.sh( -p \S+)* \\\n\s*"\$RUNNER_TEMP/artifacts" -- ')
        upload = steps["Upload the patch and the log"]
        self.assertEqual("always()", upload["if"])  # a failed gate still uploads
        paths = upload["with"]["path"].split("\n")
        paths = [p.strip() for p in paths if p.strip()]
        self.assertTrue(all(p.startswith("${{ runner.temp }}/artifacts/") for p in paths), paths)
        uploaded = {os.path.basename(p) for p in paths}
        res = self.task("echo x > src/x.c")
        self.assertRc(res, 0)
        self.assertEqual(set(os.listdir(self.out)), uploaded)


class Approve(ExampleTest):
    def setUp(self):
        super().setUp()
        self.require_sandbox()

    def stage(self, script):
        res = self.box.run(["sh", "-c", script], probes=False)
        self.assertRc(res, 0)
        return self.newest_session()

    def test_a_change_set_inside_the_policy_is_committed(self):
        self.stage("echo 'int y;' > src/y.c && mkdir -p tests docs && echo t > tests/t.sh")
        res = self.example("review/approve.sh")
        self.assertRc(res, 0)
        self.assertIn("pass the policy", res.err)
        with open(os.path.join(self.box.project, "src", "y.c")) as f:
            self.assertEqual("int y;\n", f.read())
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "tests", "t.sh")))
        self.assertEqual(set(), self.staged_paths())

    def test_outside_paths_deletions_and_links_keep_everything_staged(self):
        sid = self.stage("echo 'int z;' > src/z.c && rm Makefile && ln -s /etc/passwd src/pw"
                         " && echo x > README")
        res = self.example("review/approve.sh", sid)
        self.assertRc(res, 1)
        self.assertIn("Makefile: outside src tests docs, deletes a file", res.err)
        self.assertIn("src/pw: a symlink to /etc/passwd", res.err)
        self.assertIn("README: outside src tests docs", res.err)
        self.assertNotIn("src/z.c:", res.err)
        self.assertHostUnchanged()  # all or nothing: src/z.c waits too
        self.assertEqual({"src/z.c", "Makefile", "src/pw", "README"}, self.staged_paths(sid))

    def test_protected_paths_stay_held_even_when_the_policy_allows_them(self):
        self.stage("mkdir -p .github/workflows && echo 'on: push' > .github/workflows/ci.yml"
                   " && echo 'int w;' > src/w.c")
        res = self.example("review/approve.sh", env=self.env(APPROVE_PATHS="src .github"))
        self.assertRc(res, 1)  # `agentbox commit` held the workflow back
        self.assertTrue(os.path.exists(os.path.join(self.box.project, "src", "w.c")))
        self.assertFalse(os.path.exists(os.path.join(self.box.project, ".github")))
        self.assertIn(".github/workflows/ci.yml", self.staged_paths())


class CustomProfile(ExampleTest):
    PROFILE = os.path.join(EXAMPLES, "profiles", "claude-code-node.toml")

    def explain(self, *args):
        return self.agentbox("explain", "-p", self.PROFILE, *args).rc

    def test_profile_checks(self):
        self.assertRc(self.agentbox("profile", "check", self.PROFILE), 0)

    def test_extends_keeps_what_it_builds_on_and_adds_its_own(self):
        self.assertEqual(0, self.explain("connect", "registry.npmjs.org:443"))  # its own
        self.assertEqual(1, self.explain("connect", "registry.npmjs.org:80"))
        self.assertEqual(0, self.explain("connect", "api.anthropic.com:443"))  # claude-code's
        self.assertEqual(1, self.explain("connect", "github.com:443"))
        self.assertEqual(1, self.explain("read", os.path.join(self.box.home, ".ssh", "id_rsa")))  # base's
        self.assertEqual(1, self.explain("read", os.path.join(self.box.project, "deploy", "keys", "k")))
        self.assertEqual(3, self.explain("commit", "package.json"))  # ask: protected
        self.assertEqual(3, self.explain("commit", ".git/hooks/pre-commit"))  # base's protect
        self.assertEqual(0, self.explain("commit", "src/index.js"))
        self.assertEqual(0, self.explain("env", "NODE_ENV"))
        self.assertEqual(1, self.explain("env", "NPM_TOKEN"))

    def test_show_names_every_layer(self):
        res = self.agentbox("profile", "show", self.PROFILE)
        self.assertRc(res, 0)
        for layer in ("<builtin:base>", "<builtin:default>", "<builtin:claude-code>",
                      "claude-code-node.toml"):
            self.assertIn(layer, res.out)

    def test_run_with_it(self):
        self.require_sandbox(self.PROFILE)
        os.makedirs(os.path.join(self.box.project, "deploy", "keys"))
        with open(os.path.join(self.box.project, "deploy", "keys", "id"), "w") as f:
            f.write("deploy key\n")
        self.before = abtest.tree_snapshot(self.box.project)
        res = self.box.run(["sh", "-c", "ls deploy/keys; echo {} > package.json; echo $NODE_ENV"],
                           profiles=[self.PROFILE], probes=False, env={"NODE_ENV": "test"})
        self.assertRc(res, 0)
        self.assertNotIn("id", res.out.split())
        self.assertIn("test", res.out.split())
        res = self.agentbox("commit")
        self.assertRc(res, 1)  # package.json needs an approval
        self.assertIn("package.json", res.err)
        self.assertHostUnchanged()


class Quickstart(ExampleTest):
    def test_make_example_runs(self):
        self.require_sandbox()
        res = self.example("quickstart.sh", abtest.AGENTBOX, timeout=300)
        self.assertRc(res, 0)
        self.assertIn("notes.txt does not exist on the host", res.err)
        self.assertIn(".git/hooks/pre-commit does not exist on the host", res.err)


if __name__ == "__main__":
    abtest.main()
