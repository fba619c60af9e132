#!/usr/bin/python3
"""Conformance: unix sockets (THREATS.md "Files", issue 18 #8).

A grant shows socket files like any other file, and connecting to one needs only write
permission on it, which a read-only mount does not take away. agentbox checks every connect():
a pathname socket of the host is connectable only when a write grant names the socket file
itself; the sandbox's own sockets (its /tmp, its home, the staged project) always are. Each
case listens on the host and checks, from the host side, that nothing inside reached it.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import abtest  # noqa: E402
from abtest import BoxTest  # noqa: E402

# Inside the sandbox: connect to each argument, print "ok PATH" or "refused PATH ERRNO".
CONNECT = ("import socket,sys\n"
           "for p in sys.argv[1:]:\n"
           "    s=socket.socket(socket.AF_UNIX)\n"
           "    try:\n"
           "        s.connect(p); s.sendall(b'MARK'); print('ok', p)\n"
           "    except OSError as e:\n"
           "        print('refused', p, e.errno)\n"
           "    s.close()\n")

# Inside: bind, listen and connect to a socket of its own at each argument.
OWN = ("import socket,sys,os\n"
       "for p in sys.argv[1:]:\n"
       "    l=socket.socket(socket.AF_UNIX); l.bind(p); l.listen(1)\n"
       "    c=socket.socket(socket.AF_UNIX)\n"
       "    try:\n"
       "        c.connect(p); a,_=l.accept(); c.sendall(b'hi'); print('own', a.recv(2).decode(), p)\n"
       "    except OSError as e:\n"
       "        print('refused', p, e.errno)\n")

# Inside: one thread connects to ARGV[1] (its own socket) in a loop while another keeps
# overwriting the address buffer with ARGV[2] (the host's): a check that reads the address
# and then lets the kernel read it again would be raced.
RACE = r"""
import ctypes, socket, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
own, host = sys.argv[1].encode(), sys.argv[2].encode()
l = socket.socket(socket.AF_UNIX); l.bind(own); l.listen(64); l.setblocking(False)
def addr(p):
    b = ctypes.create_string_buffer(110)
    ctypes.memmove(b, (1).to_bytes(2, 'little') + p + b'\0', 2 + len(p) + 1)
    return b
buf = addr(own)
good, bad = addr(own).raw, addr(host).raw
stop = False
def flip():
    while not stop:
        ctypes.memmove(buf, bad, 110); ctypes.memmove(buf, good, 110)
t = threading.Thread(target=flip); t.start()
n = 0
end = time.time() + 3
while time.time() < end:
    s = socket.socket(socket.AF_UNIX)
    if libc.connect(s.fileno(), buf, 110) == 0:
        n += 1
        try: s.sendall(b'MARK')
        except OSError: pass
    s.close()
    try:
        while True: l.accept()[0].close()
    except BlockingIOError: pass
stop = True; t.join()
print('connects', n)
"""


# Inside: one thread connects descriptor N to the host's socket path (ARGV[1]) in a loop while
# another keeps swapping what N is, with dup2, between a TCP socket and a unix one. A gate that
# judged one socket and let the kernel connect whatever N is by then would be raced into the
# host's socket. Prints the errnos seen: both kinds show the swap landed both ways.
DUP2_RACE = r"""
import ctypes, os, socket, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
host = sys.argv[1].encode()
buf = ctypes.create_string_buffer((1).to_bytes(2, 'little') + host + b'\0', 110)
N = 100
stop = False
def swap():
    while not stop:
        for fam in (socket.AF_INET, socket.AF_UNIX):
            s = socket.socket(fam)
            os.dup2(s.fileno(), N)
            s.close()
os.dup2(socket.socket(socket.AF_UNIX).detach(), N)
t = threading.Thread(target=swap); t.start()
seen = {}
end = time.time() + 3
while time.time() < end:
    r = libc.connect(N, buf, 110)
    e = 0 if r == 0 else ctypes.get_errno()
    seen[e] = seen.get(e, 0) + 1
