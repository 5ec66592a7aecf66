#!/usr/bin/env python3
"""The zoo: PyTorch 1.13 exports of common dropout architectures, with PyTorch's own answers.

    /usr/bin/python3 scripts/zoo/make_zoo.py [--out /tmp/mcu-zoo] [--fixtures test/fixtures/zoo] [--only a,b]

Needs Debian's python3-torch, python3-torchvision and python3-onnx (not a test dependency:
CI never runs this). Random weights are fine here, architecture and exporter output are what
matter, so every parameter and buffer comes from a counter-based hash that
test/helpers/zoo.ts reproduces bit for bit: the repo stores each model as a skeleton (the
ONNX bytes with those tensors cut out) plus the hash parameters, and the test rebuilds the
exact file and checks its sha256.

For every model it writes (to --out, in full):
  <name>.onnx               the export (style and opset per model, see ZOO below)
  <name>.ref.json           inputs, torch's dropout sites, exact records, MC statistics
and to --fixtures the trimmed copy: <name>.skel.gz + <name>.json (pieces, sha256, refs).

What is recorded:
  sites   every dropout call in forward order: kind, p, the input's shape, and how it relates
          to the batch (row axis r and factor k, from a second pass with one row):
          mcu's per-row mask shape is [k, ...dims without r] (k omitted when 1);
  exact   2 forwards with masks drawn here (F.dropout & co. replaced by a recorder), the
          masks as keep bits in mcu's per-row layout, and the outputs;
  mc      T = 500 forwards with torch's own dropout (independent masks for every row:
          mcu's `point` scope): per output element the mean, std (ddof 0) and 4th central
          moment, so a test can compute standard errors of both.
"""
import argparse
import base64
import gzip
import hashlib
import io
import json
import math
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

warnings.filterwarnings('ignore')
torch.set_num_threads(max(1, os.cpu_count() or 1))

MC_T = 500
ALPHA = 1.7580993408473766  # SELU's λα, as ATen's alpha_dropout

# ------------------------------------------------------------------ the shared hash
# Element k of the tensor with seed s (both uint32):
#   x = k·0x9E3779B1 + s·0x85EBCA77 + 0x27D4EB2F (mod 2^32), then lowbias32:
#   x ^= x >> 16; x *= 0x7FEB352D; x ^= x >> 15; x *= 0x846CA68B; x ^= x >> 16
#   u = (x >> 8) / 2^24 ∈ [0, 1);  value = float32(offset + (2u − 1)·scale)
# (offset and scale are float32 values; the float64 arithmetic is exact up to one rounding).

