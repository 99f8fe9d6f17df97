#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz-server: valid flows and one input per protocol error.

The inputs are in the format fuzz-server.c reads (README.md describes it); this
script mirrors its object model so that a seed can name objects by handle.
Run it after changing the format: gen-corpus.py [DIR] (default: corpus/ here).
"""
import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

# Mirrors uint_dict in fuzz-server.c.
def fourcc(code):
    return struct.unpack("<I", code.encode())[0]

ARGB, XRGB, ABGR, XBGR = fourcc("AR24"), fourcc("XR24"), fourcc("AB24"), fourcc("XB24")
RGB565, NV12, YUYV, C8 = fourcc("RG16"), fourcc("NV12"), fourcc("YUYV"), fourcc("C8  ")
UINT_DICT = [
    0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 63, 64, 65, 100, 128, 255, 256, 257, 511, 512, 513,
    1000, 1024, 2048, 4095, 4096, 4097, 8192, 65536, 1 << 20, 0x7fffffff, 0x80000000,
    0xfffffffe, 0xffffffff, ARGB, XRGB, ABGR, XBGR, RGB565, NV12, YUYV, C8,
    1023, 1025, 0x00ffffff,
]
BINDABLE = ["dmabroker_manager_v1", "wl_buffer", "dmabroker_buffer_v1", "wl_callback",
            "zwp_linux_dmabuf_v1"]
MOD_LINEAR, MOD_INVALID = 0, 0x00ffffffffffffff

# The pool of fds (enum pool_fd), then the fds the broker sent, in arrival order.
(SEALED, UNSEALED, SEALED_SMALL, PIPE, DEVNULL, READ_ONLY, WRITE_ONLY, EVENTFD,
 EVENTFD_SIGNALED, RECEIVED) = range(10)

HERE = os.path.dirname(os.path.abspath(__file__))
ARG_CHARS = {"int": "i", "uint": "u", "fixed": "f", "string": "s", "object": "o",
             "new_id": "n", "array": "a", "fd": "h"}


def datadir(package, fallback):
    try:
        out = subprocess.run(["pkg-config", "--variable=pkgdatadir", package],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out = ""
    return out or fallback


def load_interfaces():
    """{interface: [(request, [(type char, interface)], new_id interface)]} in opcode order,
    from the XML the harness's tables are generated from."""
    paths = [
        os.path.join(HERE, "..", "..", "protocol", "dmabroker-v1.xml"),
        os.path.join(datadir("wayland-scanner", "/usr/share/wayland"), "wayland.xml"),
        os.path.join(datadir("wayland-protocols", "/usr/share/wayland-protocols"),
                     "unstable", "linux-dmabuf", "linux-dmabuf-unstable-v1.xml"),
    ]
    interfaces = {}
    for path in paths:
        for iface in ET.parse(path).getroot().iter("interface"):
            requests = []
            for request in iface.iter("request"):
                args = []
                for arg in request.iter("arg"):
                    char, target = ARG_CHARS[arg.get("type")], arg.get("interface")
                    if char == "n" and target is None:  # wl_registry.bind: name it first
                        args += [("s", None), ("u", None)]
                    args.append((char, target))
                new = next((target for char, target in args if char == "n"), None)
                requests.append((request.get("name"), args, new))
            interfaces[iface.get("name")] = requests
    return interfaces


INTERFACES = load_interfaces()

# Mirrors well_formed_ifaces in fuzz-server.c: op 8 picks a request among theirs.
WELL_FORMED = ["dmabroker_manager_v1", "dmabroker_buffer_v1", "dmabroker_attachment_v1",
               "dmabroker_token_v1", "dmabroker_fence_v1", "dmabroker_info_v1",
               "zwp_linux_dmabuf_v1", "zwp_linux_buffer_params_v1", "wl_buffer"]
# Op 9 (enum control): sleep past the hold bound, starve the broker of fds, connect as nobody.
HOLD, STARVE, FOREIGN = range(3)

READ, READ_WRITE = 1, 3  # access
DIR_READ, DIR_WRITE = 1, 2  # direction
FENCE_WRITE, FENCE_READ = 0, 1


class Obj:
    def __init__(self, client, iface):
        self.client = client
        self.iface = iface


class Str:
    """The string argument encodings of gen_string."""

    def __init__(self, byte, tail=b""):
        self.bytes = bytes([byte]) + tail

    @staticmethod
    def null():
        return Str(0)

    @staticmethod
    def token(index):
        return Str(index << 3 | 1)

    @staticmethod
    def text(text):
        data = text.encode()
        assert len(data) < 80
        return Str(2, bytes([len(data)]) + data)

    @staticmethod
    def too_long():
        return Str(3)

    @staticmethod
    def longest():
        return Str(4)

    @staticmethod
    def interface(name):
        return Str(BINDABLE.index(name) << 3 | 5)

    @staticmethod
    def unknown_token():
        return Str(6)

    @staticmethod
    def empty():
        return Str(7)


NEW = object()


