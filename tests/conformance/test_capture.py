#!/usr/bin/python3
"""Conformance: tools that ignore the proxy variables (DESIGN.md §6, network.capture).

A static Go binary with its own resolver, a JVM, `curl --noproxy '*'`: in proxy mode they reach
allowed hosts by name through the sandbox's DNS (127.0.0.1:53 inside, synthetic addresses) and
the supervisor's capture of their connects, and are refused at every other host, with no DNS
query ever leaving the sandbox. Loopback servers started by the test stand in for the hosts
(AGENTBOX_TEST_RESOLVE maps their names to 127.0.0.1); every test checks from the host side
what arrived, and from the log what was decided.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import BoxTest  # noqa: E402
import proxytest  # noqa: E402
from proxytest import log_events  # noqa: E402
from proxytest import inside_script, proxy_args, resolve_env  # noqa: E402

# A resolver of its own, as a static Go binary has: it reads resolv.conf, asks the nameserver
# there over UDP from a connected socket, and connects to the address it is given.
OWN_RESOLVER = r'''
import struct, errno, os

def nameserver():
    for line in open("/etc/resolv.conf"):
        f = line.split()
        if len(f) >= 2 and f[0] == "nameserver":
            return f[1]
    return "127.0.0.1"

def lookup(name, qtype=1):
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 1)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.connect((nameserver(), 53))
    u.send(q)
    a = u.recv(512)
    rcode = a[3] & 0xf
    ancount = struct.unpack(">H", a[6:8])[0]
    addrs = []
    if ancount and qtype == 1:
        addrs.append(socket.inet_ntoa(a[-4:]))
    return rcode, addrs

def get(addr, port, host, blocking=True):
    c = socket.socket()
    c.settimeout(10)
    if not blocking:
        c.setblocking(False)
        e = c.connect_ex((addr, port))
        print("nonblocking connect", errno.errorcode.get(e, e))
        import select
        select.select([], [c], [], 10)
        print("SO_ERROR", c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
        c.setblocking(True)
        c.settimeout(10)
    else:
        c.connect((addr, port))
    c.sendall(b"GET /own HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
    out = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        out += b
    return out
'''


class _Handler(proxytest._Handler):
    """Records the Authorization each request arrived with."""

    def _record(self):
        super()._record()
        self.server.auth.append(self.headers.get("Authorization"))


class Capture(BoxTest):
    def setUp(self):
        super().setUp()
        self.srv = proxytest.http_server(self, handler=_Handler)
        self.srv.auth = []
        self.port = self.srv.port
        self.env = resolve_env({"allowed.test": "127.0.0.1", "evil.test": "127.0.0.1"})
        self.allow = proxy_args("allowed.test:%d" % self.port, "127.0.0.1:%d" % self.port)

    def run_inside(self, body, args=None, env=None, rc=0):
        res = self.box.run(inside_script(self.box, "tool.py", OWN_RESOLVER + body),
                           args=args or self.allow, env=env or self.env)
        self.assertRc(res, rc)
        return res

    def test_noproxy_curl_reaches_allowed_host_by_name(self):
        res = self.box.run(["curl", "-sS", "--noproxy", "*", "http://allowed.test:%d/" % self.port],
                           args=self.allow, env=self.env)
        self.assertRc(res, 0)
        self.assertIn("hello from the loopback server host=allowed.test:%d" % self.port, res.out)
        self.assertEqual(len(self.srv.hits), 1, self.srv.hits)
        # And with no proxy variable at all, as a tool that never heard of them.
        res = self.box.run(["env", "-u", "HTTP_PROXY", "-u", "http_proxy", "-u", "ALL_PROXY",
                            "-u", "all_proxy", "curl", "-sS",
                            "http://allowed.test:%d/again" % self.port],
                           args=self.allow, env=self.env)
        self.assertRc(res, 0)
        self.assertEqual([h[1] for h in self.srv.hits], ["/", "/again"])

    def test_noproxy_curl_to_denied_name_does_not_resolve(self):
        res = self.box.run(["curl", "-sS", "--noproxy", "*", "http://evil.test:%d/" % self.port],
                           args=self.allow, env=self.env)
        self.assertEqual(res.rc, 6, res)  # curl: could not resolve host
        self.assertEqual(self.srv.hits, [])

    def test_own_resolver_client_denied_host_refused(self):
        res = self.run_inside(r'''
print("evil", lookup("evil.test"))
print("evil6", lookup("evil.test", 28))
rc, addrs = lookup("allowed.test")
print("allowed", rc, addrs)
print("allowed6", lookup("allowed.test", 28))
print(get(addrs[0], %d, "allowed.test").split(b"\r\n")[0])
# A denied host by its address, past the DNS: refused before anything connects.
for addr in ("93.184.216.34", "10.0.0.1", "198.18.200.1"):
    try:
        get(addr, %d, "evil.test")
        print(addr, "connected")
    except OSError as e:
        print(addr, "errno", errno.errorcode.get(e.errno, e.errno))
''' % (self.port, self.port))
        self.assertIn("evil (3, [])", res.out, res)     # NXDOMAIN
        self.assertIn("evil6 (3, [])", res.out, res)
        self.assertIn("allowed 0 ['198.18.0.1']", res.out, res)
        self.assertIn("allowed6 (0, [])", res.out, res)  # no AAAA: the client uses A
        self.assertIn("HTTP/1.1 200 OK", res.out, res)
        self.assertIn("93.184.216.34 errno ECONNREFUSED", res.out, res)
        self.assertIn("10.0.0.1 errno ECONNREFUSED", res.out, res)
        self.assertIn("198.18.200.1 errno ENETUNREACH", res.out, res)  # never handed out
        self.assertEqual([h[1] for h in self.srv.hits], ["/own"], res)

    def test_v4_mapped_v6_connects_decided_as_their_v4_address(self):
        # ::ffff:a.b.c.d on an IPv6 socket is a.b.c.d on the wire: decided as that address,
        # whether it is an allowed synthetic one, a denied host, or the sandbox's loopback.
        res = self.run_inside(r'''
def get6(addr, port, host):
    c = socket.socket(socket.AF_INET6)
    c.settimeout(10)
    c.connect(("::ffff:" + addr, port))
    c.sendall(b"GET /own6 HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
    return c.recv(65536).split(b"\r\n")[0]
rc, addrs = lookup("allowed.test")
print("mapped allowed", get6(addrs[0], %d, "allowed.test"))
for addr in ("93.184.216.34", "198.18.200.1", "127.0.0.2"):
    try:
        get6(addr, %d, "evil.test")
        print("mapped", addr, "connected")
    except OSError as e:
        print("mapped", addr, "errno", errno.errorcode.get(e.errno, e.errno))
l = socket.socket(socket.AF_INET6); l.bind(("::", 0)); l.listen(1)
c = socket.socket(socket.AF_INET6); c.connect(("::ffff:127.0.0.1", l.getsockname()[1]))
print("mapped loopback", l.accept()[1][0])
''' % (self.port, self.port))
        self.assertIn("mapped allowed b'HTTP/1.1 200 OK'", res.out, res)
        self.assertIn("mapped 93.184.216.34 errno ECONNREFUSED", res.out, res)
        self.assertIn("mapped 198.18.200.1 errno ENETUNREACH", res.out, res)
        # Loopback inside, not captured: nothing listens there.
        self.assertIn("mapped 127.0.0.2 errno ECONNREFUSED", res.out, res)
        self.assertIn("mapped loopback ::ffff:127.0.0.1", res.out, res)
        self.assertEqual([h[1] for h in self.srv.hits], ["/own6"], res)

    def test_nonblocking_connect_to_allowed_name_completes(self):
        # Go and Node connect non-blocking and wait for writability: EINPROGRESS, then 0.
        res = self.run_inside(r'''
rc, addrs = lookup("allowed.test")
print(get(addrs[0], %d, "allowed.test", blocking=False).split(b"\r\n")[0])
''' % self.port)
        self.assertIn("SO_ERROR 0", res.out, res)
        self.assertIn("HTTP/1.1 200 OK", res.out, res)
        self.assertEqual(len(self.srv.hits), 1)

    def test_dns_to_outside_address_goes_nowhere(self):
        # A host-side DNS server on every address of this host: nothing may reach it.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        udp.bind(("0.0.0.0", 0))
        udp.settimeout(0.5)
        hport = udp.getsockname()[1]
        res = self.run_inside(r'''
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
for ns, port in (("8.8.8.8", 53), ("1.1.1.1", 53), ("192.168.1.1", 53), ("198.18.0.1", 53),
                 ("10.0.0.2", %d)):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    try:
        u.sendto(q, (ns, port)); print("sent", ns, u.recvfrom(512)[1])
    except OSError as e:
        print("udp", ns, "errno", errno.errorcode.get(e.errno, e.errno))
    try:
        u.connect((ns, port)); u.send(q); print("sent connected", ns)
    except OSError as e:
        print("udp connected", ns, "errno", errno.errorcode.get(e.errno, e.errno))
    t = socket.socket()
    t.settimeout(2)
    try:
        t.connect((ns, 53)); print("tcp", ns, "connected")
    except OSError as e:
        print("tcp", ns, "errno", errno.errorcode.get(e.errno, e.errno))
# The proof that nothing can leave: no route but the loopback's, no interface but lo.
print("routes", [l.split()[:2] for l in open("/proc/net/route").read().splitlines()[1:]])
print("links", sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]))
print("example.com", lookup("example.com"))
''' % hport)
        self.assertNotIn("sent", res.out, res)
        for ns in ("8.8.8.8", "1.1.1.1", "192.168.1.1", "198.18.0.1", "10.0.0.2"):
            self.assertIn("udp %s errno ENETUNREACH" % ns, res.out, res)
            self.assertIn("udp connected %s errno ENETUNREACH" % ns, res.out, res)
        self.assertIn("tcp 8.8.8.8 errno ECONNREFUSED", res.out, res)  # captured, denied
        self.assertIn("routes []", res.out, res)
        self.assertIn("links ['lo']", res.out, res)
        self.assertIn("example.com (3, [])", res.out, res)  # answered inside, NXDOMAIN
        self.assertRaises(socket.timeout, udp.recvfrom, 512)

    def test_captured_connection_logged_like_proxied(self):
        res = self.box.run(["sh", "-c", "curl -sS --noproxy '*' http://allowed.test:%d/ && "
                            "curl -sS --noproxy '*' http://93.184.216.34:%d/; true"
                            % (self.port, self.port)], args=self.allow, env=self.env)
        self.assertRc(res, 0)
        ev = log_events(self.box)
        resolve = [e for e in ev if e.get("event") == "decision" and e.get("op") == "resolve"]
        self.assertIn(("allowed.test", "allow"), [(e["target"], e["verdict"]) for e in resolve], ev)
        conn = [e for e in ev if e.get("event") == "net.connect"]
        self.assertEqual(len(conn), 1, conn)
        self.assertEqual(conn[0]["host"], "allowed.test")
        self.assertEqual(str(conn[0]["port"]), str(self.port))
        self.assertEqual(conn[0]["verdict"], "allow")
        self.assertEqual(conn[0]["method"], "CONNECT")
        self.assertEqual(conn[0]["captured"], "198.18.0.1:%d" % self.port)
        self.assertEqual(conn[0]["address"], "127.0.0.1")
        self.assertTrue([e for e in ev if e.get("event") == "net.close" and
                         e.get("host") == "allowed.test"], ev)
        denied = [e for e in ev if e.get("event") == "decision" and e.get("op") == "connect"
                  and e.get("captured")]
        self.assertEqual([(e["target"], e["verdict"], e["rule"]) for e in denied],
                         [("93.184.216.34:%d" % self.port, "deny", 'network.unlisted "deny"')], ev)

    def test_secret_swap_on_captured_connection(self):
        import test_secrets
        real = "sk-ant-api03-" + os.urandom(24).hex()
        https = test_secrets.server(self, ["api.test"], proxytest.tmpdir(self))
        env = dict(resolve_env({"api.test": "127.0.0.1"}), ANTHROPIC_API_KEY=real,
                   AGENTBOX_TEST_CA=https.cert)
        args = proxy_args("api.test:%d" % https.port, "127.0.0.1:%d" % https.port) + [
            "--secret", "ANTHROPIC_API_KEY@api.test"]
        res = self.box.run(["sh", "-c", 'curl -sS --fail-with-body --noproxy "*" -H "x-api-key: '
                            '$ANTHROPIC_API_KEY" https://api.test:%d/v1/messages' % https.port],
                           args=args, env=env)
        self.assertRc(res, 0)
        self.assertNotIn(real, res.out + res.err)
        self.assertEqual([h.get("x-api-key") for h in https.headers], [real], res)
        conn = [e for e in log_events(self.box) if e.get("event") == "net.connect"]
        self.assertEqual([c.get("captured") for c in conn], ["198.18.0.1:%d" % https.port])

    # ---- captured plain HTTP is inspected request by request, as a proxied request is

    def captured_plain(self, names=("allowed.test", "other.test")):
        """Names of the loopback plain server, allowed; (env, args) for a run."""
        env = resolve_env({n: "127.0.0.1" for n in names})
        hosts = ["%s:%d" % (n, self.port) for n in names] + ["127.0.0.1:%d" % self.port]
        return env, proxy_args(*hosts)

    def test_captured_plain_request_violating_request_rule_refused(self):
        env, args = self.captured_plain()
        prof = self.box.write_profile("rules", 'version = 1\nextends = ["default"]\n'
                                      '[network]\nrequest = ["read-only allowed.test"]\n')
        url = "http://allowed.test:%d" % self.port
        res = self.box.run(["sh", "-c", 'curl -sS --noproxy "*" -o /dev/null -w "%%{http_code}\\n" '
                            '-X POST -d smuggled %s/post; curl -sS --noproxy "*" %s/get'
                            % (url, url)], profiles=[prof], args=args, env=env)
        self.assertRc(res, 0)
        self.assertEqual(res.out.split()[0], "403", res)
        self.assertIn("hello from the loopback server", res.out, res)
        self.assertEqual([h[:2] for h in self.srv.hits], [("GET", "/get")], res)
        ds = [(e["method"], e["path"], e["verdict"]) for e in log_events(self.box)
              if e.get("event") == "decision" and e.get("op") == "request"]
        self.assertEqual(ds, [("POST", "/post", "deny"), ("GET", "/get", "allow")])

    def test_captured_plain_stand_in_swapped_only_for_bound_host(self):
        env, args = self.captured_plain()
        real = "tok-" + os.urandom(16).hex()
        env = dict(env, TOKEN=real)
        args = args + ["--secret", "TOKEN@allowed.test"]
        res = self.box.run(["sh", "-c",
                            'for h in allowed.test other.test; do curl -sS --noproxy "*" -o '
                            '/dev/null -w "%%{http_code}\\n" -H "Authorization: Bearer $TOKEN" '
                            'http://$h:%d/$h; done; true' % self.port], args=args, env=env)
        self.assertRc(res, 0)
        self.assertEqual(res.out.split()[0], "200", res)  # the second: reset, no status
        self.assertEqual([h[1] for h in self.srv.hits], ["/allowed.test"], res)
        self.assertEqual(self.srv.auth, ["Bearer " + real])
        ev = log_events(self.box)
        sec = [(e["verdict"], e["host"]) for e in ev if e.get("event") == "net.secret"]
        self.assertEqual(sec, [("allow", "allowed.test"), ("deny", "other.test")], ev)
        self.assertNotIn(real, res.out + res.err)

    def test_captured_plain_host_header_naming_another_host_refused(self):
        env, args = self.captured_plain(("allowed.test", "evil.test"))
        args = proxy_args("allowed.test:%d" % self.port, "127.0.0.1:%d" % self.port)
        res = self.box.run(["sh", "-c", 'curl -sS --noproxy "*" -H "Host: evil.test:%d" '
                            'http://allowed.test:%d/first; echo rc=$?' % (self.port, self.port)],
                           args=args, env=env)
        self.assertIn("rc=56", res.out, res)  # reset by the proxy
        self.assertEqual(self.srv.hits, [], res)
        # One step later: a first request for the right host, a second on the same connection
        # for another.
        res = self.box.run(inside_script(self.box, "two.py", r'''
import socket
c = socket.create_connection(("allowed.test", %d), timeout=10)
c.sendall(b"GET /one HTTP/1.1\r\nHost: allowed.test:%d\r\n\r\n")
print(c.recv(65536).split(b"\r\n")[0])
try:
    c.sendall(b"GET /two HTTP/1.1\r\nHost: evil.test\r\n\r\n")
    print("second", c.recv(65536))
except OSError as e:
    print("second", e)
''' % (self.port, self.port)), args=args, env=env)
        self.assertRc(res, 0)
        self.assertIn("HTTP/1.1 200 OK", res.out, res)
        self.assertNotIn("second b'HTTP", res.out, res)
        self.assertEqual([h[1] for h in self.srv.hits], ["/one"], res)
        errs = [e for e in log_events(self.box) if e.get("event") == "net.error"]
        self.assertEqual([(e["host"], e["path"]) for e in errs], [("allowed.test", "/two")], errs)
        self.assertIn("evil.test", errs[0]["reason"])
        self.assertEqual(errs[0]["captured"], "198.18.0.1:%d" % self.port)

    def test_captured_plain_request_with_credential_refused(self):
        env, args = self.captured_plain()
        args = args + ["--secret", "TOKEN@allowed.test"]
        env = dict(env, TOKEN="tok-" + os.urandom(8).hex())
        token = "ghp_" + os.urandom(18).hex()
        with open(os.path.join(self.box.project, "tok.txt"), "w") as f:
            f.write(token)
        res = self.box.run(["sh", "-c", 'curl -sS --noproxy "*" -o /dev/null -w "%%{http_code}" '
                            '-H "X-Note: $(cat tok.txt)" http://other.test:%d/' % self.port],
                           args=args, env=env)
        self.assertEqual(res.out.strip(), "403", res)
        self.assertEqual(self.srv.hits, [], res)
        dlp = [e for e in log_events(self.box) if e.get("event") == "net.dlp"]
        self.assertEqual([(e["host"], e["rule"]) for e in dlp], [("other.test", "github-token")],
                         dlp)

    def test_capture_required_but_unsupported_fails_closed(self):
        prof = self.box.write_profile("capture", 'version = 1\nextends = ["default"]\n'
                                      '[network]\ncapture = true\n')
        env = dict(self.env, AGENTBOX_TEST_NO_USER_NOTIF="1")
        res = self.box.run(["curl", "-sS", "--noproxy", "*", "http://allowed.test:%d/" % self.port],
                           profiles=[prof], args=self.allow, env=env)
        self.assertRc(res, abtest.EXIT_SETUP)
        self.assertIn("network.capture true", res.err, res)
        self.assertIn("seccomp user notification", res.err, res)
        self.assertEqual(self.srv.hits, [])
        # Not required: the run goes on without it, and says so.
        res = self.box.run(["true"], args=self.allow + ["--dry-run"], env=env)
        self.assertIn("network.capture: off", res.out + res.err, res)

    def test_capture_false_leaves_tools_without_the_proxy_unconnected(self):
        prof = self.box.write_profile("nocapture", 'version = 1\nextends = ["default"]\n'
                                      '[network]\ncapture = false\n')
        res = self.box.run(["curl", "-sS", "--noproxy", "*", "http://allowed.test:%d/" % self.port],
                           profiles=[prof], args=self.allow, env=self.env)
        self.assertNotEqual(res.rc, 0, res)
        self.assertEqual(self.srv.hits, [])
        # The proxy itself still works.
        res = self.box.run(["curl", "-sS", "http://allowed.test:%d/" % self.port],
                           profiles=[prof], args=self.allow, env=self.env)
        self.assertRc(res, 0)


if __name__ == "__main__":
    abtest.main()