def hash_u32(seed, n):
    k = np.arange(n, dtype=np.uint64)
    x = (k * np.uint64(0x9E3779B1) + np.uint64((seed * 0x85EBCA77 + 0x27D4EB2F) & 0xFFFFFFFF)) & np.uint64(0xFFFFFFFF)
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x = (x.astype(np.uint64) * np.uint64(0x7FEB352D) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    x ^= x >> np.uint32(15)
    x = (x.astype(np.uint64) * np.uint64(0x846CA68B) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    x ^= x >> np.uint32(16)
    return x


def gen_values(seed, n, scale, offset):
    u = (hash_u32(seed, n) >> np.uint32(8)).astype(np.float64) / 16777216.0
    return (np.float64(offset) + (2.0 * u - 1.0) * np.float64(scale)).astype(np.float32)


def f32(v):
    return float(np.float32(v))


# ------------------------------------------------------------------ weights
def init_params(model, model_seed):
    """Every float parameter and buffer from the hash; returns {sha256(bytes): spec}."""
    kinds = {}
    for mname, mod in model.named_modules():
        for pname, _ in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
            kinds[f'{mname}.{pname}' if mname else pname] = (type(mod).__name__, mod)
    specs = {}
    sd = model.state_dict()
    with torch.no_grad():
        for k, (name, t) in enumerate(sd.items()):
            if not t.is_floating_point():
                continue
            mtype, mod = kinds.get(name, ('', None))
            leaf = name.rsplit('.', 1)[-1]
            dims = list(t.shape)
            if leaf == 'running_var':
                offset, scale = 1.0, 0.2
            elif leaf == 'running_mean':
                offset, scale = 0.0, 0.1
            elif mtype in ('BatchNorm1d', 'BatchNorm2d', 'LayerNorm') and leaf == 'weight':
                offset, scale = 1.0, 0.1
            elif leaf.startswith('bias') or leaf.endswith('_bias'):
                offset, scale = 0.0, 0.05
            elif mtype == 'Embedding':
                offset, scale = 0.0, 1.0
            elif mtype in ('LSTM', 'GRU', 'RNN'):
                offset, scale = 0.0, 1.0 / math.sqrt(mod.hidden_size)
            elif t.dim() >= 2:
                fan_in = int(np.prod(dims[1:]))
                if mtype.startswith('ConvTranspose'):
                    fan_in = int(dims[0] * np.prod(dims[2:]) / max(1, mod.stride[0] ** (t.dim() - 2)))
                offset, scale = 0.0, math.sqrt(6.0 / max(1, fan_in))
            else:
                offset, scale = 1.0, 0.1
            seed = (model_seed * 1000 + k) & 0xFFFFFFFF
            scale, offset = f32(scale), f32(offset)
            v = gen_values(seed, t.numel(), scale, offset).reshape(dims)
            t.copy_(torch.from_numpy(v))
            spec = {'seed': seed, 'n': int(t.numel()), 'scale': scale, 'offset': offset}
            specs[hashlib.sha256(v.tobytes()).hexdigest()] = spec
    return specs


# ------------------------------------------------------------------ recording dropout
_ORIG = {n: getattr(F, n) for n in ('dropout', 'alpha_dropout', 'feature_alpha_dropout', 'dropout1d', 'dropout2d', 'dropout3d')}


class Recorder:
    """Replaces F.dropout & co.: draws keep masks from its own generator and records them."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.calls = []

    def _keep(self, shape, p):
        return torch.rand(shape, generator=self.gen) >= p

    def _apply(self, kind, x, p, training, noise_shape):
        if not training or p == 0:
            return x
        keep = self._keep(noise_shape, p)
        self.calls.append({'kind': kind, 'p': float(p), 'shape': list(x.shape), 'keep': keep.expand(x.shape) if kind != 'feature' else keep})
        if kind in ('dropout', 'feature'):
            return x * (keep.to(x.dtype) / (1 - p))
        a = 1.0 / math.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
        kf = keep.to(x.dtype)
        b = (kf - 1) * (ALPHA * a) + ALPHA * a * p
        return x * (kf * a) + b

    def install(self):
        rec = self
        F.dropout = lambda x, p=0.5, training=True, inplace=False: rec._apply('dropout', x, p, training, x.shape)
        F.alpha_dropout = lambda x, p=0.5, training=False, inplace=False: rec._apply('alpha', x, p, training, x.shape)
        feat = lambda x, p=0.5, training=True, inplace=False: rec._apply('feature', x, p, training, list(x.shape[:2]) + [1] * (x.dim() - 2))
        F.dropout1d = F.dropout2d = F.dropout3d = feat
        return self

    @staticmethod
    def uninstall():
        for n, f in _ORIG.items():
            setattr(F, n, f)


def record(model, args, seed):
    rec = Recorder(seed).install()
    try:
        with torch.no_grad():
            out = model(*args)
    finally:
        Recorder.uninstall()
    return rec.calls, out


def as_outputs(out, names):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return {n: o.detach().double().numpy() for n, o in zip(names, outs)}


# ------------------------------------------------------------------ the models
class DropoutHead(nn.Module):
    def __init__(self, p, fin, fout):
        super().__init__()
        self.drop = nn.Dropout(p)
        self.fc = nn.Linear(fin, fout)

    def forward(self, x):
        return self.fc(self.drop(x))


def resnet18():
    m = torchvision.models.resnet18(num_classes=10)
    m.fc = DropoutHead(0.5, 512, 10)
    return m


def vgg11_bn():
    m = torchvision.models.vgg11_bn(num_classes=10, init_weights=False)
    # 64×64 inputs: the feature map is 2×2; the head keeps VGG's structure at width 256.
    m.avgpool = nn.AdaptiveAvgPool2d((2, 2))
    m.classifier = nn.Sequential(
        nn.Linear(512 * 4, 256), nn.ReLU(True), nn.Dropout(0.5),
        nn.Linear(256, 256), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(256, 10))
    return m


def googlenet():
    return torchvision.models.googlenet(num_classes=10, aux_logits=False, init_weights=False, transform_input=False)


def mobilenet_v3_small():
    return torchvision.models.mobilenet_v3_small(num_classes=10)


def efficientnet_b0():
    return torchvision.models.efficientnet_b0(num_classes=10)


def squeezenet1_1():
    return torchvision.models.squeezenet1_1(num_classes=10)


class TransformerClassifier(nn.Module):
    """Batch-first input, nn.TransformerEncoder in its default sequence-first layout."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, 64, 0.1)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        h = self.encoder(x.transpose(0, 1))  # [L, N, E]
        return self.head(h.mean(0))


class BertLike(nn.Module):
    """A small BERT: token + position embeddings, post-LN blocks, attention and hidden dropout."""

    def __init__(self, vocab=100, d=32, heads=4, layers=2, ff=64, max_len=16, classes=3, p=0.1):
        super().__init__()
        self.heads, self.d = heads, d
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_len, d)
        self.emb_norm = nn.LayerNorm(d)
        self.emb_drop = nn.Dropout(p)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({
                'q': nn.Linear(d, d), 'k': nn.Linear(d, d), 'v': nn.Linear(d, d),
                'attn_drop': nn.Dropout(p), 'o': nn.Linear(d, d), 'o_drop': nn.Dropout(p), 'ln1': nn.LayerNorm(d),
                'f1': nn.Linear(d, ff), 'f2': nn.Linear(ff, d), 'f_drop': nn.Dropout(p), 'ln2': nn.LayerNorm(d)}))
        self.pool = nn.Linear(d, d)
        self.cls_drop = nn.Dropout(p)
        self.cls = nn.Linear(d, classes)

    def forward(self, input_ids, attention_mask):
        B, L = input_ids.shape  # a shape read before the first dropout, used after it
        pos = torch.arange(L, device=input_ids.device).unsqueeze(0)
        h = self.emb_drop(self.emb_norm(self.tok(input_ids) + self.pos(pos)))
        ext = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * -10000.0
        dh = self.d // self.heads
        for b in self.blocks:
            q = b['q'](h).view(B, L, self.heads, dh).transpose(1, 2)
            k = b['k'](h).view(B, L, self.heads, dh).transpose(1, 2)
            v = b['v'](h).view(B, L, self.heads, dh).transpose(1, 2)
            s = q @ k.transpose(-1, -2) / math.sqrt(dh) + ext
            a = b['attn_drop'](s.softmax(-1))
            c = (a @ v).transpose(1, 2).reshape(B, L, self.d)
            h = b['ln1'](h + b['o_drop'](b['o'](c)))
            h = b['ln2'](h + b['f_drop'](b['f2'](F.gelu(b['f1'](h)))))
        pooled = torch.tanh(self.pool(h[:, 0]))
        return self.cls(self.cls_drop(pooled))