class Client:
    def __init__(self, seed, index):
        self.seed = seed
        self.index = index
        self.connect()

    def connect(self):
        """The objects of the prologue, which the harness runs at the first request."""
        self.display = Obj(self, "wl_display")
        self.registry = Obj(self, "wl_registry")
        self.manager = Obj(self, "dmabroker_manager_v1")
        self.linux_dmabuf = Obj(self, "zwp_linux_dmabuf_v1")
        self.objects = [self.display, self.registry, self.manager, self.linux_dmabuf]

    def candidates(self, iface=None):
        return [o for o in self.objects
                if (o.iface == iface if iface else INTERFACES[o.iface])]

    def req(self, target, method, *args):
        """Encodes a request; returns the new object, if the request makes one."""
        out = self.seed.out
        if target == "manager":
            target = self.manager
        elif target == "linux_dmabuf":
            target = self.linux_dmabuf
        out.append(self.index << 4)
        out.append(self.candidates().index(target))
        methods = INTERFACES[target.iface]
        names = [m[0] for m in methods]
        opcode = names.index(method)
        out.append(opcode)
        _, sig, new_iface = methods[opcode]
        assert len(sig) == len(args), (method, args)
        new = None
        named = None
        for (char, iface), arg in zip(sig, args):
            if char in "ui":
                arg &= 0xffffffff
                if arg in UINT_DICT:
                    out.append(UINT_DICT.index(arg))
                else:
                    out.append(0xc0)
                    out += struct.pack("<I", arg)
            elif char == "s":
                out += arg.bytes
                if arg.bytes[0] & 7 == 5:
                    named = BINDABLE[arg.bytes[0] >> 3]
            elif char == "o":
                out.append(self.candidates(iface).index(arg))
            elif char == "n":
                if arg is NEW:
                    out.append(0)
                    new = Obj(self, new_iface or named)
                    if INTERFACES[new.iface]:
                        self.objects.append(new)
                else:  # an object whose id to reuse
                    out.append(0xf0 + self.candidates().index(arg))
            elif char == "h":
                out.append(arg)
            else:
                raise ValueError(char)
        if method in ("destroy", "revoke"):
            self.objects.remove(target)
        return new

    def well_formed(self, target, method, *picks):
        """Op 8: a request by name; picks are the argument bytes (indices into the
        harness's hints), new ids take none. Returns the new object, if any."""
        out = self.seed.out
        out.append(self.index << 4 | 8)
        index = 0
        for iface in WELL_FORMED:
            names = [m[0] for m in INTERFACES[iface]]
            if iface == target.iface:
                index += names.index(method)
                break
            index += len(names)
        out.append(index)
        out.append(self.candidates(target.iface).index(target))
        _, sig, new_iface = INTERFACES[target.iface][[m[0] for m in INTERFACES[target.iface]].index(method)]
        picks = list(picks)
        new = None
        for char, iface in sig:
            if char == "n":
                new = Obj(self, new_iface)
                if INTERFACES[new.iface]:
                    self.objects.append(new)
            else:
                out.append(picks.pop(0))
        assert not picks, (method, picks)
        if method in ("destroy", "revoke"):
            self.objects.remove(target)
        return new

    def control(self, what):
        """Op 9; FOREIGN applies to the client's next connection."""
        self.seed.out += bytes([self.index << 4 | 9, what])

    def server_created(self, iface):
        """An object the server made in an event of the last flush, such as
        zwp_linux_buffer_params_v1.created."""
        new = Obj(self, iface)
        self.objects.append(new)
        return new

    def disconnect(self):
        self.seed.out.append(self.index << 4 | 14)
        self.connect()  # the handles of the next connection


class Seed:
    def __init__(self, name, mode=0):
        self.name = name
        self.out = bytearray([mode])
        self.clients = [Client(self, 0), Client(self, 1)]
        self.reads = [None] * 8

    def flush(self):
        self.out.append(10)

    def read_begin(self, wl_buffer):
        client = wl_buffer.client
        self.out += bytes([client.index << 4 | 11, client.candidates("wl_buffer").index(wl_buffer)])
        handle = object()
        self.reads[self.reads.index(None)] = handle
        return handle

    def _read_index(self, handle):
        return [r for r in self.reads if r is not None].index(handle)

    def read_pixels(self, handle):
        self.out += bytes([13, self._read_index(handle)])

    def read_end(self, handle):
        self.out += bytes([12, self._read_index(handle)])
        self.reads[self.reads.index(handle)] = None

    def server_destroy(self):
        self.out.append(0xff)

    def signal_eventfd(self):
        """Signals the pool's EVENTFD, then flushes."""
        self.out.append(0xef)


SEEDS = []


def seed(name, mode=0):
    def register(func):
        SEEDS.append((name, mode, func))
        return func
    return register


def create(c, width=64, height=64, fmt=ARGB, usage=3, name="seed"):
    return c.req("manager", "create_buffer", NEW, width, height, fmt, usage, Str.text(name))


def attach(buf, access=READ_WRITE, flags=0, align=0, planes=1):
    return buf.client.req(buf, "attach", NEW, access, flags, align, planes)


def mapped_writer(c, **kw):
    buf = create(c, **kw)
    att = attach(buf)
    c.req(att, "map", DIR_WRITE)
    return buf, att


# Valid flows

@seed("v-create")
def _(s):
    create(s.clients[0])
    s.flush()


@seed("v-write-bracket")
def _(s):
    c = s.clients[0]
    buf, att = mapped_writer(c)
    s.flush()
    c.req(att, "begin_access", DIR_WRITE)
    s.flush()
    c.req(att, "end_access", DIR_WRITE)
    c.req(att, "unmap")
    c.req(att, "destroy")
    c.req(buf, "destroy")
    s.flush()


@seed("v-read-bracket")
def _(s):
    c = s.clients[0]
    buf = create(c, fmt=XRGB, usage=1)
    att = attach(buf, access=READ)
    c.req(att, "map", DIR_READ)
    c.req(att, "begin_access", DIR_READ)
    s.flush()
    c.req(att, "end_access", DIR_READ)
    c.req(att, "unmap")
    s.flush()


@seed("v-rgb565-read-write")
def _(s):
    c = s.clients[0]
    buf = create(c, width=100, height=7, fmt=RGB565)
    att = attach(buf)
    c.req(att, "map", DIR_READ | DIR_WRITE)
    c.req(att, "begin_access", DIR_READ | DIR_WRITE)
    c.req(att, "end_access", DIR_READ | DIR_WRITE)
    s.flush()


@seed("v-share-import-read")
def _(s):
    c0, c1 = s.clients
    buf, att = mapped_writer(c0)
    c0.req(att, "begin_access", DIR_WRITE)
    c0.req(buf, "share", NEW, READ)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    ratt = attach(imp, access=READ)
    c1.req(ratt, "map", DIR_READ)
    s.flush()
    c1.req(ratt, "begin_access", DIR_READ)  # waits for the writer
    s.flush()
    c0.req(att, "end_access", DIR_WRITE)
    s.flush()
    c1.req(ratt, "end_access", DIR_READ)
    s.flush()


@seed("v-share-read-write")
def _(s):
    c0, c1 = s.clients
    buf = create(c0)
    c0.req(buf, "share", NEW, READ_WRITE)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    att = attach(imp)
    c1.req(att, "map", DIR_READ | DIR_WRITE)
    c1.req(att, "begin_access", DIR_WRITE)
    s.flush()
    c1.req(att, "end_access", DIR_WRITE)
    s.flush()


@seed("v-import-own-token")
def _(s):
    c = s.clients[0]
    buf = create(c)
    c.req(buf, "share", NEW, READ)
    s.flush()
    imp = c.req("manager", "import_buffer", NEW, Str.token(0))
    c.req(buf, "destroy")
    att = attach(imp, access=READ)
    c.req(att, "map", DIR_READ)
    s.flush()


@seed("v-revoked-token")
def _(s):
    c0, c1 = s.clients
    buf = create(c0)
    tok = c0.req(buf, "share", NEW, READ)
    s.flush()
    c0.req(tok, "revoke")
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    s.flush()
    att = attach(imp)  # on a defunct buffer: the attachment fails too
    c1.req(att, "map", DIR_WRITE)
    c1.req(imp, "share", NEW, READ)
    c1.req(imp, "get_fence", NEW, FENCE_WRITE)
    s.flush()


