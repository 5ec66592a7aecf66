#!/usr/bin/python3
"""Ground truth for @mcu/format-caffe: Caffe models written by Google's protobuf library and
PyTorch's (and numpy's) answers for them. Caffe itself is not installed anywhere; see
scripts/caffe/README.md and test/fixtures/caffe/README.md.

    /usr/bin/python3 scripts/caffe/make_caffe_fixtures.py [--out test/fixtures/caffe] [--only NAME,...]
                                                         [--no-layers] [--no-nets]

Writes <out>/nets/<name>.json (+ nets/v1_small.prototxt) and <out>/layers/cases.json.
Deterministic: two runs give identical files.
"""
import argparse
import base64
import hashlib
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the repo
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import google.protobuf  # noqa: E402
from google.protobuf import text_format  # noqa: E402

import caffe_common as C  # noqa: E402
from caffe_common import F32Scalar, dumps, tensor  # noqa: E402
import caffe_torch as CT  # noqa: E402
import caffe_numpy as N  # noqa: E402
import layer_cases  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

REPO = C.REPO
FIX = os.path.join(REPO, 'test', 'fixtures', 'caffe')
MNIST_B64 = os.path.join(REPO, 'test', 'fixtures', 'refs', 'mnist-test-200.u8.b64')
CO2_H5 = '/work/shared/fixtures/caffe-gal/co2_regression/data/test.h5'
MNIST_SCALE = 0.00390625  # transform_param { scale } of Caffe's MNIST examples (1/256)
EXACT_K = 2
EXACT_ROWS = 8
MC_T = 1000

NETS = [
    dict(name='lenet_all_dropout', data='mnist',
         deploy='gal/mnist_uncertainty/lenet_all_dropout_deploy.prototxt',
         train='gal/mnist_uncertainty/lenet_all_dropout_train_test.prototxt'),
    dict(name='lenet_dropout', data='mnist',
         deploy='gal/mnist_uncertainty/lenet_dropout_deploy.prototxt',
         train='gal/mnist_uncertainty/lenet_dropout_train_test.prototxt'),
    dict(name='co2_relu_4x1024', data='co2',
         deploy='gal/co2_regression/MLP1024x1024x1024x1024_dropout_sampleTest_deploy.prototxt',
         train='gal/co2_regression/MLP1024x1024x1024x1024_dropout_sampleTest_train_test.prototxt'),
    dict(name='co2_tanh_4x1024', data='co2',
         deploy='gal/co2_regression/MLP1024x1024x1024x1024_tanh_dropout_sampleTest_deploy.prototxt',
         train='gal/co2_regression/MLP1024x1024x1024x1024_tanh_dropout_sampleTest_train_test.prototxt'),
    dict(name='mnist_mlp_1024x1024', data='mnist',
         deploy='gal/mnist_uncertainty/MLP1024x1024_dropout_deploy.prototxt',
         train='gal/mnist_uncertainty/MLP1024x1024_dropout_train_test.prototxt'),
    dict(name='v1_small', data='v1', deploy='nets/v1_small.prototxt', train=None),
]

V1_PROTOTXT = '''# v1_small: a hand-built net in Caffe's legacy V1 format (`layers` with enum types,
# `input:` + `input_dim:`), written for mcu's format-caffe tests (see ../README.md).
# ReLU and Dropout work in place, as in many V1-era nets.
name: "v1_small"
input: "data"
input_dim: 4
input_dim: 1
input_dim: 8
input_dim: 8
layers {
  name: "conv1"
  type: CONVOLUTION
  bottom: "data"
  top: "conv1"
  blobs_lr: 1
  blobs_lr: 2
  convolution_param {
    num_output: 3
    kernel_size: 3
    stride: 1
  }
}
layers {
  name: "relu1"
  type: RELU
  bottom: "conv1"
  top: "conv1"
}
layers {
  name: "pool1"
  type: POOLING
  bottom: "conv1"
  top: "pool1"
  pooling_param {
    pool: MAX
    kernel_size: 2
    stride: 2
  }
}
layers {
  name: "drop1"
  type: DROPOUT
  bottom: "pool1"
  top: "pool1"
  dropout_param {
    dropout_ratio: 0.3
  }
}
layers {
  name: "ip1"
  type: INNER_PRODUCT
  bottom: "pool1"
  top: "ip1"
  blobs_lr: 1
  blobs_lr: 2
  inner_product_param {
    num_output: 4
  }
}
layers {
  name: "prob"
  type: SOFTMAX
  bottom: "ip1"
  top: "prob"
}
'''

parse_prototxt = C.parse_prototxt