class GruText(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.rnn = nn.GRU(16, 32, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(32, 4)

    def forward(self, x):
        y, _ = self.rnn(self.emb(x))
        return self.fc(self.drop(y[:, -1]))


class LstmText(nn.Module):
    """Embedding dropout before a 2-layer LSTM (batch-first), dropout on the last hidden state."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.emb_drop = nn.Dropout(0.2)
        self.rnn = nn.LSTM(16, 24, num_layers=2, batch_first=True)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(24, 3)

    def forward(self, x):
        _, (h, _) = self.rnn(self.emb_drop(self.emb(x)))
        return self.fc(self.drop(h[-1]))


class Conv1dRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(1, 8, 5, padding=2)
        self.d1 = nn.Dropout(0.1)
        self.c2 = nn.Conv1d(8, 16, 5, padding=2)
        self.pool = nn.MaxPool1d(2)
        self.d2 = nn.Dropout(0.1)
        self.f1 = nn.Linear(16 * 32, 32)
        self.d3 = nn.Dropout(0.2)
        self.f2 = nn.Linear(32, 1)

    def forward(self, x):
        h = self.d1(F.relu(self.c1(x)))
        h = self.d2(self.pool(F.relu(self.c2(h))))
        return self.f2(self.d3(F.relu(self.f1(h.flatten(1)))))


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class UNetSmall(nn.Module):
    def __init__(self):
        super().__init__()
        self.e1, self.e2 = block(1, 8), block(8, 16)
        self.pool = nn.MaxPool2d(2)
        self.d1, self.d2, self.d3, self.d4 = nn.Dropout(0.2), nn.Dropout(0.2), nn.Dropout(0.3), nn.Dropout(0.2)
        self.mid = block(16, 32)
        self.u2 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec2 = block(32, 16)
        self.u1 = nn.ConvTranspose2d(16, 8, 2, stride=2)
        self.dec1 = block(16, 8)
        self.out = nn.Conv2d(8, 3, 1)

    def forward(self, x):
        s1 = self.e1(x)
        s2 = self.e2(self.d1(self.pool(s1)))
        m = self.d3(self.mid(self.d2(self.pool(s2))))
        y = self.d4(self.dec2(torch.cat([self.u2(m), s2], 1)))
        y = self.dec1(torch.cat([self.u1(y), s1], 1))
        return self.out(y)


class MultiIO(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2))
        self.b = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * 36, 16))
        self.mix = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Dropout(0.3))
        self.reg = nn.Linear(16, 2)
        self.cls = nn.Linear(16, 4)

    def forward(self, a, b):
        h = self.mix(torch.cat([self.a(a), self.b(b)], 1))
        return self.reg(h), F.log_softmax(self.cls(h), -1)


class FunctionalDropoutMlp(nn.Module):
    """F.dropout(training=True) in forward: exported even in eval mode."""

    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(3, 32), nn.Linear(32, 32), nn.Linear(32, 1)

    def forward(self, x):
        h = F.dropout(torch.tanh(self.l1(x)), 0.2, training=True)
        h = F.dropout(torch.tanh(self.l2(h)), 0.2, training=True)
        return self.l3(h)


class Regressor2(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))

    def forward(self, x):
        return self.net(x)


class SeluAlpha(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(4, 16), nn.Linear(16, 16), nn.Linear(16, 1)
        self.d1, self.d2 = nn.AlphaDropout(0.1), nn.AlphaDropout(0.1)

    def forward(self, x):
        return self.l3(self.d2(F.selu(self.l2(self.d1(F.selu(self.l1(x)))))))


class SpatialCnn(nn.Module):
    """Dropout2d after each conv but the last (channel-wise masks)."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(1, 6, 3), nn.Conv2d(6, 8, 3), nn.Conv2d(8, 8, 3)
        self.d1, self.d2 = nn.Dropout2d(0.25), nn.Dropout2d(0.25)
        self.fc = nn.Linear(8 * 6 * 6, 5)

    def forward(self, x):
        h = self.d1(F.relu(self.c1(x)))
        h = self.d2(F.relu(self.c2(h)))
        return self.fc(F.relu(self.c3(h)).flatten(1))


def img(n, c=3, hw=64):
    return [('x', 'float32', [n, c, hw, hw], {'gen': {'seed': 7, 'scale': 0.5, 'offset': 0.5}})]


def tokens(n, length, vocab=100, name='x'):
    v = (hash_u32(11, n * length) % np.uint32(vocab)).astype(np.int64)
    return (name, 'int64', [n, length], {'data': v.tolist()})


# style: 'preserve' (model.eval(), dropout modules train, TrainingMode.PRESERVE), 'training'
# (TrainingMode.TRAINING), 'eval' (default export), '+fallthrough' (ONNX_FALLTHROUGH for ATen ops).
ZOO = [
    dict(name='resnet18', build=resnet18, opset=13, style='preserve', inputs=img(3), outputs=['logits']),
    dict(name='vgg11_bn', build=vgg11_bn, opset=11, style='preserve', inputs=img(3), outputs=['logits']),
    dict(name='googlenet', build=googlenet, opset=12, style='preserve', inputs=img(3), outputs=['logits']),
    dict(name='mobilenet_v3_small', build=mobilenet_v3_small, opset=13, style='preserve', inputs=img(3), outputs=['logits']),
    dict(name='efficientnet_b0', build=efficientnet_b0, opset=13, style='preserve', inputs=img(3), outputs=['logits']),
    dict(name='squeezenet1_1', build=squeezenet1_1, opset=11, style='preserve', inputs=img(3), outputs=['logits']),
    dict(name='transformer_encoder', build=TransformerClassifier, opset=14, style='preserve', train=(nn.TransformerEncoder,),
         inputs=[('x', 'float32', [5, 8, 32], {'gen': {'seed': 8, 'scale': 1.0, 'offset': 0.0}})], outputs=['logits']),
    dict(name='bert_like', build=BertLike, opset=13, style='training',
         inputs=[tokens(5, 12, name='input_ids'),
                 ('attention_mask', 'int64', [5, 12], {'data': [[1] * (12 - i) + [0] * i for i in (0, 2, 4, 1, 0)]})],
         outputs=['logits'], dynamic_seq=True),
    dict(name='gru_text', build=GruText, opset=13, style='preserve', inputs=[tokens(5, 10)], outputs=['logits']),
    dict(name='lstm2_text', build=LstmText, opset=14, style='preserve', inputs=[tokens(5, 9)], outputs=['logits']),
    dict(name='conv1d_ts', build=Conv1dRegressor, opset=15, style='preserve',
         inputs=[('x', 'float32', [6, 1, 64], {'gen': {'seed': 9, 'scale': 1.0, 'offset': 0.0}})], outputs=['y']),
    dict(name='unet_small', build=UNetSmall, opset=16, style='preserve',
         inputs=[('x', 'float32', [3, 1, 32, 32], {'gen': {'seed': 10, 'scale': 0.5, 'offset': 0.5}})], outputs=['seg']),
    dict(name='multi_io', build=MultiIO, opset=12, style='preserve',
         inputs=[('a', 'float32', [6, 6], {'gen': {'seed': 12, 'scale': 1.0, 'offset': 0.0}}),
                 ('b', 'float32', [6, 3, 8, 8], {'gen': {'seed': 13, 'scale': 1.0, 'offset': 0.0}})], outputs=['reg', 'cls']),
    dict(name='functional_dropout_mlp', build=FunctionalDropoutMlp, opset=17, style='eval',
         inputs=[('x', 'float32', [8, 3], {'gen': {'seed': 14, 'scale': 1.0, 'offset': 0.0}})], outputs=['y']),
    dict(name='regressor2_training', build=Regressor2, opset=17, style='training',
         inputs=[('x', 'float32', [8, 3], {'gen': {'seed': 15, 'scale': 1.0, 'offset': 0.0}})], outputs=['y']),
    dict(name='selu_alpha_dropout', build=SeluAlpha, opset=13, style='training+fallthrough',
         inputs=[('x', 'float32', [8, 4], {'gen': {'seed': 16, 'scale': 1.0, 'offset': 0.0}})], outputs=['y']),
    dict(name='spatial_cnn', build=SpatialCnn, opset=13, style='training+fallthrough',
         inputs=[('x', 'float32', [4, 1, 12, 12], {'gen': {'seed': 17, 'scale': 0.5, 'offset': 0.5}})], outputs=['logits']),
    dict(name='spatial_cnn.eval', build=SpatialCnn, opset=13, style='eval',
         inputs=[('x', 'float32', [4, 1, 12, 12], {'gen': {'seed': 17, 'scale': 0.5, 'offset': 0.5}})], outputs=['logits'],
         insert=True, note='eval export (no Dropout nodes): mcu --insert-dropout 0.25 --spatial --before Conv puts the Dropout2d sites back'),
]


# ------------------------------------------------------------------ models mcu must refuse
class RandUniformDropout(nn.Module):
    """Dropout written by hand with torch.rand_like: RandomUniformLike in the graph."""

    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(4, 8), nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.l1(x))
        return self.l2(h * (torch.rand_like(h) > 0.2).float() / 0.8)


class GaussianNoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(4, 8), nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.l1(x))
        return self.l2(h + 0.1 * torch.randn_like(h))


class BernoulliOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(4, 8), nn.Linear(8, 1)

    def forward(self, x):
        h = torch.relu(self.l1(x))
        return self.l2(h * torch.bernoulli(torch.full_like(h, 0.9)) / 0.9)


class MultinomialHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(4, 5)

    def forward(self, x):
        return torch.multinomial(torch.softmax(self.l1(x), -1), 1)


REFUSE = [
    dict(name='refuse.rand_like_dropout', build=RandUniformDropout, opset=13, style='training', outputs=['y']),
    dict(name='refuse.randn_like_noise', build=GaussianNoiseInjection, opset=13, style='training', outputs=['y']),
    dict(name='refuse.bernoulli', build=BernoulliOp, opset=15, style='training', outputs=['y']),
    dict(name='refuse.multinomial', build=MultinomialHead, opset=13, style='training', outputs=['y']),
]


# ------------------------------------------------------------------ export
def set_mode(model, spec):
    style = spec['style']
    if style.startswith('training'):
        model.train()
        return
    model.eval()
    if style == 'preserve':
        train_types = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.MultiheadAttention) + tuple(spec.get('train', ()))
        for m in model.modules():
            if isinstance(m, train_types):
                m.train()
                if isinstance(m, nn.TransformerEncoder):
                    for mm in m.modules():
                        mm.train()