@seed("v-unknown-token")
def _(s):
    c = s.clients[0]
    c.req("manager", "import_buffer", NEW, Str.unknown_token())
    c.req("manager", "import_buffer", NEW, Str.empty())
    c.req("manager", "import_buffer", NEW, Str.text("not a token"))
    s.flush()


@seed("v-token-dies-with-buffer")
def _(s):
    c0, c1 = s.clients
    buf = create(c0)
    tok = c0.req(buf, "share", NEW, READ)
    s.flush()
    c0.req(buf, "destroy")
    s.flush()
    c1.req("manager", "import_buffer", NEW, Str.token(0))  # the token keeps it alive
    c0.req(tok, "revoke")
    s.flush()


@seed("v-quota-buffers")
def _(s):
    c = s.clients[0]
    for _ in range(9):
        create(c, width=16, height=16)
    s.flush()


@seed("v-quota-bytes")
def _(s):
    c = s.clients[0]
    create(c, width=512, height=512)
    create(c, width=512, height=512)
    s.flush()


@seed("v-quota-tokens")
def _(s):
    c = s.clients[0]
    buf = create(c)
    for _ in range(5):
        c.req(buf, "share", NEW, READ)
    s.flush()


@seed("v-quota-attachments")
def _(s):
    c = s.clients[0]
    buf = create(c)
    for _ in range(17):
        attach(buf, access=READ)
    s.flush()


@seed("v-quota-bytes-import")
def _(s):
    c = s.clients[0]
    create(c, width=512, height=256)
    c.req("manager", "import_dmabuf", NEW, SEALED, ARGB, 512, 512, 0, 2048, 0)
    s.flush()


@seed("v-fences")
def _(s):
    c = s.clients[0]
    buf, att = mapped_writer(c)
    c.req(att, "begin_access", DIR_WRITE)
    wf = c.req(buf, "get_fence", NEW, FENCE_WRITE)
    rf = c.req(buf, "get_fence", NEW, FENCE_READ)
    s.flush()
    c.req(att, "end_access", DIR_WRITE)
    s.flush()
    c.req(wf, "destroy")
    c.req(rf, "destroy")
    s.flush()


@seed("v-read-fence-with-reader")
def _(s):
    c = s.clients[0]
    buf = create(c)
    att = attach(buf, access=READ)
    c.req(att, "map", DIR_READ)
    c.req(att, "begin_access", DIR_READ)
    c.req(buf, "get_fence", NEW, FENCE_READ)
    s.flush()
    c.req(att, "destroy")  # ends the bracket: the fence signals
    s.flush()


@seed("v-info")
def _(s):
    c = s.clients[0]
    buf, att = mapped_writer(c, name="info")
    c.req(att, "begin_access", DIR_WRITE)
    info = c.req("manager", "get_info", NEW)
    s.flush()
    c.req(info, "refresh")
    s.flush()
    c.req(info, "destroy")
    s.flush()


def writer_in_bracket(s, c, **kw):
    buf, att = mapped_writer(c, **kw)
    c.req(att, "begin_access", DIR_WRITE)
    s.flush()  # the ready event: the bracket is open
    return buf, att


@seed("v-acquire-fence-eventfd")
def _(s):
    c0, c1 = s.clients
    buf, att = writer_in_bracket(s, c0)
    c0.req(att, "set_acquire_fence", EVENTFD)
    c0.req(att, "end_access", DIR_WRITE)  # the write fence waits for the eventfd
    wlb = c0.req("manager", "get_wl_buffer", NEW, buf)
    c0.req(buf, "share", NEW, READ)
    c0.req(buf, "get_fence", NEW, FENCE_WRITE)
    s.flush()
    read = s.read_begin(wlb)  # waits
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    ratt = attach(imp, access=READ)
    c1.req(ratt, "map", DIR_READ)
    c1.req(ratt, "begin_access", DIR_READ)  # waits
    s.flush()
    s.signal_eventfd()  # everyone is ready
    s.read_pixels(read)
    c1.req(ratt, "end_access", DIR_READ)
    s.read_end(read)
    s.flush()


@seed("v-acquire-fence-signaled")
def _(s):
    c = s.clients[0]
    buf, att = writer_in_bracket(s, c)
    c.req(att, "set_acquire_fence", EVENTFD_SIGNALED)
    c.req(att, "end_access", DIR_WRITE)
    c.req(att, "begin_access", DIR_WRITE)  # the previous frame is complete at once
    s.flush()


@seed("v-acquire-fence-writer-disconnects")
def _(s):
    c0, c1 = s.clients
    buf, att = writer_in_bracket(s, c0)
    c0.req(buf, "share", NEW, READ)
    c0.req(att, "set_acquire_fence", EVENTFD)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    ratt = attach(imp, access=READ)
    c1.req(ratt, "map", DIR_READ)
    c1.req(ratt, "begin_access", DIR_READ)
    s.flush()
    c0.disconnect()  # the eventfd counts as signaled
    s.flush()
    c1.req(ratt, "end_access", DIR_READ)
    s.flush()


@seed("v-acquire-fence-from-broker-fence")
def _(s):
    c = s.clients[0]
    buf = create(c)
    r = attach(buf, access=READ)
    c.req(r, "map", DIR_READ)
    c.req(r, "begin_access", DIR_READ)
    c.req(buf, "get_fence", NEW, FENCE_READ)
    s.flush()  # received: the mapped fd, then the fence's eventfd
    w = attach(buf)
    c.req(w, "map", DIR_WRITE)
    c.req(r, "end_access", DIR_READ)
    c.req(w, "begin_access", DIR_WRITE)
    s.flush()
    c.req(w, "set_acquire_fence", RECEIVED + 1)
    c.req(w, "end_access", DIR_WRITE)
    c.req(w, "destroy")  # the fence outlives the attachment
    s.flush()


@seed("v-acquire-fence-server-destroyed")
def _(s):
    c = s.clients[0]
    buf, att = writer_in_bracket(s, c)
    c.req(att, "set_acquire_fence", EVENTFD)
    c.req(att, "end_access", DIR_WRITE)
    s.flush()
    s.server_destroy()
    s.signal_eventfd()


@seed("v-compositor-read")
def _(s):
    c = s.clients[0]
    buf, att = mapped_writer(c)
    wlb = c.req("manager", "get_wl_buffer", NEW, buf)
    s.flush()
    read = s.read_begin(wlb)
    s.read_pixels(read)
    c.req(att, "begin_access", DIR_WRITE)  # waits for the compositor
    s.flush()
    s.read_end(read)
    s.flush()
    c.req(att, "end_access", DIR_WRITE)
    s.flush()


