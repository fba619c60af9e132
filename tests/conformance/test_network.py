#!/usr/bin/python3
"""Conformance: network mode none (THREATS.md "Network": every protocol and family).

The test starts servers on the host's loopback (and on its other addresses) and checks from the
HOST side that none of them ever saw a connection or a datagram from inside.
"""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import BoxTest, probe  # noqa: E402

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


if __name__ == "__main__":
    abtest.main()