def export(model, spec, args):
    style = spec['style']
    mode = torch.onnx.TrainingMode.PRESERVE if style == 'preserve' else torch.onnx.TrainingMode.TRAINING if style.startswith('training') else torch.onnx.TrainingMode.EVAL
    names = [i[0] for i in spec['inputs']]
    dyn = {n: {0: 'batch'} for n in names + spec['outputs']}
    if spec.get('dynamic_seq'):
        for n in names:
            dyn[n][1] = 'seq'
    b = io.BytesIO()
    kw = {}
    if style.endswith('+fallthrough'):
        kw['operator_export_type'] = torch.onnx.OperatorExportTypes.ONNX_FALLTHROUGH
    torch.onnx.export(model, tuple(args), b, opset_version=spec['opset'], training=mode, do_constant_folding=False,
                      input_names=names, output_names=spec['outputs'], dynamic_axes=dyn, **kw)
    return b.getvalue()


def make_inputs(spec):
    args, stored = [], {}
    for name, dtype, dims, src in spec['inputs']:
        if 'gen' in src:
            g = src['gen']
            v = gen_values(g['seed'], int(np.prod(dims)), f32(g['scale']), f32(g['offset'])).reshape(dims)
            args.append(torch.from_numpy(v))
            stored[name] = {'dtype': dtype, 'dims': dims, 'gen': {'seed': g['seed'], 'scale': f32(g['scale']), 'offset': f32(g['offset'])}}
        else:
            v = np.array(src['data'], dtype=np.int64).reshape(dims)
            args.append(torch.from_numpy(v))
            stored[name] = {'dtype': dtype, 'dims': dims, 'data': v.reshape(-1).tolist()}
    return args, stored