@seed("v-compositor-waits-for-writer")
def _(s):
    c = s.clients[0]
    buf, att = mapped_writer(c)
    c.req(att, "begin_access", DIR_WRITE)
    wlb = c.req("manager", "get_wl_buffer", NEW, buf)
    s.flush()
    read = s.read_begin(wlb)
    s.read_pixels(read)  # not ready yet
    c.req(att, "end_access", DIR_WRITE)
    s.flush()
    s.read_pixels(read)
    s.read_end(read)
    s.flush()


@seed("v-compositor-read-outlives-buffer")
def _(s):
    c = s.clients[0]
    buf = create(c)
    wlb = c.req("manager", "get_wl_buffer", NEW, buf)
    s.flush()
    read = s.read_begin(wlb)
    c.req(wlb, "destroy")
    c.req(buf, "destroy")
    s.flush()
    s.read_pixels(read)
    c.disconnect()
    s.read_pixels(read)
    s.read_end(read)


@seed("v-compositor-read-unbacked")
def _(s):
    c = s.clients[0]
    buf = create(c, width=33, height=17, fmt=XBGR)
    wlb = c.req("manager", "get_wl_buffer", NEW, buf)
    s.flush()
    read = s.read_begin(wlb)  # the first map allocates
    s.read_pixels(read)
    att = attach(buf, align=4096)  # migrates under the read
    c.req(att, "map", DIR_WRITE)
    s.flush()
    s.read_end(read)
    s.flush()


@seed("v-compositor-read-waiting-migrates")
def _(s):
    c = s.clients[0]
    buf = create(c, width=100, height=10)
    w = attach(buf)
    c.req(w, "map", DIR_WRITE)
    c.req(w, "begin_access", DIR_WRITE)
    wlb = c.req("manager", "get_wl_buffer", NEW, buf)
    s.flush()
    read = s.read_begin(wlb)  # waits for the writer
    strict = attach(buf, align=4096)  # moves the writer's mapping and the read's
    c.req(strict, "map", DIR_READ)
    s.flush()
    c.req(w, "end_access", DIR_WRITE)
    c.req(w, "unmap")
    s.flush()  # migrated: the read maps the new storage and is ready
    s.read_pixels(read)
    s.read_end(read)
    s.flush()


@seed("v-compositor-read-of-non-buffers")
def _(s):
    c = s.clients[0]
    buf = create(c)
    s.flush()
    s.out += bytes([11, 0xc0 + c.candidates().index(buf)])  # a dmabroker_buffer_v1
    s.out += bytes([11, 0xc0 + c.candidates().index(c.manager)])
    s.flush()


@seed("v-migration")
def _(s):
    c = s.clients[0]
    buf = create(c, width=100, height=10)
    a = attach(buf)
    c.req(a, "map", DIR_WRITE)
    s.flush()
    b = attach(buf, align=4096)  # a stricter stride: a gets moved
    c.req(b, "map", DIR_WRITE)  # held back until a unmaps
    s.flush()
    c.req(a, "unmap")
    s.flush()
    c.req(a, "map", DIR_READ)
    c.req(b, "begin_access", DIR_WRITE)
    s.flush()
    c.req(b, "end_access", DIR_WRITE)
    s.flush()


@seed("v-migration-two-clients")
def _(s):
    c0, c1 = s.clients
    buf = create(c0, width=100, height=10)
    a = attach(buf)
    c0.req(a, "map", DIR_WRITE)
    c0.req(a, "begin_access", DIR_WRITE)
    c0.req(buf, "share", NEW, READ)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    b = attach(imp, access=READ, align=1024)
    c1.req(b, "map", DIR_READ)
    s.flush()
    c0.req(a, "end_access", DIR_WRITE)
    c0.req(a, "unmap")
    s.flush()
    c1.req(b, "begin_access", DIR_READ)
    s.flush()


@seed("v-contiguous-unsatisfiable")
def _(s):
    c = s.clients[0]
    buf = create(c)
    att = attach(buf, flags=1)
    c.req(att, "map", DIR_WRITE)
    s.flush()


@seed("v-import-dmabuf")
def _(s):
    c0, c1 = s.clients
    buf = c0.req("manager", "import_dmabuf", NEW, SEALED, ARGB, 256, 256, 0, 1024, 0)
    att = attach(buf)
    c0.req(att, "map", DIR_WRITE)
    c0.req(att, "begin_access", DIR_WRITE)
    c0.req(att, "end_access", DIR_WRITE)
    c0.req(buf, "share", NEW, READ)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    ratt = attach(imp, access=READ)
    c1.req(ratt, "map", DIR_READ)
    s.flush()


@seed("v-import-dmabuf-offset-y-invert")
def _(s):
    c = s.clients[0]
    buf = c.req("manager", "import_dmabuf", NEW, SEALED_SMALL, RGB565, 16, 16, 1024, 64, 1)
    att = attach(buf, access=READ)
    c.req(att, "map", DIR_READ)
    s.flush()


@seed("v-import-mapped-fd-back")
def _(s):
    c = s.clients[0]
    buf, att = mapped_writer(c)
    s.flush()  # the mapped fd is the first one received
    c.req("manager", "import_dmabuf", NEW, RECEIVED, ARGB, 64, 64, 0, 256, 0)
    s.flush()


@seed("v-import-read-only-fd")
def _(s):
    c = s.clients[0]
    buf = c.req("manager", "import_dmabuf", NEW, READ_ONLY, XRGB, 512, 512, 0, 2048, 0)
    att = attach(buf, access=READ)
    c.req(att, "map", DIR_READ)
    s.flush()
    c.req(att, "begin_access", DIR_READ)
    s.flush()


@seed("v-import-stricter-attach")
def _(s):
    c = s.clients[0]
    buf = c.req("manager", "import_dmabuf", NEW, SEALED, ARGB, 256, 256, 0, 1024, 0)
    a = attach(buf)
    c.req(a, "map", DIR_WRITE)
    s.flush()
    b = attach(buf, align=4096)  # imported storage cannot move: unsatisfiable
    c.req(b, "map", DIR_WRITE)
    s.flush()
    c.req(a, "unmap")
    s.flush()


@seed("v-disconnect-mid-bracket")
def _(s):
    c0, c1 = s.clients
    buf, att = mapped_writer(c0)
    c0.req(att, "begin_access", DIR_WRITE)
    c0.req(buf, "share", NEW, READ)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    ratt = attach(imp, access=READ)
    c1.req(ratt, "map", DIR_READ)
    c1.req(ratt, "begin_access", DIR_READ)
    s.flush()
    c0.disconnect()
    s.flush()
    c1.req(ratt, "end_access", DIR_READ)
    c1.req(ratt, "unmap")
    s.flush()


