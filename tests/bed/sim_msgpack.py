"""A small MessagePack codec (the subset Fluentd's forward protocol and buffer .meta files use).

Debian's python3-msgpack is not needed: nil, bool, int, float, str, bin, array, map and ext
(Fluentd's EventTime is ext type 0: 4-byte seconds + 4-byte nanoseconds, big endian).
"""
import struct


class ExtType:
    def __init__(self, code, data):
        self.code = code
        self.data = data

    def __eq__(self, other):
        return isinstance(other, ExtType) and (self.code, self.data) == (other.code, other.data)

    def __repr__(self):
        return f"ExtType({self.code}, {self.data!r})"


def event_time(t):
    """Fluentd EventTime (ext 0) for a float epoch time."""
    sec = int(t)
    nsec = int(round((t - sec) * 1e9))
    if nsec >= 1000000000:
        sec, nsec = sec + 1, nsec - 1000000000
    return ExtType(0, struct.pack(">II", sec, nsec))


def event_time_value(v):
    """Epoch seconds (float) from an int, float or EventTime ext."""
    if isinstance(v, ExtType) and v.code == 0 and len(v.data) == 8:
        sec, nsec = struct.unpack(">II", v.data)
        return sec + nsec / 1e9
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    raise ValueError(f"not an event time: {v!r}")


def packb(obj):
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(o, out):
    if o is None:
        out.append(0xC0)
    elif o is True:
        out.append(0xC3)
    elif o is False:
        out.append(0xC2)
    elif isinstance(o, int):
        if 0 <= o < 0x80:
            out.append(o)
        elif -32 <= o < 0:
            out.append(o & 0xFF)
        elif 0 <= o <= 0xFF:
            out += b"\xcc" + struct.pack(">B", o)
        elif 0 <= o <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", o)
        elif 0 <= o <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", o)
        elif 0 <= o <= 0xFFFFFFFFFFFFFFFF:
            out += b"\xcf" + struct.pack(">Q", o)
        elif -0x80 <= o:
            out += b"\xd0" + struct.pack(">b", o)
        elif -0x8000 <= o:
            out += b"\xd1" + struct.pack(">h", o)
        elif -0x80000000 <= o:
            out += b"\xd2" + struct.pack(">i", o)
        else:
            out += b"\xd3" + struct.pack(">q", o)
    elif isinstance(o, float):
        out += b"\xcb" + struct.pack(">d", o)
    elif isinstance(o, str):
        b = o.encode("utf-8")
        n = len(b)
        if n < 32:
            out.append(0xA0 | n)
        elif n <= 0xFF:
            out += b"\xd9" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += b
    elif isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n <= 0xFF:
            out += b"\xc4" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xc5" + struct.pack(">H", n)
        else:
            out += b"\xc6" + struct.pack(">I", n)
        out += o
    elif isinstance(o, (list, tuple)):
        n = len(o)
        if n < 16:
            out.append(0x90 | n)
        elif n <= 0xFFFF:
            out += b"\xdc" + struct.pack(">H", n)
        else:
            out += b"\xdd" + struct.pack(">I", n)
        for x in o:
            _pack(x, out)
    elif isinstance(o, dict):
        n = len(o)
        if n < 16:
            out.append(0x80 | n)
        elif n <= 0xFFFF:
            out += b"\xde" + struct.pack(">H", n)
        else:
            out += b"\xdf" + struct.pack(">I", n)
        for k, v in o.items():
            _pack(k, out)
            _pack(v, out)
    elif isinstance(o, ExtType):
        n = len(o.data)
        fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
        if n in fixed:
            out.append(fixed[n])
        elif n <= 0xFF:
            out += b"\xc7" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xc8" + struct.pack(">H", n)
        else:
            out += b"\xc9" + struct.pack(">I", n)
        out += struct.pack(">b", o.code) + o.data
    else:
        raise TypeError(f"cannot pack {type(o).__name__}")


class _Short(Exception):
    pass


class Unpacker:
    """Streaming decoder: feed() bytes, iterate complete objects."""

    MAX_BUFFER = 64 * 1024 * 1024

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data
        if len(self.buf) > self.MAX_BUFFER:
            raise ValueError("msgpack buffer limit exceeded")

    def __iter__(self):
        return self

    def __next__(self):
        try:
            obj, pos = _unpack(self.buf, 0)
        except _Short:
            raise StopIteration
        del self.buf[:pos]
        return obj


def unpackb(data):
    obj, pos = _unpack(bytes(data), 0)
    if pos != len(data):
        raise ValueError("extra data after msgpack object")
    return obj


def _need(buf, pos, n):
    if pos + n > len(buf):
        raise _Short()


def _unpack(buf, pos):
    _need(buf, pos, 1)
    b = buf[pos]
    pos += 1
    if b <= 0x7F:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0x80 <= b <= 0x8F:
        return _map(buf, pos, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return _array(buf, pos, b & 0x0F)
    if 0xA0 <= b <= 0xBF:
        return _str(buf, pos, b & 0x1F)
    if b == 0xC0:
        return None, pos
    if b == 0xC2:
        return False, pos
    if b == 0xC3:
        return True, pos
    fmt = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i",
           0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
    if b in fmt:
        n = struct.calcsize(fmt[b])
        _need(buf, pos, n)
        return struct.unpack_from(fmt[b], buf, pos)[0], pos + n
    lens = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I",
            0xDC: ">H", 0xDD: ">I", 0xDE: ">H", 0xDF: ">I", 0xC7: ">B", 0xC8: ">H", 0xC9: ">I"}
    if b in lens:
        n = struct.calcsize(lens[b])
        _need(buf, pos, n)
        size = struct.unpack_from(lens[b], buf, pos)[0]
        pos += n
        if b in (0xD9, 0xDA, 0xDB):
            return _str(buf, pos, size)
        if b in (0xC4, 0xC5, 0xC6):
            _need(buf, pos, size)
            return bytes(buf[pos:pos + size]), pos + size
        if b in (0xDC, 0xDD):
            return _array(buf, pos, size)
        if b in (0xDE, 0xDF):
            return _map(buf, pos, size)
        return _ext(buf, pos, size)
    fixext = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
    if b in fixext:
        return _ext(buf, pos, fixext[b])
    raise ValueError(f"invalid msgpack type byte 0x{b:02x}")


def _str(buf, pos, n):
    _need(buf, pos, n)
    return bytes(buf[pos:pos + n]).decode("utf-8", "replace"), pos + n


def _ext(buf, pos, n):
    _need(buf, pos, 1 + n)
    code = struct.unpack_from(">b", buf, pos)[0]
    return ExtType(code, bytes(buf[pos + 1:pos + 1 + n])), pos + 1 + n


def _array(buf, pos, n):
    out = []
    for _ in range(n):
        v, pos = _unpack(buf, pos)
        out.append(v)
    return out, pos


def _map(buf, pos, n):
    out = {}
    for _ in range(n):
        k, pos = _unpack(buf, pos)
        v, pos = _unpack(buf, pos)
        if isinstance(k, (list, dict)):
            k = repr(k)
        out[k] = v
    return out, pos