def first_rows(args, n):
    return [a[:n] for a in args]


def site_layout(calls_n, calls_1, n):
    """Row axis r and factor k of every recorded call (shape at N rows vs at 1 row)."""
    if len(calls_n) != len(calls_1):
        raise RuntimeError(f'{len(calls_n)} dropout calls at N={n} but {len(calls_1)} at N=1')
    out = []
    for a, b in zip(calls_n, calls_1):
        diff = [i for i, (x, y) in enumerate(zip(a['shape'], b['shape'])) if x != y]
        if len(diff) != 1 or a['shape'][diff[0]] != n * b['shape'][diff[0]]:
            raise RuntimeError(f'cannot place the batch in dropout input {a["shape"]} (1 row: {b["shape"]})')
        r = diff[0]
        k = b['shape'][r]
        rest = [d for i, d in enumerate(a['shape']) if i != r]
        if a['kind'] == 'feature':
            row_shape = [a['shape'][1]] + [1] * (len(a['shape']) - 2)
        else:
            row_shape = ([k] if k != 1 else []) + rest
        out.append({'kind': a['kind'], 'p': a['p'], 'shape': a['shape'], 'rowAxis': r, 'rowFactor': k, 'rowShape': row_shape})
    return out


def per_row_keep(call, lay, n):
    """Keep bits [N, ...rowShape] in mcu's per-row layout (row axis first, split as [N, k, ...])."""
    keep = call['keep']
    if lay['kind'] == 'feature':
        return keep.reshape([n] + lay['rowShape']).numpy()
    m = keep.movedim(lay['rowAxis'], 0)
    return m.reshape([n] + lay['rowShape']).numpy()