@seed("v-destroy-attachment-while-waiting")
def _(s):
    c0, c1 = s.clients
    buf = create(c0)
    a = attach(buf, access=READ)
    c0.req(a, "map", DIR_READ)
    c0.req(a, "begin_access", DIR_READ)
    c0.req(buf, "share", NEW, READ_WRITE)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    w = attach(imp)
    c1.req(w, "map", DIR_WRITE)
    c1.req(w, "begin_access", DIR_WRITE)  # waits for the reader
    s.flush()
    c1.req(w, "destroy")  # cancels the wait
    c0.req(a, "end_access", DIR_READ)
    s.flush()


def shared_reader(s, token_access=READ, access=READ):
    """A buffer of client 0 with a mapped writer, and client 1's mapped import."""
    c0, c1 = s.clients
    buf = create(c0)
    w = attach(buf)
    c0.req(w, "map", DIR_WRITE)
    tok = c0.req(buf, "share", NEW, token_access)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    r = attach(imp, access=access)
    c1.req(r, "map", DIR_READ if access == READ else DIR_WRITE)
    s.flush()
    return buf, w, tok, imp, r


@seed("v-end-cancels-wait")
def _(s):
    c0, c1 = s.clients
    buf, w, tok, imp, r = shared_reader(s)
    c1.req(r, "begin_access", DIR_READ)
    s.flush()
    c0.req(w, "begin_access", DIR_WRITE)  # waits for the reader
    s.flush()
    c0.req(w, "end_access", DIR_WRITE)  # before ready: cancels
    c1.req(r, "end_access", DIR_READ)
    s.flush()


@seed("v-stale-ready")
def _(s):
    """Issue 7, failure 1: the ready of a withdrawn bracket must not begin the next one."""
    c0, c1 = s.clients
    buf, w, tok, imp, r = shared_reader(s)
    c0.req(w, "begin_access", DIR_WRITE)
    s.flush()
    c1.req(r, "begin_access", DIR_READ)  # waits for the writer
    s.flush()
    c1.req(r, "end_access", DIR_READ)  # withdraws bracket 1
    c1.req(r, "begin_access", DIR_READ)  # bracket 2
    s.flush()
    c0.req(w, "end_access", DIR_WRITE)  # ready(2), never ready(1)
    s.flush()
    c1.req(r, "end_access", DIR_READ)
    c1.req(r, "unmap")
    c1.req(r, "map", DIR_READ)
    c1.req(r, "unmap")  # withdraws map 2 (or answers it first)
    c1.req(r, "map", DIR_READ)
    s.flush()


@seed("v-preempted")
def _(s):
    """The owner's writer waits past the hold bound: the reader's bracket is ended."""
    c0, c1 = s.clients
    buf, w, tok, imp, r = shared_reader(s)
    c1.req(r, "begin_access", DIR_READ)
    s.flush()
    c0.req(w, "begin_access", DIR_WRITE)  # waits for the reader
    s.flush()
    c0.control(HOLD)  # r fails with preempted, w gets ready
    c0.req(w, "end_access", DIR_WRITE)
    c1.req(r, "end_access", DIR_READ)  # ignored: defunct
    c1.req(r, "destroy")
    r2 = attach(imp, access=READ)  # the token still holds: a new attachment works
    c1.req(r2, "map", DIR_READ)
    s.flush()


@seed("v-revoke-after-import")
def _(s):
    """Revoking ends the access the token granted, and what was reshared from it."""
    c0, c1 = s.clients
    buf, w, tok, imp, r = shared_reader(s, token_access=READ_WRITE, access=READ_WRITE)
    c1.req(imp, "share", NEW, READ)
    c1.req(r, "begin_access", DIR_WRITE)
    s.flush()
    again = c1.req("manager", "import_buffer", NEW, Str.token(1))
    r2 = attach(again, access=READ)
    c0.req(w, "begin_access", DIR_WRITE)  # waits for client 1's writer
    s.flush()
    c0.req(tok, "revoke")  # r and r2 fail with revoked_token; w gets ready
    s.flush()
    c1.req(r, "end_access", DIR_WRITE)  # ignored: defunct
    attach(imp)  # fails with revoked_token
    c1.req(imp, "share", NEW, READ)  # the token fails with revoked_token
    c0.req(w, "end_access", DIR_WRITE)
    s.flush()


@seed("v-token-destroy-keeps-access")
def _(s):
    c0, c1 = s.clients
    buf, w, tok, imp, r = shared_reader(s)
    c0.req(tok, "destroy")
    s.flush()
    c1.req(r, "begin_access", DIR_READ)
    s.flush()
    c1.req(r, "end_access", DIR_READ)
    c1.req("manager", "import_buffer", NEW, Str.token(0))  # revoked_token or unknown_token
    s.flush()


@seed("v-alloc-failed")
def _(s):
    """The broker out of fds: allocating, then exporting storage fails."""
    c = s.clients[0]
    buf = create(c)
    a = attach(buf)
    s.flush()
    c.req(a, "map", DIR_WRITE)
    c.control(STARVE)  # allocating fails
    b = attach(buf)
    c.req(b, "map", DIR_WRITE)
    s.flush()
    d = attach(buf, access=READ)
    s.flush()
    c.req(d, "map", DIR_READ)
    c.control(STARVE)  # exporting the fd fails
    c.req(c.req(buf, "get_fence", NEW, FENCE_WRITE), "destroy")
    c.control(STARVE)
    s.flush()


@seed("v-permission-denied")
def _(s):
    """Introspection by another uid (as root; else the connection is the same uid's)."""
    c0, c1 = s.clients
    create(c0)
    s.flush()
    c1.control(FOREIGN)
    c1.req("manager", "get_info", NEW)
    s.flush()


# Well-formed requests (op 8): the argument bytes index the harness's hints.

@seed("w-share-brackets")
def _(s):
    c0, c1 = s.clients
    buf = c0.well_formed(c0.manager, "create_buffer", 2, 2, 0, 3, 0)  # 64x64 ARGB
    w = c0.well_formed(buf, "attach", 1, 0, 0, 0)  # read_write
    c0.well_formed(w, "map", 1)  # write
    c0.well_formed(buf, "share", 0)  # read
    s.flush()
    imp = c1.well_formed(c1.manager, "import_buffer", 0)
    r = c1.well_formed(imp, "attach", 0, 0, 0, 0)  # read
    c1.well_formed(r, "map", 0)
    c1.well_formed(r, "begin_access", 0)
    s.flush()
    c0.well_formed(w, "begin_access", 1)
    s.flush()
    c1.well_formed(r, "end_access", 0)
    s.flush()
    c0.well_formed(w, "set_acquire_fence", 1)  # signaled
    c0.well_formed(w, "end_access", 1)
    c0.well_formed(buf, "get_fence", 0)
    s.flush()