stop = True; t.join()
print('errnos', ' '.join('%d=%d' % kv for kv in sorted(seen.items())))
"""

# Inside: a unix datagram socket connected to each argument; "ok PATH" or "refused PATH ERRNO".
DGRAM = ("import socket,sys\n"
         "for p in sys.argv[1:]:\n"
         "    s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
         "    try:\n"
         "        s.connect(p); s.send(b'MARK'); print('ok', p)\n"
         "    except OSError as e:\n"
         "        print('refused', p, e.errno)\n")

# Inside: threads stuck in blocking connects to a listener that never accepts (its backlog is
# full), then, from the main thread, connects the supervisor must still answer at once.
STUCK = r"""
import socket, threading, time
l = socket.socket(socket.AF_UNIX); l.bind('/tmp/full.sock'); l.listen(0)
def stuck():
    s = socket.socket(socket.AF_UNIX)
    try: s.connect('/tmp/full.sock')
    except OSError: pass
for _ in range(4):
    threading.Thread(target=stuck, daemon=True).start()
time.sleep(0.5)
t0 = time.monotonic()
for _ in range(20):
    own = socket.socket(); own.bind(('127.0.0.1', 0)); own.listen(1)
    c = socket.create_connection(own.getsockname()); c.close(); own.close()
print('answered in %.2f s' % (time.monotonic() - t0), flush=True)
import os; os._exit(0)
"""

# Inside: a thread connects twice to the host's socket at ARGV[1], whose listener never
# accepts and holds one connection at most: the second connect waits for room in its queue,
# which never comes. The command then ends; the run must end with it.
STUCK_ON_HOST = r"""
import os, socket, sys, threading, time
def stuck():
    for _ in range(2):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        print('connected', flush=True)
threading.Thread(target=stuck, daemon=True).start()
time.sleep(1)
os._exit(0)
"""

# Inside: a socket of its own in /tmp, connected (so that the supervisor has read the
# sandbox's mount table), then, once a new filesystem is mounted on /tmp/sub, one there.
OWN_ON_A_NEW_MOUNT = r"""
import os, socket, sys, time
def attempt(path):
    l = socket.socket(socket.AF_UNIX); l.bind(path); l.listen(1)
    c = socket.socket(socket.AF_UNIX)
    try:
        c.connect(path); l.accept()[0].close(); return 'ok'
    except OSError as e:
        return 'refused %d' % e.errno
os.mkdir('/tmp/sub')
print('first', attempt('/tmp/own.sock'), sys.argv[1], flush=True)
before = os.stat('/tmp/sub').st_dev
end = time.monotonic() + 20
while os.stat('/tmp/sub').st_dev == before and time.monotonic() < end:
    time.sleep(0.05)
print('then', attempt('/tmp/sub/own.sock'), flush=True)
"""

# Inside: say "ready", wait until the file ARGV[1] exists (the host made its change), then
# connect to each of ARGV[2:] as CONNECT does.
AFTER_THE_HOST = ("import os,socket,sys,time\n"
                  "print('ready', flush=True)\n"
                  "end = time.monotonic() + 30\n"
                  "while not os.path.exists(sys.argv[1]) and time.monotonic() < end:\n"
                  "    time.sleep(0.02)\n"
                  "for p in sys.argv[2:]:\n"
                  "    s=socket.socket(socket.AF_UNIX)\n"
                  "    try:\n"
                  "        s.connect(p); s.sendall(b'MARK'); print('ok', p)\n"
                  "    except OSError as e:\n"
                  "        print('refused', p, e.errno)\n"
                  "    s.close()\n")

# Inside: one thread keeps turning the link ARGV[3] from the command's own socket ARGV[1] to
# the host's socket ARGV[2] and back, while another connects through it: a gate that checked
# one inode and let the kernel resolve the name again would be raced into the host's socket.
LINK_RACE = r"""
import os, socket, sys, threading, time
own, host, link = sys.argv[1:4]
l = socket.socket(socket.AF_UNIX); l.bind(own); l.listen(64); l.setblocking(False)
stop = False
def flip():
    i = 0
    while not stop:
        for to in (host, own):
            i += 1
            tmp = '%s.%d' % (link, i)
            os.symlink(to, tmp); os.rename(tmp, link)
