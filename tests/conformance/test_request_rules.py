#!/usr/bin/python3
"""Conformance: request rules (agentbox-profile(5) network.request, agentbox(1) explain
request). Per host, the methods and path patterns that may pass; every other request to that
host is refused with 403 before it reaches the server, over plain HTTP and over HTTPS (the
host is intercepted for it, with the run's CA, without any secret). Each decision is logged
with method and path, never the query, a header value or the body.

Loopback HTTP and HTTPS servers (the HTTPS one with a test CA, trusted by the proxy through
AGENTBOX_TEST_CA) stand in for the hosts and record what arrived; every test is named after
the attack it tries.
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import BoxTest  # noqa: E402
import proxytest  # noqa: E402
from proxytest import inside_script, proxy_args, resolve_env  # noqa: E402
from test_secrets import server, log_events  # noqa: E402

NAMES = {"api.test": "127.0.0.1", "open.test": "127.0.0.1"}
RULES = ["read-only api.test", "POST api.test/repos/acme/**"]


class RequestRules(BoxTest):
    def setUp(self):
        super().setUp()
        self.http = server(self)
        self.https = server(self, ["api.test", "open.test"], proxytest.tmpdir(self))
        self.env = dict(resolve_env(NAMES), AGENTBOX_TEST_CA=self.https.cert)
        hosts = []
        for name in ("api.test", "open.test"):
            hosts += ["%s:%d" % (name, self.http.port), "%s:%d" % (name, self.https.port)]
        # The loopback address the test resolver gives must itself be allowed (private).
        hosts += ["127.0.0.1:%d" % self.http.port, "127.0.0.1:%d" % self.https.port]
        self.args = proxy_args(*hosts)
        self.profile = self.rules(RULES)

    def rules(self, rules, name="rules"):
        return self.box.write_profile(name, 'version = 1\nextends = ["default"]\n[network]\n'
                                      'request = [\n' + "".join('  "%s",\n' % r for r in rules)
                                      + "]\n")

    def run_in(self, cmd, profile=None, **kw):
        return self.box.run(cmd, profiles=[profile or self.profile], args=self.args,
                            env=self.env, **kw)

    def codes(self, *requests, scheme="https"):
        """Run curl once per (METHOD, PATH) to api.test; returns the status codes."""
        port = self.https.port if scheme == "https" else self.http.port
        how = {"POST": "-X POST -d x", "HEAD": "-I"}
        script = "; ".join('curl -sS --path-as-is -o /dev/null -w "%%{http_code}\\n" %s '
                           '"%s://api.test:%d%s"' % (how.get(m, "-X " + m), scheme, port, p)
                           for m, p in requests)
        res = self.run_in(["sh", "-c", script])
        self.assertRc(res, 0)
        return res.out.split(), res

    def srv(self, scheme):
        return self.https if scheme == "https" else self.http

    def decisions(self):
        return [e for e in log_events(self.box) if e["event"] == "decision" and e.get("op") == "request"]

    # ---- methods

    def test_post_to_get_only_host_refused(self):
        for scheme in ("https", "http"):
            with self.subTest(scheme=scheme):
                srv = self.srv(scheme)
                del srv.hits[:]
                codes, res = self.codes(("POST", "/user/repos"), ("DELETE", "/user"),
                                        ("GET", "/user"), ("HEAD", "/user"), scheme=scheme)
                self.assertEqual(codes, ["403", "403", "200", "200"], res)
                self.assertEqual([h[:2] for h in srv.hits], [("GET", "/user"), ("HEAD", "/user")])

    def test_refusal_says_why_and_names_the_rule(self):
        res = self.run_in(["curl", "-sS", "-X", "PUT", "https://api.test:%d/user" % self.https.port])
        self.assertIn("read-only api.test", res.out, res)
        self.assertIn("%s:" % self.profile, res.out, res)
        self.assertEqual(self.https.hits, [])

    def test_post_outside_the_allowed_prefix_refused(self):
        codes, res = self.codes(("POST", "/repos/acme/widget/issues"), ("POST", "/repos/other/x"),
                                ("POST", "/repos/acmecorp/x"), ("POST", "/repos/acme"))
        self.assertEqual(codes, ["200", "403", "403", "200"], res)
        self.assertEqual([h[1] for h in self.https.hits], ["/repos/acme/widget/issues", "/repos/acme"])

    # ---- paths that try to leave the prefix

    def test_dotdot_path_escapes_prefix_rule_refused(self):
        for scheme in ("https", "http"):
            with self.subTest(scheme=scheme):
                srv = self.srv(scheme)
                del srv.hits[:]
                codes, res = self.codes(("POST", "/repos/acme/../other/x"),
                                        ("POST", "/repos/acme/%2e%2e/other/x"),
                                        ("POST", "/repos/acme/%2E%2e/other/x"),
                                        ("POST", "/repos/acme/..;/other/x"),
                                        ("POST", "/repos/acme/..%3b/other/x"), scheme=scheme)
                self.assertEqual(codes, ["403"] * 5, res)
                self.assertEqual(srv.hits, [], "a request that left the prefix reached the server")

    def test_encoded_slash_and_double_slash_paths_refused(self):
        codes, res = self.codes(("POST", "/repos/acme%2f..%2fother/x"),
                                ("POST", "/repos/acme//../other"),
                                ("POST", "/repos/acme/x%5c..%5c..%5cother"),
                                ("GET", "/a/%00/b"))
        self.assertEqual(codes, ["403"] * 4, res)
        self.assertEqual(self.https.hits, [])

    def test_dotdot_inside_the_prefix_reaches_the_server_normalized(self):
        # The server sees the path that was judged, not the one that was sent.
        codes, res = self.codes(("POST", "/repos/acme/x/../y?q=1"), ("GET", "/%72epos/a/./b"))
        self.assertEqual(codes, ["200", "200"], res)
        self.assertEqual([h[1] for h in self.https.hits], ["/repos/acme/y?q=1", "/repos/a/b"])

    # ---- every request on a connection

    def test_second_request_on_keepalive_judged(self):
        for scheme in ("https", "http"):
            with self.subTest(scheme=scheme):
                srv = self.srv(scheme)
                del srv.hits[:]
                port = srv.port
                cmd = inside_script(self.box, "keepalive.py", r'''
import http.client, os, ssl
if "%(scheme)s" == "https":
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    c = http.client.HTTPSConnection(PROXY[0], PROXY[1], context=ctx)
    c.set_tunnel("api.test", %(port)d)
    url = lambda p: p
else:
    c = http.client.HTTPConnection(PROXY[0], PROXY[1])
    url = lambda p: "http://api.test:%(port)d" + p
c.request("GET", url("/first"))
r = c.getresponse(); r.read()
print(r.status, "same-connection" if c.sock is not None else "closed")
c.request("POST", url("/second"), body=b"smuggled")
r = c.getresponse(); r.read()
print(r.status)
''' % {"scheme": scheme, "port": port})
                res = self.run_in(cmd)
                self.assertRc(res, 0)
                self.assertEqual(res.out.split(), ["200", "same-connection", "403"], res)
                self.assertEqual([h[:2] for h in srv.hits], [("GET", "/first")])

    def test_pipelined_second_request_judged(self):
        cmd = inside_script(self.box, "pipeline.py", r'''
u = "http://api.test:%d"
out = raw(("GET %%s/ok HTTP/1.1\r\nHost: api.test\r\n\r\n"
           "DELETE %%s/gone HTTP/1.1\r\nHost: api.test\r\n\r\n" %% (u, u)).encode())
import re
print(" ".join(s.decode() for s in re.findall(rb"HTTP/1\.1 (\d\d\d) ", out)))
''' % self.http.port)
        res = self.run_in(cmd)
        self.assertRc(res, 0)
        self.assertEqual(res.out.split(), ["200", "403"], res)
        self.assertEqual([h[:2] for h in self.http.hits], [("GET", "/ok")])

    def test_request_pipelined_after_a_spliced_body_judged(self):
        # A body longer than what the proxy read with its head moves by splice(2), exactly its
        # length (Content-Length, or a large chunk's data): the request written right after
        # it is still found, parsed and judged, never passed along as the body's tail.
        n = 1 << 20
        cmd = inside_script(self.box, "spliced.py", r'''
import re
u = "http://api.test:%(port)d"
n = %(n)d
length = ("POST %%s/repos/acme/a HTTP/1.1\r\nHost: api.test\r\nContent-Length: %%d\r\n\r\n"
          %% (u, n)).encode() + b"z" * n
chunked = ("POST %%s/repos/acme/b HTTP/1.1\r\nHost: api.test\r\n"
           "Transfer-Encoding: chunked\r\n\r\n%%x\r\n" %% (u, n)).encode() + b"z" * n + b"\r\n0\r\n\r\n"
deny = ("DELETE %%s/repos/acme/gone HTTP/1.1\r\nHost: api.test\r\n\r\n" %% u).encode()
for first in (length, chunked):
    out = raw(first + deny)
    print(" ".join(s.decode() for s in re.findall(rb"HTTP/1\.1 (\d\d\d) ", out)), "|",
          " ".join(s.decode() for s in re.findall(rb"got (\d+) bytes", out)))
''' % {"port": self.http.port, "n": n})
        res = self.run_in(cmd)
        self.assertRc(res, 0)
        self.assertEqual(res.out.strip().splitlines(), ["200 403 | %d" % n] * 2, res)
        self.assertEqual([h[:2] for h in self.http.hits],
                         [("POST", "/repos/acme/a"), ("POST", "/repos/acme/b")])

    # ---- interception cannot be sidestepped

    def test_plaintext_through_a_tunnel_to_a_ruled_host_never_reaches_it(self):
        # CONNECT, then HTTP instead of TLS: the proxy expects a TLS handshake to intercept.
        cmd = inside_script(self.box, "plain_tunnel.py", r'''
s = socket.create_connection(PROXY, timeout=20)
s.sendall(b"CONNECT api.test:%d HTTP/1.1\r\nHost: api.test\r\n\r\n")
print(read_head(s).split(b" ")[1].decode())
s.sendall(b"DELETE /repo HTTP/1.1\r\nHost: api.test\r\n\r\n")
s.settimeout(5)
try:
    print(repr(s.recv(100)[:12]))
except OSError as e:
    print("error")
''' % self.http.port)
        res = self.run_in(cmd)
        self.assertRc(res, 0)
        self.assertEqual(self.http.hits, [], res)

    def test_intercepted_request_whose_host_names_another_host_refused(self):
        # The tunnel was opened (and judged) for api.test; a Host naming open.test inside it
        # would ask the server for a virtual host no rule allowed. Refused, never rewritten.
        cmd = inside_script(self.box, "foreign_host.py", r'''
import http.client, os, ssl
ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
for host in ("open.test", "api.test:1", "api.test"):
    c = http.client.HTTPSConnection(PROXY[0], PROXY[1], context=ctx)
    c.set_tunnel("api.test", %d)
    c.putrequest("GET", "/x", skip_host=True)
    c.putheader("Host", host)
    c.endheaders()
    r = c.getresponse(); r.read()
    print(r.status)
    c.close()
''' % self.https.port)
        res = self.run_in(cmd)
        self.assertRc(res, 0)
        self.assertEqual(res.out.split(), ["421", "421", "200"], res)
        self.assertEqual([h[:2] for h in self.https.hits], [("GET", "/x")])

    def test_host_without_rules_is_not_intercepted(self):
        # open.test has no request rule: its TLS goes through untouched, so the client sees
        # the server's own certificate (trusted here with --cacert), not the run's CA.
        res = self.box.run(["curl", "-sS", "--fail-with-body", "--cacert", self.https.cert,
                            "-d", "x", "https://open.test:%d/x" % self.https.port],
                           profiles=[self.profile], env=self.env,
                           args=self.args + ["--ro", os.path.dirname(self.https.cert)])
        self.assertRc(res, 0)
        self.assertEqual([h[:2] for h in self.https.hits], [("POST", "/x")])
        self.assertEqual(self.decisions(), [])

    # ---- the log

    def test_query_string_not_logged(self):
        # From a script in the project: the command line is in the session's files.
        with open(os.path.join(self.box.project, "q.sh"), "w") as f:
            f.write('curl -sS -o /dev/null -H "Authorization: Bearer hdr-VALUE-123" '
                    '"https://api.test:%d/search?token=query-VALUE-456"\n'
                    'curl -sS -o /dev/null -X POST -d body-VALUE-789 '
                    '"https://api.test:%d/repos/x?token=query-VALUE-456"\n'
                    % (self.https.port, self.https.port))
        res = self.run_in(["sh", "q.sh"])
        self.assertRc(res, 0)
        for s in self.box.sessions():
            for root, _, files in os.walk(s):
                for f in files:
                    with open(os.path.join(root, f), "rb") as fh:
                        data = fh.read()
                    for v in (b"query-VALUE-456", b"hdr-VALUE-123", b"body-VALUE-789"):
                        self.assertNotIn(v, data, os.path.join(root, f))
        self.assertEqual([(e["method"], e["path"], e["verdict"]) for e in self.decisions()],
                         [("GET", "/search", "allow"), ("POST", "/repos/x", "deny")])

    def test_decision_logged_with_method_path_host_and_rule_file_line(self):
        codes, res = self.codes(("GET", "/user"), ("POST", "/repos/acme/w"), ("PATCH", "/repos/acme/w"))
        self.assertEqual(codes, ["200", "200", "403"], res)
        ds = self.decisions()
        self.assertEqual([(e["method"], e["path"], e["host"], e["port"], e["verdict"]) for e in ds],
                         [("GET", "/user", "api.test", self.https.port, "allow"),
                          ("POST", "/repos/acme/w", "api.test", self.https.port, "allow"),
                          ("PATCH", "/repos/acme/w", "api.test", self.https.port, "deny")], ds)
        self.assertEqual(ds[0]["rule"], 'network.request "read-only api.test"')
        self.assertEqual(ds[0]["source"], self.profile + ":5:3")
        self.assertEqual(ds[1]["source"], self.profile + ":6:3")
        # The nearest rule: the most specific one whose path matched.
        self.assertEqual(ds[2]["source"], self.profile + ":6:3")
        self.assertIn("reason", ds[2])

    # ---- profile and explain

    def test_request_rules_outside_proxy_mode_refused(self):
        prof = self.box.write_profile("hostnet", 'version = 1\nextends = ["default"]\n[network]\n'
                                      'mode = "host"\nrequest = ["read-only api.test"]\n')
        res = self.box.run(["true"], profiles=[prof])
        self.assertRc(res, 125)  # agentbox refused, before the command
        self.assertIn("request rules work only through the proxy", res.err, res)

    def test_bad_rule_refused_with_file_line_col(self):
        prof = self.rules(["read-only api.test", "POST api.test/repos/../x"], name="bad")
        res = self.box.run(["true"], profiles=[prof], args=self.args)
        self.assertNotEqual(res.rc, 0, res)
        self.assertIn(prof + ":6:3:", res.err, res)
        self.assertIn("dot segment", res.err, res)

    def explain(self, *args):
        p = subprocess.run([abtest.AGENTBOX, "explain", "-C", self.box.project, "-p", self.profile]
                           + list(args), capture_output=True, text=True, env=self.box.env(None))
        return p.returncode, p.stdout, p.stderr

    def test_explain_request_answers_like_the_other_explain_ops(self):
        line5 = 'request = ["read-only api.test", "POST api.test/repos/acme/**"]'
        prof = self.box.write_profile("explain", 'version = 1\nextends = ["default"]\n[network]\n'
                                      'allow = ["api.test"]\n' + line5 + '\n')
        col = line5.index('"POST') + 1
        self.profile = prof
        rc, out, err = self.explain("request", "GET", "https://api.test/user?x=1")
        self.assertEqual(rc, 0, out + err)
        self.assertIn(prof + ":5:", out)
        rc, out, err = self.explain("request", "POST", "https://api.test/repos/acme/../x")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("POST api.test/repos/x matches no", out)  # judged in normal form
        rc, out, err = self.explain("request", "GET", "https://api.test/../x")
        self.assertEqual(rc, 1, out + err)
        self.assertIn("request path", out)
        rc, out, err = self.explain("--json", "request", "DELETE", "http://api.test/repos/acme/x")
        self.assertEqual(rc, 1, out + err)
        j = json.loads(out)
        self.assertEqual((j["op"], j["verdict"], j["source"]), ("request", "deny", "%s:5:%d" % (prof, col)))
        rc, out, err = self.explain("request", "GET", "https://elsewhere.test/")
        self.assertEqual(rc, 1, out + err)
        rc, out, err = self.explain("request", "GET")
        self.assertEqual(rc, 2, out + err)


if __name__ == "__main__":
    abtest.main()