@seed("w-migration")
def _(s):
    c0 = s.clients[0]
    buf = c0.well_formed(c0.manager, "create_buffer", 3, 1, 0, 3, 0)  # 100x16
    a = c0.well_formed(buf, "attach", 1, 0, 0, 0)
    c0.well_formed(a, "map", 1)
    s.flush()
    b = c0.well_formed(buf, "attach", 1, 0, 3, 0)  # row_alignment 4096: moves
    c0.well_formed(b, "map", 1)
    s.flush()
    c0.well_formed(a, "unmap")
    s.flush()
    c0.well_formed(c0.manager, "get_info")
    s.flush()


@seed("v-server-destroyed-under-clients")
def _(s):
    c0, c1 = s.clients
    buf, att = mapped_writer(c0)
    c0.req(att, "begin_access", DIR_WRITE)
    wlb = c0.req("manager", "get_wl_buffer", NEW, buf)
    s.flush()
    s.read_begin(wlb)
    c1.req("manager", "get_info", NEW)
    s.flush()
    s.server_destroy()
    c0.req(att, "end_access", DIR_WRITE)
    c0.req(buf, "attach", NEW, READ, 0, 0, 1)
    create(c0)
    c0.req(buf, "share", NEW, READ)
    s.flush()


@seed("v-teardown-server-first", mode=4)
def _(s):
    c = s.clients[0]
    buf, att = mapped_writer(c)
    c.req(att, "begin_access", DIR_WRITE)
    wlb = c.req("manager", "get_wl_buffer", NEW, buf)
    c.req(buf, "share", NEW, READ)
    s.flush()
    s.read_begin(wlb)
    s.flush()


@seed("v-manager-destroy-rebind")
def _(s):
    c = s.clients[0]
    buf = create(c)
    c.req("manager", "destroy")
    s.flush()
    mgr = c.req(c.registry, "bind", 1, Str.interface("dmabroker_manager_v1"), 1, NEW)
    c.manager = mgr
    attach(buf)
    create(c)
    s.flush()


@seed("v-sync")
def _(s):
    c = s.clients[0]
    c.req(c.display, "sync", NEW)
    c.req(c.display, "get_registry", NEW)
    s.flush()


@seed("v-read-only-import-mapped")
def _(s):
    c0, c1 = s.clients
    buf = create(c0)
    c0.req(buf, "share", NEW, READ)
    s.flush()
    imp = c1.req("manager", "import_buffer", NEW, Str.token(0))
    att = attach(imp, access=READ)
    c1.req(att, "map", DIR_READ)
    s.flush()
    c1.req(imp, "get_fence", NEW, FENCE_READ)
    s.flush()


@seed("v-longest-name")
def _(s):
    c = s.clients[0]
    c.req("manager", "create_buffer", NEW, 512, 1, ABGR, 15, Str.longest())
    s.flush()


def dmabuf_params(c, fd=SEALED, offset=0, stride=1024, modifier=MOD_LINEAR, plane=0):
    params = c.req("linux_dmabuf", "create_params", NEW)
    c.req(params, "add", fd, plane, offset, stride, modifier >> 32, modifier & 0xffffffff)
    return params


@seed("v-linux-dmabuf-create-immed")
def _(s):
    c = s.clients[0]
    params = dmabuf_params(c)
    wlb = c.req(params, "create_immed", NEW, 256, 256, ARGB, 0)
    c.req(params, "destroy")
    s.flush()
    read = s.read_begin(wlb)
    s.read_pixels(read)
    c.req(wlb, "destroy")
    s.flush()
    s.read_pixels(read)
    s.read_end(read)


@seed("v-linux-dmabuf-create")
def _(s):
    c = s.clients[0]
    params = dmabuf_params(c, fd=SEALED_SMALL, stride=64, modifier=MOD_INVALID)
    c.req(params, "create", 16, 16, XRGB, 0)
    s.flush()
    wlb = c.server_created("wl_buffer")
    read = s.read_begin(wlb)
    s.read_pixels(read)
    s.read_end(read)
    c.req(wlb, "destroy")
    s.flush()


@seed("v-linux-dmabuf-y-invert-offset")
def _(s):
    c = s.clients[0]
    params = dmabuf_params(c, offset=4096, stride=512)
    c.req(params, "create_immed", NEW, 100, 100, RGB565, 1)
    s.flush()


@seed("v-linux-dmabuf-failed")
def _(s):
    c = s.clients[0]
    for fd in (UNSEALED, PIPE, WRITE_ONLY):
        c.req(dmabuf_params(c, fd=fd), "create", 16, 16, ARGB, 0)
    c.req(dmabuf_params(c), "create", 16, 16, ARGB, 2)  # interlaced
    s.flush()


@seed("v-linux-dmabuf-quota")
def _(s):
    c = s.clients[0]
    create(c, width=512, height=300)
    c.req(dmabuf_params(c, stride=2048), "create", 512, 300, ARGB, 0)
    s.flush()


@seed("v-linux-dmabuf-two-clients")
def _(s):
    c0, c1 = s.clients
    w0 = c0.req(dmabuf_params(c0), "create_immed", NEW, 256, 256, ARGB, 0)
    w1 = c1.req(dmabuf_params(c1), "create_immed", NEW, 256, 256, ARGB, 0)
    s.flush()
    r0 = s.read_begin(w0)
    s.read_begin(w1)
    c0.disconnect()
    s.flush()
    s.read_pixels(r0)
    s.read_end(r0)


@seed("v-linux-dmabuf-server-destroyed")
def _(s):
    c = s.clients[0]
    params = dmabuf_params(c)
    other = dmabuf_params(c)
    c.req(params, "create_immed", NEW, 64, 64, ARGB, 0)
    s.flush()
    s.server_destroy()
    c.req(other, "create", 64, 64, ARGB, 0)
    c.req(c.linux_dmabuf, "create_params", NEW)
    s.flush()


# Protocol errors, one input each

def error_seed(name):
    return seed("e-" + name)


@error_seed("manager-invalid-format")
def _(s):
    create(s.clients[0], fmt=NV12)


@error_seed("manager-invalid-size-zero")
def _(s):
    create(s.clients[0], width=0)