os.symlink(own, link)
t = threading.Thread(target=flip); t.start()
seen = {}
end = time.time() + 3
while time.time() < end:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(link); e = 0
        try: s.sendall(b'MARK')
        except OSError: pass
    except OSError as x:
        e = x.errno
    seen[e] = seen.get(e, 0) + 1
    s.close()
    try:
        while True: l.accept()[0].close()
    except BlockingIOError: pass
stop = True; t.join()
print('errnos', ' '.join('%d=%d' % kv for kv in sorted(seen.items())))
"""

# Inside: one thread keeps changing the working directory between ARGV[1] (where the
# command's own socket "agent.sock" is) and ARGV[2] (the host's directory, where the host's
# "agent.sock" is), while another connects to the relative name "agent.sock".
CWD_RACE = r"""
import os, socket, sys, threading, time
own_dir, host_dir = sys.argv[1:3]
os.chdir(own_dir)
l = socket.socket(socket.AF_UNIX); l.bind('agent.sock'); l.listen(64); l.setblocking(False)
stop = False
def flip():
    while not stop:
        os.chdir(host_dir); os.chdir(own_dir)
t = threading.Thread(target=flip); t.start()
seen = {}
end = time.time() + 3
while time.time() < end:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect('agent.sock'); e = 0
        try: s.sendall(b'MARK')
        except OSError: pass
    except OSError as x:
        e = x.errno
    seen[e] = seen.get(e, 0) + 1
    s.close()
    try:
        while True: l.accept()[0].close()
    except BlockingIOError: pass