def pack_bits(keep):
    flat = np.asarray(keep, dtype=bool).reshape(-1)
    return base64.b64encode(np.packbits(flat, bitorder='little').tobytes()).decode('ascii')


def floats(a):
    """float32 little-endian, base64 (outputs are float32 in torch; MC statistics need no more)."""
    return base64.b64encode(np.asarray(a, dtype='<f4').reshape(-1).tobytes()).decode('ascii')


def skeleton(model_bytes, specs):
    """The model bytes with every hash-generated tensor cut out: [{skel: n} | {gen: spec}] pieces."""
    m = onnx.load_from_string(model_bytes)
    cuts = []
    for t in m.graph.initializer:
        if t.data_type != onnx.TensorProto.FLOAT or len(t.raw_data) < 256:
            continue
        spec = specs.get(hashlib.sha256(t.raw_data).hexdigest())
        if spec is None:
            continue
        at = model_bytes.find(t.raw_data)
        if at < 0 or model_bytes.find(t.raw_data, at + 1) >= 0:
            continue
        cuts.append((at, len(t.raw_data), spec))
    cuts.sort()
    pieces, skel, pos = [], bytearray(), 0
    for at, n, spec in cuts:
        if at < pos:
            continue
        if at > pos:
            pieces.append({'skel': at - pos})
            skel += model_bytes[pos:at]
        pieces.append({'gen': spec})
        pos = at + n
    if pos < len(model_bytes):
        pieces.append({'skel': len(model_bytes) - pos})
        skel += model_bytes[pos:]
    return bytes(skel), pieces


def onnx_sites(model_bytes):
    m = onnx.load_from_string(model_bytes)
    ops = {}
    for n in m.graph.node:
        key = n.op_type if n.domain in ('', 'ai.onnx') else f'{n.domain}::{n.op_type}'
        ops[key] = ops.get(key, 0) + 1
    return ops