@error_seed("manager-invalid-size-beyond-limit")
def _(s):
    create(s.clients[0], height=513)


@error_seed("manager-invalid-size-beyond-bytes")
def _(s):
    create(s.clients[0], width=1024, height=512)


@error_seed("manager-invalid-size-width")
def _(s):
    create(s.clients[0], width=1025, height=1)


@error_seed("manager-invalid-usage")
def _(s):
    create(s.clients[0], usage=16)


@error_seed("manager-invalid-name")
def _(s):
    s.clients[0].req("manager", "create_buffer", NEW, 64, 64, ARGB, 3, Str.too_long())


@error_seed("manager-invalid-buffer")
def _(s):
    c = s.clients[0]
    buf = c.req("manager", "import_buffer", NEW, Str.unknown_token())
    s.flush()
    c.req("manager", "get_wl_buffer", NEW, buf)


@error_seed("manager-invalid-fd-unsealed")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, UNSEALED, ARGB, 64, 64, 0, 256, 0)


@error_seed("manager-invalid-fd-pipe")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, PIPE, ARGB, 64, 64, 0, 256, 0)


@error_seed("manager-invalid-fd-devnull")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, DEVNULL, ARGB, 64, 64, 0, 256, 0)


@error_seed("manager-invalid-fd-write-only")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, WRITE_ONLY, ARGB, 16, 16, 0, 64, 0)


@error_seed("manager-invalid-stride")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, SEALED, ARGB, 64, 64, 0, 255, 0)


@error_seed("manager-out-of-bounds")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, SEALED_SMALL, ARGB, 64, 64, 0, 256, 0)


@error_seed("manager-out-of-bounds-offset")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, SEALED, ARGB, 16, 16, 0xfffffffe, 64, 0)


@error_seed("manager-invalid-flags")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, SEALED, ARGB, 64, 64, 0, 256, 2)


@error_seed("manager-import-invalid-format")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, SEALED, C8, 64, 64, 0, 256, 0)


@error_seed("manager-import-invalid-size")
def _(s):
    s.clients[0].req("manager", "import_dmabuf", NEW, SEALED, ARGB, 0, 64, 0, 256, 0)


@error_seed("buffer-invalid-access-attach")
def _(s):
    attach(create(s.clients[0]), access=2)


@error_seed("buffer-invalid-access-share")
def _(s):
    c = s.clients[0]
    c.req(create(c), "share", NEW, 0)


@error_seed("buffer-invalid-constraints-alignment")
def _(s):
    attach(create(s.clients[0]), align=3)


@error_seed("buffer-invalid-constraints-alignment-too-big")
def _(s):
    attach(create(s.clients[0]), align=8192)


@error_seed("buffer-invalid-constraints-planes")
def _(s):
    attach(create(s.clients[0]), planes=0)


@error_seed("buffer-invalid-constraints-flags")
def _(s):
    attach(create(s.clients[0]), flags=2)


def read_only_import(s):
    c0, c1 = s.clients
    c0.req(create(c0), "share", NEW, READ)
    s.flush()
    return c1.req("manager", "import_buffer", NEW, Str.token(0))


@error_seed("buffer-read-only-attach")
def _(s):
    attach(read_only_import(s), access=READ_WRITE)


@error_seed("buffer-read-only-share")
def _(s):
    imp = read_only_import(s)
    imp.client.req(imp, "share", NEW, READ_WRITE)


@error_seed("buffer-invalid-fence")
def _(s):
    c = s.clients[0]
    c.req(create(c), "get_fence", NEW, 2)


def attachment(s, access=READ_WRITE):
    c = s.clients[0]
    return c, attach(create(c), access=access)


@error_seed("attachment-invalid-direction-zero")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", 0)


@error_seed("attachment-invalid-direction-unknown")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", 4)


@error_seed("attachment-invalid-direction-begin")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_WRITE)
    c.req(att, "begin_access", 7)


@error_seed("attachment-read-only")
def _(s):
    c, att = attachment(s, access=READ)
    c.req(att, "map", DIR_WRITE)


@error_seed("attachment-already-mapped")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_WRITE)
    c.req(att, "map", DIR_READ)


@error_seed("attachment-not-mapped-unmap")
def _(s):
    c, att = attachment(s)
    c.req(att, "unmap")


@error_seed("attachment-not-mapped-begin")
def _(s):
    c, att = attachment(s)
    c.req(att, "begin_access", DIR_READ)


@error_seed("attachment-not-mapped-pending-map")
def _(s):
    c = s.clients[0]
    buf = create(c, width=100, height=10)
    a = attach(buf)
    c.req(a, "map", DIR_WRITE)
    s.flush()
    b = attach(buf, align=4096)
    c.req(b, "map", DIR_WRITE)
    c.req(b, "begin_access", DIR_WRITE)  # the map is held back


@error_seed("attachment-nested-access")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_WRITE)
    c.req(att, "begin_access", DIR_WRITE)
    c.req(att, "begin_access", DIR_WRITE)


@error_seed("attachment-not-in-access")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_WRITE)
    c.req(att, "end_access", DIR_WRITE)


@error_seed("attachment-direction-mismatch-end")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_READ | DIR_WRITE)
    c.req(att, "begin_access", DIR_WRITE)
    c.req(att, "end_access", DIR_READ)


@error_seed("attachment-direction-mismatch-begin")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_READ)
    c.req(att, "begin_access", DIR_WRITE)


@error_seed("attachment-access-pending")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_WRITE)
    c.req(att, "begin_access", DIR_WRITE)
    c.req(att, "unmap")


@error_seed("params-already-used")
def _(s):
    c = s.clients[0]
    params = dmabuf_params(c)
    c.req(params, "create", 64, 64, ARGB, 0)
    c.req(params, "create", 64, 64, ARGB, 0)


@error_seed("params-already-used-add")
def _(s):
    c = s.clients[0]
    params = dmabuf_params(c)
    c.req(params, "create_immed", NEW, 64, 64, ARGB, 0)
    c.req(params, "add", SEALED, 0, 0, 256, 0, 0)


@error_seed("params-plane-idx")
def _(s):
    dmabuf_params(s.clients[0], plane=1)


@error_seed("params-plane-set")
def _(s):
    c = s.clients[0]
    params = dmabuf_params(c)
    c.req(params, "add", SEALED, 0, 0, 256, 0, 0)


@error_seed("params-incomplete")
def _(s):
    c = s.clients[0]
    c.req(c.req("linux_dmabuf", "create_params", NEW), "create", 64, 64, ARGB, 0)


@error_seed("params-invalid-dimensions-negative")
def _(s):
    c = s.clients[0]
    c.req(dmabuf_params(c), "create", -1, 64, ARGB, 0)


