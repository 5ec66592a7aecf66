"""Shared helpers of make_caffe_fixtures.py: the schema, the seeded generator, the protobuf
wire walk that finds blob payloads, packed masks and the float32 JSON writer."""
import base64
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import re
import zlib

import numpy as np

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SCHEMA_DIR = os.path.join(REPO, 'packages', 'format-caffe', 'schema')

_pb2 = None


def caffe_pb2():
    """packages/format-caffe/schema/caffe.proto compiled by protoc into a temp dir (never committed)."""
    global _pb2
    if _pb2 is None:
        out = tempfile.mkdtemp(prefix='mcu-caffe-pb2-')
        subprocess.run(['protoc', f'--python_out={out}', '-I', SCHEMA_DIR, 'caffe.proto'], check=True)
        sys.path.insert(0, out)
        import caffe_pb2 as m  # noqa: E402
        _pb2 = m
    return _pb2


def protoc_version():
    return subprocess.run(['protoc', '--version'], capture_output=True, text=True).stdout.strip()


def schema_sha256():
    with open(os.path.join(SCHEMA_DIR, 'caffe.proto'), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# ------------------------------------------------------------------ the seeded generator
M32 = 0xFFFFFFFF


def gen_floats(seed, count, exp):
    """xorshift32 (13, 17, 5) from `seed`; value = ((x >> 8) - 2^23) * 2^-(23+exp), exact in float32,
    uniform in [-2^-exp, 2^-exp). The TS loader (packages/fixtures/src/caffe.ts) is the same."""
    if not (0 < seed <= M32):
        raise ValueError(f'bad seed {seed}')
    x = seed
    out = [0] * count
    for i in range(count):
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        out[i] = x >> 8
    v = (np.asarray(out, dtype=np.int64) - 8388608).astype(np.float64) * (2.0 ** -(23 + exp))
    f = v.astype(np.float32)
    assert np.array_equal(f.astype(np.float64), v)
    return f


def seed_for(*parts):
    """A well-mixed nonzero uint32 seed named by its parts (recorded in the pieces anyway)."""
    s = zlib.crc32('/'.join(str(p) for p in parts).encode('utf-8')) & M32
    return s or 1


def xavier_exp(fan_in):
    """2^-exp ~ sqrt(6 / fan_in) (He-uniform-like limit) rounded to a power of two."""
    return int(round(-math.log2(math.sqrt(6.0 / fan_in))))


# ------------------------------------------------------------------ protobuf wire walk
def _varint(b, i):
    r = 0
    s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def wire_fields(b, start, end):
    """(field, wiretype, value_start, value_end) of each field in b[start:end]."""
    i = start
    while i < end:
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            _, j = _varint(b, i)
            yield f, wt, i, j
            i = j
        elif wt == 1:
            yield f, wt, i, i + 8
            i += 8
        elif wt == 5:
            yield f, wt, i, i + 4
            i += 4
        elif wt == 2:
            n, j = _varint(b, i)
            yield f, wt, j, j + n
            i = j + n
        else:
            raise ValueError(f'wire type {wt} at {i}')
    if i != end:
        raise ValueError('overrun')


def blob_data_spans(buf, v1=False):
    """Byte spans of every BlobProto.data payload (packed float, field 5), in file order:
    NetParameter.layer (100) / .layers (2, V1) -> blobs (7 / 6) -> data (5)."""
    lf, bf = (2, 6) if v1 else (100, 7)
    spans = []
    for f, wt, s, e in wire_fields(buf, 0, len(buf)):
        if f == lf and wt == 2:
            for f2, wt2, s2, e2 in wire_fields(buf, s, e):
                if f2 == bf and wt2 == 2:
                    for f3, wt3, s3, e3 in wire_fields(buf, s2, e2):
                        if f3 == 5 and wt3 == 2:
                            spans.append((s3, e3))
    return spans


def b64(b):
    return base64.b64encode(bytes(b)).decode('ascii')


def sha256(b):
    return hashlib.sha256(bytes(b)).hexdigest()


def make_pieces(buf, gens, v1=False):
    """Cut every generated blob's float run out of the serialized bytes: pieces
    [{bytes: b64}, {gen: {seed, count, exp}}, ...]; checks that they reassemble to buf."""
    spans = blob_data_spans(buf, v1)
    if len(spans) != len(gens):
        raise ValueError(f'{len(spans)} blob payloads in the file, {len(gens)} generated blobs')
    pieces = []
    pos = 0
    for (s, e), g in zip(spans, gens):
        want = gen_floats(g['seed'], g['count'], g['exp']).astype('<f4').tobytes()
        if buf[s:e] != want:
            raise ValueError('blob payload differs from its generator output')
        if s > pos:
            pieces.append({'bytes': b64(buf[pos:s])})
        pieces.append({'gen': {'seed': g['seed'], 'count': g['count'], 'exp': g['exp']}})
        pos = e
    if pos < len(buf):
        pieces.append({'bytes': b64(buf[pos:])})
    if reassemble(pieces) != buf:
        raise ValueError('pieces do not reassemble to the caffemodel')
    return pieces


def reassemble(pieces):
    out = bytearray()
    for p in pieces:
        if 'bytes' in p:
            out += base64.b64decode(p['bytes'])
        else:
            g = p['gen']
            out += gen_floats(g['seed'], g['count'], g['exp']).astype('<f4').tobytes()
    return bytes(out)


# ------------------------------------------------------------------ masks
def keep_scale(p, scale_train=True):
    """BVLC: scale_ = 1. / (1. - threshold_) in double, stored as float; a fork's scale_train: false -> 1."""
    if not scale_train:
        return np.float32(1.0)
    return np.float32(1.0 / (1.0 - float(np.float32(p))))


def pack_mask(keep, p, scale):
    """keep: bool [rows, perRow] -> {shape, p, scale, bits} (row-major, LSB first), as test/fixtures."""
    keep = np.asarray(keep, dtype=bool)
    assert keep.ndim == 2
    bits = np.packbits(keep.reshape(-1).astype(np.uint8), bitorder='little').tobytes()
    return {'shape': [int(keep.shape[0]), int(keep.shape[1])], 'p': F32Scalar(p), 'scale': F32Scalar(scale), 'bits': b64(bits)}


# ------------------------------------------------------------------ JSON with float32 numbers
class F32(list):
    """A list of float32 values written as their shortest float32 decimal."""


class F32Scalar:
    def __init__(self, v):
        self.v = np.float32(v)


def fmt32(v):
    v = np.float32(v)
    if not np.isfinite(v):
        raise ValueError(f'non-finite value {v}')
    s = str(v)
    # JSON.parse -> double -> Math.fround must give v back
    if np.float32(float(s)).tobytes() != v.tobytes():
        s = repr(float(v))
        assert np.float32(float(s)).tobytes() == v.tobytes()
    if s.endswith('.0'):
        s = s[:-2]
    if s == '-0':
        s = '-0.0'
    return s


def dumps(o, ind=0):
    pad = ' ' * ind
    pad1 = ' ' * (ind + 1)
    if isinstance(o, F32):
        return '[' + ','.join(fmt32(v) for v in o) + ']'
    if isinstance(o, F32Scalar):
        return fmt32(o.v)
    if isinstance(o, (np.floating,)):
        raise TypeError('bare numpy float: wrap it in F32Scalar')
    if isinstance(o, (np.integer,)):
        return str(int(o))
    if isinstance(o, dict):
        if not o:
            return '{}'
        items = [f'{pad1}{json.dumps(str(k))}: {dumps(v, ind + 1)}' for k, v in o.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(o, (list, tuple)):
        if all(isinstance(v, (int, str, bool)) or v is None for v in o):
            return json.dumps(list(o))
        return '[\n' + ',\n'.join(pad1 + dumps(v, ind + 1) for v in o) + '\n' + pad + ']'
    if isinstance(o, float):
        raise TypeError(f'bare float {o}: use F32Scalar or a string')
    return json.dumps(o)


def tensor(a):
    a = np.asarray(a, dtype=np.float32)
    return {'dims': [int(d) for d in a.shape], 'data': F32(list(a.reshape(-1)))}


FORK_FIELDS = re.compile(r'^\s*(sample_weights_test|scale_train)\s*:.*$', re.M)


def parse_prototxt(text, pb):
    """Text format through the schema; the forks' DropoutParameter field 2 (`sample_weights_test`,
    `scale_train`) is not in caffe.proto, so such lines are dropped first (commented ones are comments)."""
    from google.protobuf import text_format
    return text_format.Parse(FORK_FIELDS.sub('', text), pb.NetParameter())