def make(spec, out_dir, fix_dir, seed):
    torch.manual_seed(seed)
    model = spec['build']()
    specs = init_params(model, seed)
    set_mode(model, spec)
    args, stored_inputs = make_inputs(spec)
    n = args[0].shape[0]
    onnx_bytes = export(model, spec, args)
    if spec.get('insert'):
        # exported without dropout; torch's answers are those of the network trained with it
        set_mode(model, dict(spec, style='preserve'))

    calls_n, _ = record(model, args, 1)
    calls_1, _ = record(model, first_rows(args, 1), 2)
    layout = site_layout(calls_n, calls_1, n)

    exact = []
    for rec_seed in (101, 202):
        calls, out = record(model, args, rec_seed)
        exact.append({
            'masks': [{'rowShape': lay['rowShape'], 'p': lay['p'], 'bits': pack_bits(per_row_keep(c, lay, n))} for c, lay in zip(calls, layout)],
            'outputs': {k: {'dims': list(v.shape), 'data': floats(v)} for k, v in as_outputs(out, spec['outputs']).items()},
        })

    # torch's own MC: T passes, independent masks per row and element (mcu's 'point' scope)
    torch.manual_seed(seed + 1)
    acc = None
    with torch.no_grad():
        samples = {k: [] for k in spec['outputs']}
        for _ in range(MC_T):
            for k, v in as_outputs(model(*args), spec['outputs']).items():
                samples[k].append(v)
    mc = {}
    for k, vs in samples.items():
        a = np.stack(vs)
        mean = a.mean(0)
        c = a - mean
        mc[k] = {'dims': list(mean.shape), 'mean': floats(mean), 'std': floats(np.sqrt((c ** 2).mean(0))), 'm4': floats((c ** 4).mean(0))}

    with torch.no_grad():
        model.eval()
        det = as_outputs(model(*args), spec['outputs'])

    ref = {
        'name': spec['name'],
        'source': f'scripts/zoo/make_zoo.py, torch {torch.__version__}, torchvision {torchvision.__version__}, onnx {onnx.__version__}',
        'style': spec['style'], 'opset': spec['opset'], 'note': spec.get('note'),
        'inputs': stored_inputs, 'outputs': spec['outputs'],
        'sites': [{k: v for k, v in lay.items()} for lay in layout],
        'exact': exact,
        'mc': {'T': MC_T, 'scope': 'point', 'outputs': mc},
        'deterministic': {k: floats(v) for k, v in det.items()},
        'ops': onnx_sites(onnx_bytes),
    }
    name = spec['name']
    if out_dir:
        with open(os.path.join(out_dir, f'{name}.onnx'), 'wb') as f:
            f.write(onnx_bytes)
        with open(os.path.join(out_dir, f'{name}.ref.json'), 'w') as f:
            json.dump(ref, f)
    if fix_dir:
        skel, pieces = skeleton(onnx_bytes, specs)
        with open(os.path.join(fix_dir, f'{name}.skel.gz'), 'wb') as f:
            f.write(gzip.compress(skel, 9, mtime=0))
        entry = {'model': {'size': len(onnx_bytes), 'sha256': hashlib.sha256(onnx_bytes).hexdigest(), 'pieces': pieces}, 'ref': ref}
        with open(os.path.join(fix_dir, f'{name}.json'), 'w') as f:
            json.dump(entry, f, separators=(',', ':'))
    print(f'{name}: {len(onnx_bytes)} bytes, {len(layout)} sites '
          f'{[(l["kind"], l["p"], l["rowShape"], l["rowAxis"], l["rowFactor"]) for l in layout]}, ops {ref["ops"].get("Dropout", 0)} Dropout', flush=True)


def make_refused(spec, out_dir, fix_dir, seed):
    torch.manual_seed(seed)
    model = spec['build']()
    specs = init_params(model, seed)
    model.train()
    spec = dict(spec, inputs=[('x', 'float32', [2, 4], {'gen': {'seed': 3, 'scale': 1.0, 'offset': 0.0}})])
    args, _ = make_inputs(spec)
    onnx_bytes = export(model, spec, args)
    name = spec['name']
    if out_dir:
        with open(os.path.join(out_dir, f'{name}.onnx'), 'wb') as f:
            f.write(onnx_bytes)
    if fix_dir:
        skel, pieces = skeleton(onnx_bytes, specs)
        with open(os.path.join(fix_dir, f'{name}.skel.gz'), 'wb') as f:
            f.write(gzip.compress(skel, 9, mtime=0))
        entry = {'model': {'size': len(onnx_bytes), 'sha256': hashlib.sha256(onnx_bytes).hexdigest(), 'pieces': pieces},
                 'ref': {'name': name, 'refuse': True, 'ops': onnx_sites(onnx_bytes), 'opset': spec['opset']}}
        with open(os.path.join(fix_dir, f'{name}.json'), 'w') as f:
            json.dump(entry, f, separators=(',', ':'))
    print(f'{name}: {len(onnx_bytes)} bytes, ops {onnx_sites(onnx_bytes)}', flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default='/tmp/mcu-zoo')
    ap.add_argument('--fixtures', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'zoo'))
    ap.add_argument('--only', default='')
    a = ap.parse_args()
    only = set(x for x in a.only.split(',') if x)
    for d in (a.out, a.fixtures):
        if d:
            os.makedirs(d, exist_ok=True)
    for i, spec in enumerate(ZOO):
        if not only or spec['name'] in only:
            make(spec, a.out, a.fixtures, 1000 + i)
    for i, spec in enumerate(REFUSE):
        if not only or spec['name'] in only:
            make_refused(spec, a.out, a.fixtures, 2000 + i)


if __name__ == '__main__':
    sys.exit(main())
