# A minimal ZooKeeper client: the wire protocol (jute) for the few requests the installer
# needs (digest auth, exists, create, get/set ACL, children), with the standard library only,
# so that no Java client start (zkCli.sh: ~2 s of JVM) or Python package is needed on a host.
# Protocol: org.apache.zookeeper.proto (zookeeper.jute) and ZooDefs.OpCode of ZooKeeper 3.x.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import socket
import struct

OP_CREATE, OP_EXISTS, OP_GET_ACL, OP_SET_ACL, OP_GET_CHILDREN, OP_CLOSE, OP_AUTH = 1, 3, 6, 7, 8, -11, 100
XID_AUTH = -4
ERRORS = {
    -4: "connection loss", -101: "no node", -102: "not authorised (NoAuth)", -110: "node exists",
    -111: "not empty", -114: "invalid ACL", -115: "authentication failed",
}
NO_NODE, NODE_EXISTS = -101, -110
PERMS = {"r": 1, "w": 2, "c": 4, "d": 8, "a": 16}
_STAT = struct.Struct(">qqqqiiiqiiq")  # czxid mzxid ctime mtime version cversion aversion ephemeralOwner ...


class ZkError(Exception):
    def __init__(self, code, what):
        self.code = code
        super(ZkError, self).__init__("%s: %s (%d)" % (what, ERRORS.get(code, "error"), code))


def digest_id(user, password):
    """The id of a digest user in an ACL: user:base64(sha1(user:password))."""
    raw = hashlib.sha1(("%s:%s" % (user, password)).encode("utf-8")).digest()
    return "%s:%s" % (user, base64.b64encode(raw).decode("ascii"))


def perms_of(text):
    """'cdrwa' -> 31."""
    value = 0
    for ch in text:
        value |= PERMS[ch]
    return value


def perms_text(value):
    return "".join(ch for ch in "cdrwa" if value & PERMS[ch])


def _string(text):
    data = text.encode("utf-8")
    return struct.pack(">i", len(data)) + data


def _buffer(data):
    if data is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(data)) + data


def _acls(acls):
    out = struct.pack(">i", len(acls))
    for perms, scheme, ident in acls:
        out += struct.pack(">i", perms) + _string(scheme) + _string(ident)
    return out


class _Reader(object):
    def __init__(self, data):
        self.data, self.pos = data, 0

    def int(self):
        value = struct.unpack_from(">i", self.data, self.pos)[0]
        self.pos += 4
        return value

    def string(self):
        length = self.int()
        if length < 0:
            return None
        value = self.data[self.pos:self.pos + length].decode("utf-8")
        self.pos += length
        return value

    def acls(self):
        return [(self.int(), self.string(), self.string()) for _ in range(self.int())]

    def strings(self):
        return [self.string() for _ in range(self.int())]


class ZkClient(object):
    """One session with one server, closed by close() (or `with`)."""

    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, int(port)), timeout)
        self.sock.settimeout(timeout)
        self.xid = 0
        # ConnectRequest: protocolVersion, lastZxidSeen, timeOut (ms), sessionId, passwd, readOnly
        self._send(struct.pack(">iqiq", 0, 0, int(timeout * 1000), 0) + _buffer(b"\0" * 16) + b"\0")
        reply = self._recv()
        if len(reply) < 16 or struct.unpack_from(">q", reply, 8)[0] == 0:
            raise ZkError(-4, "%s:%s refused the session (not serving: no quorum?)" % (host, port))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ZkError(-4, "the server closed the connection")
            data += chunk
        return data

    def _recv(self):
        length = struct.unpack(">i", self._recv_exact(4))[0]
        return self._recv_exact(length)

    def _call(self, op, body, what, xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(struct.pack(">ii", xid, op) + body)
        while True:
            reply = self._recv()
            got, _zxid, err = struct.unpack_from(">iqi", reply, 0)
            if got == -1:  # a watch event: none are set, but skip it
                continue
            if got != xid:
                raise ZkError(-4, "%s: reply out of order" % what)
            if err != 0:
                raise ZkError(err, what)
            return _Reader(reply[16:])

    def add_digest(self, user, password):
        body = struct.pack(">i", 0) + _string("digest") + _buffer(("%s:%s" % (user, password)).encode("utf-8"))
        self._call(OP_AUTH, body, "auth", xid=XID_AUTH)

    def exists(self, path):
        try:
            self._call(OP_EXISTS, _string(path) + b"\0", "exists %s" % path)
        except ZkError as exc:
            if exc.code == NO_NODE:
                return False
            raise
        return True

    def create(self, path, acls, data=b""):
        self._call(OP_CREATE, _string(path) + _buffer(data) + _acls(acls) + struct.pack(">i", 0), "create %s" % path)

    def get_acl(self, path):
        return self._call(OP_GET_ACL, _string(path), "get ACL of %s" % path).acls()

    def set_acl(self, path, acls):
        self._call(OP_SET_ACL, _string(path) + _acls(acls) + struct.pack(">i", -1), "set ACL of %s" % path)

    def children(self, path):
        return self._call(OP_GET_CHILDREN, _string(path) + b"\0", "children of %s" % path).strings()

    def close(self):
        try:
            self._call(OP_CLOSE, b"", "close")
        except (ZkError, socket.error, struct.error):
            pass
        self.sock.close()