stop = True; t.join()
print('errnos', ' '.join('%d=%d' % kv for kv in sorted(seen.items())))
"""


class HostSockets(BoxTest):
    def listener(self, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(path)
        s.listen(64)
        s.setblocking(False)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return s

    def assertNeverContacted(self, s, what, res):
        try:
            conn, _ = s.accept()
        except BlockingIOError:
            return
        data = conn.recv(100)
        conn.close()
        self.fail("the host's %s was reached from inside (got %r)\n%s" % (what, data, res))

    def host_socket_dir(self, name):
        d = os.path.join(self.box.outside, name)
        os.makedirs(d)
        os.chmod(d, 0o755)
        path = os.path.join(d, "agent.sock")
        return d, path, self.listener(path)

    def connect(self, paths, args=(), cwd_script=None):
        cmd = ["python3", "-c", CONNECT] + list(paths)
        if cwd_script:
            cmd = ["sh", "-c", cwd_script + ' && exec "$@"', "sh"] + cmd
        return self.box.run(cmd, args=list(args), probes=False)

    def test_connect_host_socket_under_ro_grant(self):
        d, path, srv = self.host_socket_dir("ro")
        res = self.connect([path], args=["--ro", d])
        self.assertRc(res, 0)
        self.assertIn("refused " + path, res.out, res)
        self.assertNeverContacted(srv, "socket under a --ro grant", res)
        # The refusal is in the session's log, with the path the command asked for.
        log = self.host_run([abtest.AGENTBOX, "log", "--json"])
        denied = [e for e in map(json.loads, log.out.splitlines())
                  if e.get("event") == "syscall.denied" and e.get("syscall") == "connect"]
        self.assertTrue(any(e.get("socket") == path and e.get("errno") == 13 for e in denied),
                        "no syscall.denied record for the connect\n%s" % log)

    def test_connect_host_socket_under_rw_grant(self):
        d, path, srv = self.host_socket_dir("rw")
        res = self.connect([path], args=["--rw", d])
        self.assertRc(res, 0)
        self.assertIn("refused " + path, res.out, res)
        self.assertNeverContacted(srv, "socket under a --rw grant", res)

    def test_connect_host_socket_through_symlink_and_relative_path(self):
        d, path, srv = self.host_socket_dir("ro")
        # A link the command makes in its own /tmp, and the socket's name relative to its
        # directory: the same host socket by other names.
        res = self.connect(["/tmp/link.sock", "agent.sock", "./agent.sock"], args=["--ro", d],
                           cwd_script="ln -s %s /tmp/link.sock && cd %s" % (path, d))
        self.assertRc(res, 0)
        for p in ("/tmp/link.sock", "agent.sock", "./agent.sock"):
            self.assertIn("refused " + p, res.out, res)
        self.assertNeverContacted(srv, "socket reached through a symlink or relative path", res)

    def test_connect_host_socket_racing_the_address_check(self):
        d, path, srv = self.host_socket_dir("ro")
        res = self.box.run(["python3", "-c", RACE, "/tmp/own.sock", path], args=["--ro", d],
                           probes=False, timeout=60)
        self.assertRc(res, 0)
        self.assertRegex(res.out, r"connects [1-9]", "the command's own socket never "
                         "connected, so the race proves nothing\n%s" % res)
        self.assertNeverContacted(srv, "socket raced into connect()'s address", res)

    def test_connect_on_a_descriptor_swapped_by_dup2_during_the_call(self):
        d, path, srv = self.host_socket_dir("ro")
        res = self.box.run(["python3", "-c", DUP2_RACE, path], args=["--ro", d],
                           probes=False, timeout=60)
        self.assertRc(res, 0)
        seen = dict(kv.split("=") for kv in res.out.split("errnos", 1)[1].split())
        # EACCES: the unix socket, refused; EINVAL/EAFNOSUPPORT: the TCP socket given a unix
        # address. Both seen: the swap landed on each side of the gate's look.
        self.assertIn("13", seen, res)
        self.assertTrue({"22", "97"} & set(seen), res)
        self.assertNotIn("0", seen, res)
        self.assertNeverContacted(srv, "socket reached by swapping the descriptor", res)

    def test_datagram_connect_to_host_socket_under_ro_grant(self):
        # A datagram connect cannot wait, so the supervisor makes it on its own thread: still
        # after the same check as a stream connect.
        d = os.path.join(self.box.outside, "dgram")
        os.makedirs(d)
        os.chmod(d, 0o755)
        path = os.path.join(d, "log.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(srv.close)
        srv.bind(path)
        srv.setblocking(False)
        res = self.box.run(["python3", "-c", DGRAM, path, "/tmp/own.dgram"], args=["--ro", d],
                           probes=False)
        self.assertRc(res, 0)
        self.assertIn("refused %s 13" % path, res.out, res)
        self.assertIn("refused /tmp/own.dgram 2", res.out, res)  # no such socket: ENOENT
        with self.assertRaises(BlockingIOError, msg="the host's datagram socket got %s" % res):
            srv.recv(100)

    def test_blocking_connects_stuck_on_a_full_backlog_do_not_stall_other_connects(self):
        # Made on worker threads: four connects that never complete leave the supervisor free
        # to answer every other one.
        res = self.box.run(["python3", "-c", STUCK], probes=False, timeout=60)
        self.assertRc(res, 0)
        m = re.search(r"answered in ([0-9.]+) s", res.out)
        self.assertTrue(m, res)
        self.assertLess(float(m.group(1)), 10.0, res)

    def test_run_ends_while_a_connect_waits_on_a_host_socket_that_never_accepts(self):
        # The supervisor makes the connect on a worker thread; a unix connect waiting for room
        # in a listener's queue is not woken by shutdown(), so a run whose command ended
        # while one waited used to hang at its end for as long as the host's listener lived.
        d = os.path.join(self.box.outside, "full")
        os.makedirs(d)
        os.chmod(d, 0o755)
        path = os.path.join(d, "agent.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(srv.close)
        srv.bind(path)
        srv.listen(0)  # room for one connection, never accepted
        t0 = time.monotonic()
        res = self.box.run(["python3", "-c", STUCK_ON_HOST, path], args=["--rw", path],
                           probes=False, timeout=60)
        took = time.monotonic() - t0
        self.assertRc(res, 0)
        self.assertEqual(res.out.count("connected"), 1, res)  # the second one waited
        self.assertLess(took, 20.0, res)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("nsenter"),
                         "mounting in the sandbox's namespace needs root and nsenter")
    def test_connect_own_socket_on_a_mount_made_after_the_first_connect(self):
        # The supervisor keeps the sandbox's mount table between connects (it says whether a
        # socket's filesystem is the sandbox's own): a mount made after it was read must be
        # in it at the next connect. A kept table that missed it would not find the new
        # mount and refuse the sandbox's own socket there as a host socket.
        marker = "own-on-a-new-mount-%d" % os.getpid()
        p = self.box.popen(["python3", "-c", OWN_ON_A_NEW_MOUNT, marker])
        self.addCleanup(lambda: p.poll() is None and p.kill())
        line = p.stdout.readline().decode()
        self.assertIn("first ok", line)
        inside = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if marker.encode() in f.read() and os.path.exists("/proc/%s/root/tmp/own.sock" % pid):
                        inside.append(pid)
            except OSError:
                pass
        self.assertTrue(inside, "the command's process was not found")
        subprocess.run(["nsenter", "-t", inside[0], "-m", "mount", "-t", "tmpfs", "-o", "mode=1777",
                        "none", "/tmp/sub"], check=True)
        out, err = p.communicate(timeout=60)
        self.assertIn("then ok", out.decode(), err.decode())

    def test_connect_socket_named_by_a_write_grant(self):
        _d, path, srv = self.host_socket_dir("named")
        res = self.connect([path], args=["--rw", path])
        self.assertRc(res, 0)
        self.assertIn("ok " + path, res.out, res)
        conn, _ = srv.accept()
        self.assertEqual(conn.recv(4), b"MARK")
        conn.close()

    def named_grant_changed_on_the_host(self, change):
        # A write grant names d/agent.sock; another host socket is readable under v. While
        # the command runs, `change` rewrites the granted host path (as any writer of the
        # host's d can: another session whose command has a write grant of it), then the
        # command connects to the other socket by its own name and to the granted one.
        d, named, named_srv = self.host_socket_dir("named")
        v, other, other_srv = self.host_socket_dir("other")
        go = os.path.join(v, "changed")
        p = self.box.popen(["python3", "-c", AFTER_THE_HOST, go, other, named],
                           args=["--rw", named, "--ro", v])
        self.addCleanup(lambda: p.poll() is None and p.kill())
        self.assertEqual(p.stdout.readline().decode().strip(), "ready")
        os.rename(named, os.path.join(d, "before.sock"))
        change(named, other)
        with open(go, "w"):
            pass
        out, err = p.communicate(timeout=60)
        res = abtest.Result(["run"], p.returncode, out.decode(), err.decode(), 0)
        self.assertRc(res, 0)
        self.assertIn("refused %s 13" % other, res.out, res)
        self.assertNeverContacted(other_srv, "socket the granted host path was turned into", res)
        # The granted socket is the one its mount shows, which the rename did not change.
        self.assertIn("ok " + named, res.out, res)
        self.assertEqual(named_srv.accept()[0].recv(4), b"MARK")

    def test_named_socket_grant_whose_host_path_became_a_symlink_to_another_socket(self):
        self.named_grant_changed_on_the_host(lambda named, other: os.symlink(other, named))

    def test_named_socket_grant_whose_host_path_became_another_socket(self):
        # No link to refuse: a hard link of the other socket in the granted place. Only what
        # the grant named before the command ran tells the two apart.
        self.named_grant_changed_on_the_host(lambda named, other: os.link(other, named))

    def test_connect_through_a_symlink_swapped_between_check_and_connect(self):
        _d, path, srv = self.host_socket_dir("ro")
        res = self.box.run(["python3", "-c", LINK_RACE, "/tmp/own.sock", path, "/tmp/link.sock"],
                           args=["--ro", _d], probes=False, timeout=60)
        self.assertRc(res, 0)
        seen = dict(kv.split("=") for kv in res.out.split("errnos", 1)[1].split())
        # Both sides of the swap were seen: the own socket connected, the host's refused.
        self.assertIn("0", seen, res)
        self.assertIn("13", seen, res)
        self.assertNeverContacted(srv, "socket reached through a link swapped during connect()",
                                  res)

    def test_connect_to_a_host_socket_through_proc_pid_root(self):
        # /proc/PID/root and /proc/PID/cwd are magic links, which lead wherever the kernel
        # says, not where the names do: the gate resolves none (ELOOP), for the host's socket
        # and the command's own alike, rather than judge an inode reached that way. (The
        # errno varies: the supervisor reads the sandbox's /proc from outside its pid
        # namespace, so /proc/self is not the caller, and unprivileged it may not read
        # /proc/1 at all: ENOENT, EACCES.)
        _d, path, srv = self.host_socket_dir("ro")
        script = ("import os,socket,sys\n"
                  "l=socket.socket(socket.AF_UNIX); l.bind('/tmp/own.sock'); l.listen(1)\n"
                  "for p in sys.argv[1:]:\n"
                  "    p = p.replace('PID', str(os.getpid()))\n"
                  "    s=socket.socket(socket.AF_UNIX)\n"
                  "    try: s.connect(p); s.sendall(b'MARK'); print('ok', p)\n"
                  "    except OSError as e: print('refused', p, e.errno)\n")
        via = ["/proc/PID/root" + path, "/proc/self/root" + path, "/proc/1/root" + path,
               "/proc/PID/cwd/../../../.." + path, "/proc/PID/root/tmp/own.sock"]
        res = self.box.run(["python3", "-c", script] + via, args=["--ro", _d], probes=False)
        self.assertRc(res, 0)
        self.assertNotIn("ok ", res.out, res)
        self.assertEqual(res.out.count("refused "), len(via), res)
        self.assertNeverContacted(srv, "socket reached through /proc/PID/root", res)

    def test_relative_connect_while_another_thread_changes_the_working_directory(self):
        d, path, srv = self.host_socket_dir("ro")
        res = self.box.run(["python3", "-c", CWD_RACE, "/tmp", d], args=["--ro", d],
                           probes=False, timeout=60)
        self.assertRc(res, 0)
        seen = dict(kv.split("=") for kv in res.out.split("errnos", 1)[1].split())
        self.assertIn("0", seen, res)   # from /tmp: the command's own socket
        self.assertIn("13", seen, res)  # from the host's directory: refused
        self.assertNeverContacted(srv, "socket reached by a relative name from a changed cwd",
                                  res)

    def test_explain_agrees_with_run_on_sockets(self):
        _d1, named, named_srv = self.host_socket_dir("named")
        d2, under, under_srv = self.host_socket_dir("dir")
        prof = self.box.write_profile("sockets", 'version = 1\nname = "sockets"\n'
                                      'extends = ["default"]\n[filesystem]\n'
                                      'write = ["%s"]\nread = ["%s"]\n' % (named, d2))
        verdicts = {}
        for path in (named, under):
            p = self.host_run([abtest.AGENTBOX, "explain", "-p", prof, "connect", path])
            self.assertIn(p.rc, (0, 1), p)
            verdicts[path] = p.rc
        self.assertEqual(verdicts, {named: 0, under: 1})
        res = self.box.run(["python3", "-c", CONNECT, named, under], profiles=[prof],
                           probes=False)
        self.assertRc(res, 0)
        self.assertIn("ok " + named, res.out, res)
        self.assertIn("refused " + under, res.out, res)
        named_srv.accept()[0].close()
        self.assertNeverContacted(under_srv, "socket under a read grant", res)

    def test_connect_own_sockets_in_tmp_home_and_project(self):
        paths = ["/tmp/own.sock", os.path.join(self.box.home, "own.sock")]
        if abtest.BACKEND != "bwrap":
            # bwrap's project is a copy on the host's disk, bound in: not the sandbox's own
            # filesystem, so a socket there is refused like any host socket (documented).
            paths.append(os.path.join(self.box.project, "own.sock"))
        res = self.box.run(["python3", "-c", OWN] + paths, probes=False)
        self.assertRc(res, 0)
        for p in paths:
            self.assertIn("own hi " + p, res.out, res)

    def test_connect_from_a_thread_that_is_not_the_leader(self):
        # connect() from a second thread: its own socket connects, the host's does not.
        _d, path, srv = self.host_socket_dir("ro")
        script = ("import socket,threading,sys\n"
                  "l=socket.socket(socket.AF_UNIX); l.bind('/tmp/t.sock'); l.listen(1)\n"
                  "def go(p):\n"
                  "    s=socket.socket(socket.AF_UNIX)\n"
                  "    try: s.connect(p); print('ok', p)\n"
                  "    except OSError as e: print('refused', p, e.errno)\n"
                  "for p in ('/tmp/t.sock', sys.argv[1]):\n"
                  "    t=threading.Thread(target=go, args=(p,)); t.start(); t.join()\n")
        res = self.box.run(["python3", "-c", script, path], args=["--ro", _d], probes=False)
        self.assertRc(res, 0)
        self.assertIn("ok /tmp/t.sock", res.out, res)
        self.assertIn("refused " + path, res.out, res)
        self.assertNeverContacted(srv, "socket connected from a thread", res)

    def test_connect_after_exec_from_a_thread_that_is_not_the_leader(self):
        # The supervisor keeps what it opened for a thread id between connects. A second
        # thread's exec gives it the leader's id, a new address space and a new descriptor
        # table: what is kept must follow the id to the new image, or its connects are read
        # from the old one (refused, or worse, decided on stale bytes).
        _d, path, srv = self.host_socket_dir("ro")
        script = ("import os,socket,sys,threading\n"
                  "l=socket.socket(socket.AF_UNIX); l.bind('/tmp/pre.sock'); l.listen(1)\n"
                  "socket.socket(socket.AF_UNIX).connect('/tmp/pre.sock'); print('pre ok', flush=True)\n"
                  "def go():\n"
                  "    socket.socket(socket.AF_UNIX).connect('/tmp/pre.sock')\n"
                  "    os.execv(sys.executable, [sys.executable, '-c', sys.argv[1], sys.argv[2]])\n"
                  "threading.Thread(target=go).start()\n"
                  "threading.Event().wait()\n")
        after = ("import socket,sys\n"
                 "l=socket.socket(socket.AF_UNIX); l.bind('/tmp/post.sock'); l.listen(1)\n"
                 "for p in ('/tmp/post.sock', sys.argv[1]):\n"
                 "    try: socket.socket(socket.AF_UNIX).connect(p); print('ok', p)\n"
                 "    except OSError as e: print('refused', p, e.errno)\n")
        res = self.box.run(["python3", "-c", script, after, path], args=["--ro", _d],
                           probes=False, timeout=60)
        self.assertRc(res, 0)
        self.assertIn("pre ok", res.out, res)
        self.assertIn("ok /tmp/post.sock", res.out, res)
        self.assertIn("refused %s 13" % path, res.out, res)
        self.assertNeverContacted(srv, "socket connected after an exec", res)

    def test_connect_inet_still_works(self):
        # Every connect() is made by the supervisor now: TCP on the sandbox's own loopback
        # must behave as before.
        script = ("import socket\n"
                  "l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(1)\n"
                  "c=socket.create_connection(l.getsockname()); a,_=l.accept()\n"
                  "c.sendall(b'tcp'); print('got', a.recv(3).decode())\n"
                  "n=socket.socket(); n.setblocking(False)\n"
                  "print('nb', n.connect_ex(l.getsockname()) in (0, 115))\n")
        res = self.box.run(["python3", "-c", script], probes=False)
        self.assertRc(res, 0)
        self.assertIn("got tcp", res.out, res)
        self.assertIn("nb True", res.out, res)


if __name__ == "__main__":
    abtest.main()