def read_text(rel, out):
    p = os.path.join(out, rel) if rel.startswith('nets/') else os.path.join(FIX, rel)
    with open(p, 'r', encoding='utf-8') as f:
        return f.read()


def meets(rule, phase):
    return (not rule.HasField('phase')) or rule.phase == phase


def train_snapshot(train_net, pb, blobs, gens_out, v1=False):
    """The NetParameter Caffe's Solver::Snapshot writes: Net::ToProto of the TRAIN net (layers whose
    include/exclude rules admit phase TRAIN, each LayerParameter as given plus the inherited
    `phase: TRAIN`, blobs as shape + data, no diff)."""
    out = pb.NetParameter()
    out.name = train_net.name
    consumers = {}
    for L in train_net.layer:
        if len(L.include) and not any(meets(r, pb.TRAIN) for r in L.include):
            continue
        if any(meets(r, pb.TRAIN) for r in L.exclude):
            continue
        L2 = out.layer.add()
        L2.CopyFrom(L)
        if not L2.HasField('phase'):
            L2.phase = pb.TRAIN
        for b in L.bottom:
            consumers[b] = consumers.get(b, 0) + 1
        for arr, g in blobs.get(L.name, []):
            bp = L2.blobs.add()
            bp.shape.dim.extend(int(d) for d in arr.shape)
            bp.data.extend(arr.reshape(-1).tolist())
            gens_out.append(g)
    assert all(v == 1 for v in consumers.values()), 'Caffe would insert Split layers here'
    missing = set(blobs) - {L.name for L in out.layer}
    assert not missing, f'weighted layers missing from the train net: {missing}'
    return out


def gen_weights(name, shapes):
    """{layer: [(float32 array, gen spec)]}: seeded weights, 2^-exp ~ sqrt(6/fan_in), biases 4x smaller."""
    W = {}
    for layer, shs in shapes.items():
        fan_in = int(np.prod(shs[0][1:])) if len(shs[0]) == 4 else None
        lst = []
        for i, sh in enumerate(shs):
            if i == 0:
                if fan_in is None:  # InnerProduct: [N, K] (or [K, N] transposed; not used in the nets)
                    fan_in = sh[1]
                exp = C.xavier_exp(fan_in)
            else:
                exp = C.xavier_exp(fan_in) + 2
            count = int(np.prod(sh))
            seed = C.seed_for('mcu-caffe', name, layer, i)
            arr = C.gen_floats(seed, count, exp).reshape(sh)
            lst.append((arr, {'seed': seed, 'count': count, 'exp': exp, 'layer': layer, 'blob': i, 'shape': list(sh)}))
        W[layer] = lst
    return W


def mnist_rows(n):
    with open(MNIST_B64, 'r') as f:
        raw = base64.b64decode(f.read())
    u8 = np.frombuffer(raw, dtype=np.uint8).reshape(200, 784)[:n]
    return (u8.astype(np.float32) * np.float32(MNIST_SCALE)).reshape(n, 1, 28, 28), hashlib.sha256(raw).hexdigest()