@error_seed("params-invalid-dimensions-limit")
def _(s):
    c = s.clients[0]
    c.req(dmabuf_params(c), "create_immed", NEW, 64, 513, ARGB, 0)


@error_seed("params-invalid-format")
def _(s):
    c = s.clients[0]
    c.req(dmabuf_params(c), "create", 64, 64, NV12, 0)


@error_seed("params-invalid-format-modifier")
def _(s):
    c = s.clients[0]
    c.req(dmabuf_params(c, modifier=1), "create", 64, 64, ARGB, 0)


@error_seed("params-out-of-bounds")
def _(s):
    c = s.clients[0]
    c.req(dmabuf_params(c, fd=SEALED_SMALL, stride=256), "create", 64, 64, ARGB, 0)


@error_seed("params-out-of-bounds-stride")
def _(s):
    c = s.clients[0]
    c.req(dmabuf_params(c, stride=100), "create", 64, 64, ARGB, 0)


@error_seed("params-invalid-wl-buffer")
def _(s):
    c = s.clients[0]
    c.req(dmabuf_params(c, fd=UNSEALED), "create_immed", NEW, 64, 64, ARGB, 0)


@error_seed("attachment-acquire-fence-not-in-access")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_WRITE)
    c.req(att, "set_acquire_fence", EVENTFD)


@error_seed("attachment-acquire-fence-read-bracket")
def _(s):
    c, att = attachment(s)
    c.req(att, "map", DIR_READ | DIR_WRITE)
    c.req(att, "begin_access", DIR_READ)
    s.flush()
    c.req(att, "set_acquire_fence", EVENTFD)


@error_seed("attachment-acquire-fence-before-ready")
def _(s):
    c0, c1 = s.clients
    buf, w, tok, imp, r = shared_reader(s)
    c1.req(r, "begin_access", DIR_READ)
    s.flush()
    c0.req(w, "begin_access", DIR_WRITE)  # waits for the reader
    s.flush()
    c0.req(w, "set_acquire_fence", EVENTFD)


@error_seed("attachment-conflicting-access")
def _(s):
    c = s.clients[0]
    buf = create(c)
    r = attach(buf, access=READ)
    w = attach(buf)
    c.req(r, "map", DIR_READ)
    c.req(w, "map", DIR_WRITE)
    c.req(r, "begin_access", DIR_READ)
    c.req(w, "begin_access", DIR_WRITE)  # would wait for the same client's reader


@error_seed("attachment-conflicting-access-waiting")
def _(s):
    """The conflicting bracket is still waiting (for another client's writer)."""
    c0, c1 = s.clients
    buf, w, tok, imp, r = shared_reader(s, token_access=READ_WRITE, access=READ_WRITE)
    c0.req(w, "begin_access", DIR_WRITE)
    s.flush()
    r2 = attach(imp, access=READ)
    c1.req(r2, "map", DIR_READ)
    c1.req(r, "begin_access", DIR_WRITE)  # waits for client 0
    c1.req(r2, "begin_access", DIR_READ)


@error_seed("attachment-duplicate-fence")
def _(s):
    c = s.clients[0]
    buf, att = writer_in_bracket(s, c)
    c.req(att, "set_acquire_fence", EVENTFD)
    c.req(att, "set_acquire_fence", EVENTFD_SIGNALED)


@error_seed("attachment-invalid-fence")
def _(s):
    c = s.clients[0]
    buf, att = writer_in_bracket(s, c)
    c.req(att, "set_acquire_fence", SEALED)


@error_seed("linux-dmabuf-feedback-beyond-version")
def _(s):
    c = s.clients[0]
    c.req("linux_dmabuf", "get_default_feedback", NEW)


@error_seed("wire-new-id-in-use")
def _(s):
    c = s.clients[0]
    c.req("manager", "create_buffer", c.manager, 64, 64, ARGB, 3, Str.empty())


@error_seed("wire-null-string")
def _(s):
    c = s.clients[0]
    c.req("manager", "create_buffer", NEW, 64, 64, ARGB, 3, Str.null())


@error_seed("wire-bind-wrong-interface")
def _(s):
    c = s.clients[0]
    c.req(c.registry, "bind", 1, Str.interface("wl_buffer"), 1, NEW)


# Raw inputs for the wire parser: wl_display 1, registry 2, manager 3, linux-dmabuf 4,
# new ids from 5.

def message(obj, opcode, payload=b""):
    return struct.pack("<II", obj, (8 + len(payload)) << 16 | opcode) + payload


def wire_string(text):
    data = text.encode() + b"\0"
    return struct.pack("<I", len(data)) + data + b"\0" * (-len(data) % 4)


def raw(name, n_fds, data):
    SEEDS.append(("r-" + name, 3, lambda s: s.out.extend(bytes([n_fds]) + data)))


def u32s(*values):
    return struct.pack("<%dI" % len(values), *values)


CREATE = message(3, 1, u32s(5, 64, 64, ARGB, 3) + wire_string("raw"))
raw("create-attach-map", 0, CREATE + message(5, 1, u32s(6, 3, 0, 0, 1)) + message(6, 1, u32s(2))
    + message(6, 3, u32s(2)) + message(6, 4, u32s(2)))
raw("import-dmabuf-with-fd", 1, message(3, 3, u32s(5, ARGB, 64, 64, 0, 256, 0)))
raw("import-dmabuf-without-fd", 0, message(3, 3, u32s(5, ARGB, 64, 64, 0, 256, 0)))
raw("linux-dmabuf-create-immed", 1, message(4, 1, u32s(5)) + message(5, 1, u32s(0, 0, 0, 256, 0, 0))
    + message(5, 3, u32s(6, 64, 64, ARGB, 0)))
raw("size-below-header", 0, u32s(3, 4 << 16 | 1))
raw("size-beyond-data", 0, u32s(3, 64 << 16 | 1, 4))
raw("opcode-out-of-range", 0, message(3, 9))
raw("unknown-object", 0, message(77, 0))
raw("string-not-terminated", 0,
    message(3, 1, u32s(5, 64, 64, ARGB, 3) + struct.pack("<I", 4) + b"abcd"))
raw("string-length-overflow", 0, message(3, 1, u32s(5, 64, 64, ARGB, 3, 0xfffffff0)))
raw("split-messages", 2, CREATE + CREATE[:10])


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out_dir, exist_ok=True)
    for name, mode, func in SEEDS:
        s = Seed(name, mode)
        func(s)
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(s.out)
    print("%d seeds in %s" % (len(SEEDS), out_dir))


if __name__ == "__main__":
    main()
