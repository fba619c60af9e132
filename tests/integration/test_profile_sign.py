#!/usr/bin/python3
"""Integration: signed profiles (agentbox-profile(5), SIGNED PROFILES).

`agentbox profile sign` and `verify` speak minisign's format: a signature made by minisign
verifies in agentbox and one made by agentbox verifies with `minisign -V`. Under
require_signed_profiles in the system config.toml (pointed at a temp dir with the test switch
AGENTBOX_TEST_ETC), a run whose profile -- or any file it extends -- is unsigned, altered,
signed by an untrusted key or carries an altered trusted comment fails closed with 125, naming
the file and the reason; the built-ins count as trusted; session.start records each layer's
key id."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import abtest  # noqa: E402
from abtest import AGENTBOX, EXIT_SETUP, BoxTest  # noqa: E402

MINISIGN = shutil.which("minisign") or ("/usr/bin/minisign" if os.path.exists("/usr/bin/minisign") else None)
PROFILE = 'version = 1\nname = "signed"\nextends = ["default"]\n'


class ProfileSignTest(BoxTest):
    def setUp(self):
        super().setUp()
        self.etc = os.path.join(self.box.root, "etc")
        os.makedirs(self.etc)
        self.keys = os.path.join(self.box.root, "keys")
        os.makedirs(self.keys)

    # ---- helpers
    def need_minisign(self):
        if MINISIGN is None:
            self.skipTest("minisign is not installed (deps/debian.txt lists it; run make deps)")

    def env(self):
        return {"AGENTBOX_TEST_ETC": self.etc}

    def agentbox(self, *args):
        return self.host_run([AGENTBOX] + list(args), env=self.box.env(self.env()))

    def agentbox_keygen(self, name):
        sec = os.path.join(self.keys, name + ".key")
        res = self.agentbox("profile", "keygen", "-s", sec)
        self.assertEqual(res.rc, 0, res)
        pub_line = res.out.strip()
        self.assertTrue(pub_line.startswith("RW"), res)
        return sec, sec + ".pub", pub_line

    def minisign_keygen(self, name):
        sec = os.path.join(self.keys, name + ".key")
        pub = os.path.join(self.keys, name + ".pub")
        res = self.host_run([MINISIGN, "-G", "-W", "-s", sec, "-p", pub])
        self.assertEqual(res.rc, 0, res)
        with open(pub) as f:
            return sec, pub, f.read().splitlines()[1].strip()

    def key_id(self, pub_path):
        with open(pub_path) as f:
            return f.readline().split()[-1]

    def require(self, *pub_lines):
        with open(os.path.join(self.etc, "config.toml"), "w") as f:
            f.write("require_signed_profiles = true\ntrusted_keys = [%s]\n" %
                    ", ".join('"%s"' % k for k in pub_lines))

    def sign(self, sec, path):
        res = self.agentbox("profile", "sign", "-s", sec, path)
        self.assertEqual(res.rc, 0, res)

    def run_with(self, path):
        return self.box.run(["true"], profiles=[path], env=self.env())

    def assertRefused(self, res, path, reason):
        self.assertRc(res, EXIT_SETUP)
        self.assertIn(path, res.err, res)
        self.assertIn(reason, res.err, res)
        self.assertEqual(self.box.sessions(), [], "a refused profile still made a session")

    # ---- the two directions between the tools
    def test_minisign_signature_verifies_in_agentbox(self):
        self.need_minisign()
        sec, pub, line = self.minisign_keygen("ms")
        path = self.box.write_profile("signed", PROFILE)
        res = self.host_run([MINISIGN, "-S", "-s", sec, "-m", path, "-t", "made by minisign"])
        self.assertEqual(res.rc, 0, res)
        res = self.agentbox("profile", "verify", "-p", pub, path)
        self.assertEqual(res.rc, 0, res)
        self.assertIn("made by minisign", res.out)
        self.assertIn(self.key_id(pub), res.out)
        res = self.agentbox("profile", "verify", "-P", line, path)
        self.assertEqual(res.rc, 0, res)
        # The legacy (not prehashed) signature minisign -l makes is accepted too.
        res = self.host_run([MINISIGN, "-S", "-l", "-s", sec, "-m", path])
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(self.agentbox("profile", "verify", "-p", pub, path).rc, 0)
        # And a run under require_signed_profiles accepts it.
        self.require(line)
        self.assertRc(self.run_with(path), 0)

    def test_agentbox_signature_verifies_in_minisign(self):
        self.need_minisign()
        sec, pub, _ = self.agentbox_keygen("ab")
        path = self.box.write_profile("signed", PROFILE)
        self.sign(sec, path)
        # -H: minisign requires the prehashed form, which agentbox makes.
        res = self.host_run([MINISIGN, "-V", "-H", "-p", pub, "-m", path])
        self.assertEqual(res.rc, 0, res)
        self.assertIn("file:signed.toml", res.out)
        # A key minisign made signs in agentbox, and minisign verifies that too.
        msec, mpub, _ = self.minisign_keygen("ms")
        self.sign(msec, path)
        res = self.host_run([MINISIGN, "-V", "-p", mpub, "-m", path])
        self.assertEqual(res.rc, 0, res)
        # And the other way: agentbox's key file is one minisign signs with.
        res = self.host_run([MINISIGN, "-S", "-W", "-s", sec, "-m", path])
        self.assertEqual(res.rc, 0, res)
        self.assertEqual(self.agentbox("profile", "verify", "-p", pub, path).rc, 0)

    # ---- fail closed
    def test_unsigned_profile_fails_closed(self):
        _, _, line = self.agentbox_keygen("ab")
        self.require(line)
        path = self.box.write_profile("plain", PROFILE)
        self.assertRefused(self.run_with(path), path, "not signed")
        # `profile check` answers as run would.
        res = self.agentbox("profile", "check", path)
        self.assertEqual(res.rc, 2, res)
        self.assertIn("not signed", res.err)

    def test_altered_profile_fails_closed(self):
        sec, pub, line = self.agentbox_keygen("ab")
        self.require(line)
        path = self.box.write_profile("signed", PROFILE)
        self.sign(sec, path)
        self.assertRc(self.run_with(path), 0)
        shutil.rmtree(os.path.join(self.box.state, "agentbox"))
        with open(path, "a") as f:
            f.write('[network]\nmode = "host"\n')
        self.assertRefused(self.run_with(path), path, "does not match the file")
        res = self.agentbox("profile", "verify", "-p", pub, path)
        self.assertEqual(res.rc, 1, res)

    def test_unsigned_extends_layer_fails_closed(self):
        sec, _, line = self.agentbox_keygen("ab")
        self.require(line)
        base = self.box.write_profile("base-layer", 'version = 1\n[network]\nmode = "host"\n')
        top = self.box.write_profile("top", 'version = 1\nextends = ["default", "./base-layer.toml"]\n')
        self.sign(sec, top)
        self.assertRefused(self.run_with(top), base, "not signed")
        # Signed, the chain is accepted; altered afterwards, refused again.
        self.sign(sec, base)
        self.assertRc(self.run_with(top), 0)
        shutil.rmtree(os.path.join(self.box.state, "agentbox"))
        with open(base, "a") as f:
            f.write("# changed\n")
        self.assertRefused(self.run_with(top), base, "does not match the file")

    def test_wrong_key_fails_closed(self):
        trusted_sec, _, trusted = self.agentbox_keygen("trusted")
        other_sec, other_pub, _ = self.agentbox_keygen("other")
        self.require(trusted)
        path = self.box.write_profile("signed", PROFILE)
        self.sign(other_sec, path)
        self.assertRefused(self.run_with(path), path, "not a trusted key")
        self.assertIn(self.key_id(other_pub), self.run_with(path).err)
        # A signature file copied from another profile signed by the trusted key: no match.
        other = self.box.write_profile("other", 'version = 1\nextends = ["default"]\n')
        self.sign(trusted_sec, other)
        shutil.copy(other + ".minisig", path + ".minisig")
        self.assertRefused(self.run_with(path), path, "does not match the file")
        # Signatures required and no key configured: nothing is trusted.
        with open(os.path.join(self.etc, "config.toml"), "w") as f:
            f.write("require_signed_profiles = true\n")
        self.assertRefused(self.run_with(other), other, "no trusted_keys")

    def test_trusted_comment_tamper_fails(self):
        sec, pub, line = self.agentbox_keygen("ab")
        self.require(line)
        path = self.box.write_profile("signed", PROFILE)
        res = self.agentbox("profile", "sign", "-s", sec, "-t", "release 1.0", path)
        self.assertEqual(res.rc, 0, res)
        with open(path + ".minisig") as f:
            sig = f.read()
        with open(path + ".minisig", "w") as f:
            f.write(sig.replace("release 1.0", "release 2.0"))
        self.assertRefused(self.run_with(path), path, "trusted comment")
        if MINISIGN is not None:  # minisign agrees
            self.assertNotEqual(self.host_run([MINISIGN, "-V", "-p", pub, "-m", path]).rc, 0)

    def test_log_records_key_id(self):
        sec, pub, line = self.agentbox_keygen("ab")
        self.require(line)
        path = self.box.write_profile("signed", PROFILE)
        self.sign(sec, path)
        self.assertRc(self.run_with(path), 0)
        with open(os.path.join(self.box.sessions()[-1], "log.jsonl")) as f:
            start = json.loads(f.readline())
        self.assertEqual(start["event"], "session.start")
        by_path = {p["path"]: p for p in start["profiles"]}
        self.assertEqual(by_path[path]["key_id"], self.key_id(pub), start["profiles"])
        self.assertEqual(by_path["<builtin:default>"]["key_id"], "builtin", start["profiles"])

    def test_without_requirement_unsigned_profiles_run(self):
        path = self.box.write_profile("plain", PROFILE)
        res = self.run_with(path)
        self.assertRc(res, 0)
        with open(os.path.join(self.box.sessions()[-1], "log.jsonl")) as f:
            start = json.loads(f.readline())
        self.assertIsNone({p["path"]: p for p in start["profiles"]}[path]["key_id"])

    def test_malformed_trusted_key_is_a_config_error(self):
        with open(os.path.join(self.etc, "config.toml"), "w") as f:
            f.write('require_signed_profiles = true\ntrusted_keys = ["RWnotakey"]\n')
        path = self.box.write_profile("plain", PROFILE)
        res = self.run_with(path)
        self.assertRc(res, EXIT_SETUP)
        self.assertIn("config.toml:2", res.err)
        with open(os.path.join(self.etc, "config.toml"), "w") as f:
            f.write("require_signed_profile = true\n")
        res = self.run_with(path)
        self.assertRc(res, EXIT_SETUP)
        self.assertIn("did you mean", res.err)


if __name__ == "__main__":
    abtest.main()