def co2_rows():
    import h5py
    with h5py.File(CO2_H5, 'r') as f:
        data = np.asarray(f['data'], dtype=np.float64)
    rows = list(range(0, 1000, 25))
    with open(CO2_H5, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    # Caffe's HDF5Data layer reads the float64 dataset into float blobs
    return data[rows].astype(np.float32).reshape(len(rows), 1, 1, 1), rows, sha


def tensors_of(B, names):
    return {n: tensor(B[n].detach().numpy()) for n in names}


def build_net(cfg, out, pb):
    name = cfg['name']
    v1 = cfg['data'] == 'v1'
    if v1:
        os.makedirs(os.path.join(out, 'nets'), exist_ok=True)
        with open(os.path.join(out, 'nets', 'v1_small.prototxt'), 'w', encoding='utf-8') as f:
            f.write(V1_PROTOTXT)
    deploy_text = read_text(cfg['deploy'], out)
    deploy = parse_prototxt(deploy_text, pb)
    in_dims = CT.legacy_inputs(deploy)
    assert len(in_dims) == 1
    in_name = list(in_dims)[0]

    # ---- inputs
    input_meta = {}
    if cfg['data'] == 'mnist':
        x, sha = mnist_rows(20)
        input_meta = {'source': 'test/fixtures/refs/mnist-test-200.u8.b64', 'source_sha256': sha,
                      'rows': list(range(20)), 'scale': F32Scalar(MNIST_SCALE),
                      'note': 'uint8 pixels * 0.00390625 (transform_param scale of the MNIST examples)'}
    elif cfg['data'] == 'co2':
        x, rows, sha = co2_rows()
        input_meta = {'source': 'caffe-gal/co2_regression/data/test.h5 (dataset data, float64 -> float32)',
                      'source_sha256': sha, 'rows': rows}
    else:
        rng = np.random.default_rng(C.seed_for('mcu-caffe', name, 'input'))
        x = (rng.integers(0, 64, size=(4, 1, 8, 8)) / 64.0).astype(np.float32)
        input_meta = {'source': 'numpy default_rng, multiples of 1/64 in [0, 1)', 'rows': list(range(4))}
    dims = [int(d) for d in x.shape]

    # ---- weights and the caffemodel
    shapes, blob_shapes = CT.weight_shapes(deploy, pb, {in_name: dims})
    W = gen_weights(name, shapes)
    gens = []
    if v1:
        cm = pb.NetParameter()
        cm.CopyFrom(deploy)
        del cm.input_dim[:]  # old Net::ToProto wrote the input names, not their dims
        for L in cm.layers:
            for arr, g in W.get(L.name, []):
                bp = L.blobs.add()
                # legacy 4-D blob dims: conv [out, in/g, kh, kw]; InnerProduct (1, 1, out, in); bias (1, 1, 1, out)
                d4 = list(arr.shape) if arr.ndim == 4 else ([1, 1] + list(arr.shape) if arr.ndim == 2 else [1, 1, 1, arr.shape[0]])
                bp.num, bp.channels, bp.height, bp.width = d4
                bp.data.extend(arr.reshape(-1).tolist())
                gens.append(g)
        buf = cm.SerializeToString()
        pieces = [{'bytes': C.b64(buf)}]
        src = 'nets/v1_small.prototxt as V1 NetParameter (input names, V1 layers with legacy num/channels/height/width blobs)'
    else:
        train = parse_prototxt(read_text(cfg['train'], out), pb)
        cm = train_snapshot(train, pb, W, gens)
        buf = cm.SerializeToString()
        pieces = C.make_pieces(buf, gens)
        src = f'TRAIN-phase snapshot of {cfg["train"]} (Net::ToProto: filtered layers with phase: TRAIN, blobs shape + data)'
    assert C.reassemble(pieces) == buf

    # ---- PyTorch
    net = CT.CaffeNet(deploy, pb, {k: [a for a, _ in v] for k, v in W.items()})
    sites = []
    for sname, L in net.sites():
        p = float(np.float32(L.dropout_param.dropout_ratio))
        per = blob_shapes[L.bottom[0]][1:]
        sites.append({'name': sname, 'bottom': L.bottom[0], 'top': L.top[0], 'p': F32Scalar(p),
                      'scale': F32Scalar(C.keep_scale(p)), 'perRowDims': [int(d) for d in per],
                      'perRow': int(np.prod(per))})
    xt = torch.from_numpy(x)
    with torch.no_grad():
        B, outs = net({in_name: xt}, 'identity')
    record = list(outs)
    # also record the softmax's input (logits), if the output is a Softmax
    for lname, t, L in net.layers:
        if t == 'Softmax' and L.top[0] in outs and L.bottom[0] not in record:
            record.append(L.bottom[0])
    standard = tensors_of(B, record)

    exact = []
    for k in range(EXACT_K):
        seed = C.seed_for('mcu-caffe', name, 'exact', k)
        rng = np.random.default_rng(seed)
        rows = list(range(EXACT_ROWS if x.shape[0] >= EXACT_ROWS else x.shape[0]))
        masks, packed = {}, []
        for s in sites:
            p = float(s['p'].v)
            keep = rng.random((len(rows), s['perRow'])) < (1.0 - p)
            sc = C.keep_scale(p)
            masks[s['name']] = torch.from_numpy(np.where(keep, sc, np.float32(0)).astype(np.float32))
            packed.append(dict(site=s['name'], **C.pack_mask(keep, p, sc)))
        with torch.no_grad():
            Bk, _ = net({in_name: xt[rows]}, 'masks', masks)
        exact.append({'rows': rows, 'mask_rng': f'numpy default_rng({seed}).random((rows, perRow)) < 1 - p, per site in order',
                      'masks': packed, 'outputs': tensors_of(Bk, record)})

    # a second, independent opinion: caffe_numpy (float64, explicit loops) on the same weights
    modern = CT.v1_to_modern(deploy, pb)
    npw = {k: [a for a, _ in v] for k, v in W.items()}
    worst = 0.0
    Bn, outs_n = N.forward(modern, npw, {in_name: x})
    assert outs_n == outs, (outs_n, outs)
    for r in record:
        worst = max(worst, rel_err(Bn[r], B[r].numpy()))
    e0 = exact[0]
    mk = {m['site']: np.where(unpack(m), float(m['scale'].v), 0.0) for m in e0['masks']}
    Bn, _ = N.forward(modern, npw, {in_name: x[e0['rows']]}, dropout_masks=mk)
    with torch.no_grad():
        Bk, _ = net({in_name: xt[e0['rows']]}, 'masks', {k: torch.from_numpy(v.astype(np.float32)) for k, v in mk.items()})
    for r in record:
        worst = max(worst, rel_err(Bn[r], Bk[r].numpy()))
    assert worst < 1e-4, f'{name}: torch and numpy disagree by {worst}'
    print(f'{name}: torch vs numpy float64 max |diff| / (1 + max |y|) = {worst:.2e}')

    mc_seed = C.seed_for('mcu-caffe', name, 'mc') & 0x7FFFFFFF
    torch.manual_seed(mc_seed)
    acc = {r: [] for r in record}
    with torch.no_grad():
        for t in range(MC_T):
            Bt, _ = net({in_name: xt}, 'torch')
            for r in record:
                acc[r].append(Bt[r].numpy().astype(np.float64))
    mc_out = {}
    for r in record:
        a = np.stack(acc[r])
        mc_out[r] = {'dims': [int(d) for d in a.shape[1:]], 'mean': C.F32(list(a.mean(0).astype(np.float32).reshape(-1))),
                     'std': C.F32(list(a.std(0).astype(np.float32).reshape(-1))),
                     # 4th central moment: the delta-method variance of the sample std, (m4 - s^4) / (4 s^2 T)
                     'm4': C.F32(list((((a - a.mean(0)) ** 4).mean(0)).astype(np.float32).reshape(-1)))}

    weights = [{k: g[k] for k in ('layer', 'blob', 'shape', 'seed', 'count', 'exp')} for g in gens]
    doc = {
        'format': 1,
        'name': name,
        'prototxt': cfg['deploy'],
        'prototxt_sha256': hashlib.sha256(deploy_text.encode('utf-8')).hexdigest(),
        'caffemodel': {'size': len(buf), 'sha256': C.sha256(buf), 'source': src, 'pieces': pieces},
        'weights': weights,
        'input': dict({'name': in_name}, **tensor(x), **input_meta),
        'outputs': list(outs),
        'recorded': record,
        'sites': sites,
        'standard': standard,
        'exact': exact,
        'mc': {'T': MC_T, 'torch_seed': mc_seed, 'rows': list(range(x.shape[0])),
               'how': 'torch.manual_seed(torch_seed); T forwards of all rows with F.dropout(training=True) at every site; per element mean, population std (ddof 0) and 4th central moment m4 of the float32 outputs',
               'outputs': mc_out},
        'checked': {'numpy_float64': 'standard and exact[0] recomputed by caffe_numpy.forward (float64, explicit loops)',
                    'max_rel_diff': F32Scalar(worst)},
        'meta': meta(),
    }
    os.makedirs(os.path.join(out, 'nets'), exist_ok=True)
    path = os.path.join(out, 'nets', f'{name}.json')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(dumps(doc) + '\n')
    print(f'{name}: caffemodel {len(buf)} B, json {os.path.getsize(path)} B, sites {[s["name"] for s in sites]}, '
          f'outputs {outs}, standard[0..3] {standard[outs[0]]["data"][:3]}')


def rel_err(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / (1.0 + np.abs(a).max()))


def unpack(m):
    shape = m['shape']
    bits = np.unpackbits(np.frombuffer(base64.b64decode(m['bits']), np.uint8), bitorder='little')
    return bits[:shape[0] * shape[1]].reshape(shape).astype(bool)


def meta():
    return {'torch': torch.__version__, 'numpy': np.__version__, 'protobuf': google.protobuf.__version__,
            'protoc': C.protoc_version(), 'schema_sha256': C.schema_sha256(),
            'threads': 1, 'deterministic': True, 'device': 'cpu'}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=FIX, help='output folder (default test/fixtures/caffe)')
    ap.add_argument('--only', default='', help='comma-separated net names (and/or "layers")')
    ap.add_argument('--no-layers', action='store_true')
    ap.add_argument('--no-nets', action='store_true')
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    pb = C.caffe_pb2()
    only = set(filter(None, a.only.split(',')))
    if not a.no_nets:
        for cfg in NETS:
            if not only or cfg['name'] in only:
                build_net(cfg, out, pb)
    if not a.no_layers and (not only or 'layers' in only):
        layer_cases.build(out, pb, meta())


if __name__ == '__main__':
    main()
