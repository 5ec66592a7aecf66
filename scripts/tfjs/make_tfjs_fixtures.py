#!/usr/bin/python3
"""The TensorFlow.js ground truth for mcu's tfjs backend (scripts/tfjs/README.md).

    /usr/bin/python3 scripts/tfjs/make_tfjs_fixtures.py            # test/fixtures/tfjs/rnn/<name>/
    /usr/bin/python3 scripts/tfjs/make_tfjs_fixtures.py --twin     # examples/twin/
    /usr/bin/python3 scripts/tfjs/make_tfjs_fixtures.py --all      # both
    ... --out DIR / --twin-out DIR (elsewhere), --no-verify (skip the tfjs-layers cross-check)

1. RNN fixtures: scripts/tfjs/make_models.mjs writes each model.json + weights.bin with
   tfjs-layers' own model.save (gru_reset_after in tensorflowjs_converter's Keras-2 layout); this
   script READS them back, computes the answers with PyTorch (explicit time loop, float64), checks
   them against torch.nn.LSTM/GRU/RNN, torch.nn.*Cell and a numpy loop, and writes ref.json; then
   make_models.mjs --verify runs tfjs-layers itself on the masks and compares.
2. The example twin: make_models.mjs writes the tfjs MLP, this script builds the same PyTorch module
   from weights.bin and exports it with torch.onnx.export (opset 13, TrainingMode.PRESERVE).
Deterministic: two runs give byte-identical files.
"""
import argparse
import hashlib
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, 'scripts', 'caffe'))
from caffe_common import F32, F32Scalar, dumps, gen_floats, pack_mask  # noqa: E402
import tfjs_torch as tt  # noqa: E402

RNN_NAMES = ['lstm', 'lstm_seq', 'gru_reset_after', 'gru_classic', 'simple_rnn', 'lstm_backwards']
N = 4
INPUT_SEED = 20240607
MASK_SEEDS = [1001, 1002]
SELF_TOL = 1e-6

DESCRIPTIONS = {
    'lstm': 'Sequential: LSTM(8, dropout 0.25, recurrent_dropout 0.3, recurrent_activation sigmoid) on [T=6, F=5] -> Dense(3)',
    'lstm_seq': 'functional Model: Input [6, 5] -> LSTM(8, return_sequences, dropout 0.25, recurrent_dropout 0.3) -> TimeDistributed(Dense(2))',
    'gru_reset_after': 'Sequential (tensorflowjs_converter layout of a Keras 2.11 model): InputLayer -> GRU(8, reset_after: true, bias [2, 24], dropout 0.25, recurrent_dropout 0.3) -> Dense(3)',
    'gru_classic': 'Sequential: GRU(8, reset_after: false, bias [24], dropout 0.25, recurrent_dropout 0.3, recurrent_activation sigmoid) -> Dense(3)',
    'simple_rnn': 'Sequential: SimpleRNN(8, tanh, dropout 0.2, recurrent_dropout 0.4) -> Dense(3)',
    'lstm_backwards': 'Sequential: LSTM(8, go_backwards, dropout 0.25, recurrent_dropout 0.3) -> Dense(3)',
}


def sha256_file(p):
    with open(p, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def node(*args):
    r = subprocess.run(['node', os.path.join(HERE, 'make_models.mjs'), *args], capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith('=') and 'tfjs-node' not in ln and 'Hi, looks like' not in ln]
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f'make_models.mjs {" ".join(args)} failed')
    return lines


def keep_scale(p):
    """float32(1/(1-p)); tfjs-core's dropout divides by float32(1-p) in float32: the same value here."""
    s = np.float32(1.0 / (1.0 - p))
    assert s == np.float32(1.0) / np.float32(1.0 - p), p
    return s


def fmt_e(v):
    return f'{v:.1e}'


# ------------------------------------------------------------------ one RNN fixture
def chain(model, layers):
    """The layers in call order; a functional Model must be a chain (each layer reads the previous)."""
    out = []
    for k, L in enumerate(layers):
        if L['class_name'] == 'InputLayer':
            continue
        if model['class_name'] == 'Model':
            ib = L['inbound_nodes']
            assert len(ib) == 1 and len(ib[0]) == 1 and ib[0][0][0] == layers[k - 1]['config']['name'], L
        out.append(L)
    return out


def dense_apply(cfg, K, b, h):
    y = h @ K + (b if b is not None else 0)
    return tt.act_torch(cfg.get('activation', 'linear'))(y)


def forward(layers, W64, x, masks):
    """-> {layer name: output} for one set of masks ({(layer, kind): [N, n] float64 tensor})."""
    outs = {}
    h = x
    for L in layers:
        cls, cfg, name = L['class_name'], L['config'], L['config']['name']
        if cls in tt.RNN_CLASSES:
            seq, last = tt.rnn_torch(cls, cfg, W64[name], h, masks[(name, 'input')], masks[(name, 'recurrent')])
            h = seq if cfg.get('return_sequences') else last
        elif cls == 'Dense':
            h = dense_apply(cfg, W64[name]['kernel'], W64[name].get('bias'), h)
        elif cls == 'TimeDistributed' and cfg['layer']['class_name'] == 'Dense':
            h = dense_apply(cfg['layer']['config'], W64[name]['kernel'], W64[name].get('bias'), h)
        else:
            raise ValueError(f'unsupported layer {cls}')
        outs[name] = h
    return outs


def make_rnn(name, d):
    model, raw_layers, weights, order = tt.read_layers_model(d)
    layers = chain(model, raw_layers)
    W64, wnames = {}, {}
    for L in layers:
        lname = L['config']['name']
        W64[lname], wnames[lname] = {}, {}
        for wn in ('kernel', 'recurrent_kernel', 'bias'):
            try:
                full, a = tt.layer_weight(weights, lname, wn)
            except KeyError:
                continue
            W64[lname][wn] = torch.from_numpy(a.astype(np.float64))
            wnames[lname][wn] = full
    rnn_layers = [L for L in layers if L['class_name'] in tt.RNN_CLASSES]

    # input
    b0 = raw_layers[0]['config'].get('batch_input_shape') or layers[0]['config']['batch_input_shape']
    T, F = b0[1], b0[2]
    xin = gen_floats(INPUT_SEED, N * T * F, 0).reshape(N, T, F)
    x = torch.from_numpy(xin.astype(np.float64))

    # sites: per recurrent layer, the input mask [N, F] then the state mask [N, units]
    sites, descr_layers = [], []
    feat = F
    for L in layers:
        cls, cfg, lname = L['class_name'], L['config'], L['config']['name']
        if cls in tt.RNN_CLASSES:
            U = cfg['units']
            for kind, key, per in (('input', 'dropout', feat), ('recurrent', 'recurrent_dropout', U)):
                p = float(cfg.get(key, 0) or 0)
                assert 0 < p < 1, (lname, key)
                sites.append({'name': f'{lname}/{key}', 'layer': lname, 'kind': kind, 'p': p, 'scale': keep_scale(p), 'per_row': per})
            descr_layers.append({
                'name': lname, 'class_name': cls, 'units': U, 'input_features': feat, 'timesteps': T,
                'activation': cfg.get('activation'), 'recurrent_activation': cfg.get('recurrent_activation'),
                'go_backwards': bool(cfg.get('go_backwards')), 'return_sequences': bool(cfg.get('return_sequences')),
                'reset_after': bool(cfg.get('reset_after')) if cls == 'GRU' else None,
                'weights': wnames[lname],
            })
            feat = U

    ones = {(s['layer'], s['kind']): torch.ones(N, s['per_row'], dtype=torch.float64) for s in sites}
    final = layers[-1]['config']['name']
    recorded = [final] + [L['config']['name'] for L in rnn_layers]
    std = forward(layers, W64, x, ones)

    exact = []
    checks = {'nn_full': 0.0, 'nn_cells': 0.0, 'numpy': 0.0}
    # the second opinions run the recurrent layer on the model input: it must come first
    assert len(rnn_layers) == 1 and layers[0] is rnn_layers[0], name
    for seed in MASK_SEEDS:
        rng = np.random.Generator(np.random.PCG64(seed))
        masks, stored = {}, []
        for s in sites:
            keep = rng.random((N, s['per_row'])) >= s['p']
            masks[(s['layer'], s['kind'])] = torch.from_numpy(keep * np.float64(s['scale']))
            pm = pack_mask(keep, s['p'], s['scale'])
            stored.append({'site': s['name'], **pm})
        outs = forward(layers, W64, x, masks)
        exact.append({
            'mask_rng': f'numpy Generator(PCG64({seed})).random((N, per_row)) >= p, drawn site by site in `sites` order',
            'masks': stored,
            'outputs': {k: tt_tensor(outs[k]) for k in recorded},
        })
        # second opinions on the masked run
        for L in rnn_layers:
            cls, cfg, lname = L['class_name'], L['config'], L['config']['name']
            hin = x
            mx, mh = masks[(lname, 'input')], masks[(lname, 'recurrent')]
            ref_seq, _ = tt.rnn_torch(cls, cfg, W64[lname], hin, mx, mh)
            np_seq, _ = tt.rnn_numpy(cls, cfg, {k: v.numpy() for k, v in W64[lname].items()}, hin.numpy(), mx.numpy(), mh.numpy())
            checks['numpy'] = max(checks['numpy'], float(np.abs(ref_seq.numpy() - np_seq).max()))
            if tt.nn_equivalent(cls, cfg):
                c_seq, _ = tt.rnn_nn_cells(cls, cfg, W64[lname], hin, mx, mh)
                checks['nn_cells'] = max(checks['nn_cells'], float((ref_seq - c_seq).abs().max()))
    # all-ones masks: the loop against torch.nn's fused modules (the weight conversion's self-test)
    for L in rnn_layers:
        cls, cfg, lname = L['class_name'], L['config'], L['config']['name']
        o1 = ones[(lname, 'input')]
        o2 = ones[(lname, 'recurrent')]
        ref_seq, _ = tt.rnn_torch(cls, cfg, W64[lname], x, o1, o2)
        if tt.nn_equivalent(cls, cfg):
            nn_seq, _ = tt.rnn_nn_full(cls, cfg, W64[lname], x)
            checks['nn_full'] = max(checks['nn_full'], float((ref_seq - nn_seq).abs().max()))
        np_seq, _ = tt.rnn_numpy(cls, cfg, {k: v.numpy() for k, v in W64[lname].items()}, x.numpy(), o1.numpy(), o2.numpy())
        checks['numpy'] = max(checks['numpy'], float(np.abs(ref_seq.numpy() - np_seq).max()))
    for k, v in checks.items():
        if v > SELF_TOL:
            raise SystemExit(f'{name}: self-test {k} differs by {v}')
    nn_ok = [L['config']['name'] for L in rnn_layers if tt.nn_equivalent(L['class_name'], L['config'])]

    ref = {
        'format': 1,
        'name': name,
        'description': DESCRIPTIONS[name],
        'model': 'model.json',
        'model_sha256': sha256_file(os.path.join(d, 'model.json')),
        'weights': ['weights.bin'],
        'weights_sha256': [sha256_file(os.path.join(d, 'weights.bin'))],
        'weights_order': order,
        'layers': descr_layers,
        'sites': [{**s, 'p': F32Scalar(s['p']), 'scale': F32Scalar(s['scale'])} for s in sites],
        'input': {'dims': [N, T, F], 'data': F32(list(xin.reshape(-1))),
                  'source': f'xorshift32 seed {INPUT_SEED}, uniform in [-1, 1) (scripts/caffe gen_floats, exp 0)'},
        'output': final,
        'recorded': recorded,
        'standard': {'outputs': {k: tt_tensor(std[k]) for k in recorded}},
        'exact': exact,
        'meta': {
            'how': 'PyTorch float64, explicit time loop (scripts/tfjs/tfjs_torch.py rnn_torch), rounded to float32; masks fixed over all time steps',
            'torch': torch.__version__,
            'numpy': np.__version__,
            'self_test': {
                'torch_nn_full_all_ones': fmt_e(checks['nn_full']) if nn_ok else 'n/a (torch.nn has no GRU with reset_after: false)',
                'torch_nn_cells_masked': fmt_e(checks['nn_cells']) if nn_ok else 'n/a (torch.nn has no GRU with reset_after: false)',
                'numpy_loop': fmt_e(checks['numpy']),
                'tolerance': fmt_e(SELF_TOL),
            },
        },
    }
    with open(os.path.join(d, 'ref.json'), 'w', encoding='utf8') as f:
        f.write(dumps(ref) + '\n')
    return ref['meta']['self_test']


def tt_tensor(t):
    a = t.detach().numpy().astype(np.float32)
    return {'dims': [int(v) for v in a.shape], 'data': F32(list(a.reshape(-1)))}


# ------------------------------------------------------------------ the twin
TWIN_ROWS = 5


def make_twin(d, verify=True):
    node('--twin', d)
    model, layers, weights, _ = tt.read_layers_model(d)
    dense = [L for L in layers if L['class_name'] == 'Dense']
    mods = []
    for L in layers:
        cfg = L['config']
        if L['class_name'] == 'Dense':
            K = weights[f"{cfg['name']}/kernel"]
            b = weights[f"{cfg['name']}/bias"]
            lin = torch.nn.Linear(K.shape[0], K.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(K.T.copy()))   # Keras kernel [in, out] = PyTorch weight.T
                lin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            if cfg['activation'] == 'relu':
                mods.append(torch.nn.ReLU())
            else:
                assert cfg['activation'] == 'linear'
        elif L['class_name'] == 'Dropout':
            mods.append(torch.nn.Dropout(cfg['rate']))
        else:
            raise ValueError(L['class_name'])
    net = torch.nn.Sequential(*mods)
    net.eval()
    for m in net.modules():
        if isinstance(m, torch.nn.Dropout):
            m.train()
    F = dense[0]['config']['batch_input_shape'][1]
    torch.manual_seed(0)
    onnx_path = os.path.join(d, 'model.onnx')
    torch.onnx.export(
        net, torch.zeros(1, F), onnx_path, opset_version=13, training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False, input_names=['x'], output_names=['y'],
        dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}},
    )
    xin = gen_floats(7, TWIN_ROWS * F, 0).reshape(TWIN_ROWS, F) * np.float32(2)
    with open(os.path.join(d, 'input.csv'), 'w', encoding='utf8') as f:
        f.write(','.join(f'x{j}' for j in range(F)) + '\n')
        for row in xin:
            f.write(','.join(repr(float(v)) for v in row) + '\n')
    if verify:
        import onnx
        from onnx import numpy_helper
        m = onnx.load(onnx_path)
        ops = [n.op_type for n in m.graph.node]
        assert ops.count('Dropout') == 2, ops
        net.eval()
        with torch.no_grad():
            y = net(torch.from_numpy(xin)).numpy()
        # eval forward in numpy from the ONNX initializers
        inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
        h = xin.astype(np.float64)
        gemms = [n for n in m.graph.node if n.op_type == 'Gemm']
        for k, g in enumerate(gemms):
            Wm, bm = inits[g.input[1]], inits[g.input[2]]
            assert Wm.tobytes() == weights[f"{dense[k]['config']['name']}/kernel"].T.copy().tobytes()
            h = h @ Wm.T.astype(np.float64) + bm
            if k < len(gemms) - 1:
                h = np.maximum(h, 0)
        d_ = float(np.abs(h - y).max())
        assert d_ < 1e-5, d_
        import json
        yt = np.asarray(json.loads(node('--twin-predict', d)[-1]), dtype=np.float64)
        d_tfjs = float(np.abs(yt - y.reshape(-1)).max())
        assert d_tfjs < 1e-5, d_tfjs
        print(f'twin: tfjs-layers predict vs PyTorch eval {d_tfjs:.1e}')
        print(f'twin: ONNX ops {ops}; initializers = tfjs kernels transposed (bytes); eval forward numpy vs torch {d_:.1e}')
        print('twin eval outputs (tfjs predict / ONNX without dropout): ' + ' '.join(f'{v:.6f}' for v in y.reshape(-1)))


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(REPO, 'test', 'fixtures', 'tfjs', 'rnn'))
    ap.add_argument('--twin-out', default=os.path.join(REPO, 'examples', 'twin'))
    ap.add_argument('--twin', action='store_true', help='write only the example twin')
    ap.add_argument('--all', action='store_true', help='the RNN fixtures and the twin')
    ap.add_argument('--no-verify', action='store_true')
    a = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    if not a.twin or a.all:
        out = os.path.abspath(a.out)
        node('--rnn', out)
        for name in RNN_NAMES:
            c = make_rnn(name, os.path.join(out, name))
            print(f'{name}: self-tests (max |diff|, float64) ' + ', '.join(f'{k} {v}' for k, v in c.items()))
        if not a.no_verify:
            for ln in node('--verify', out):
                print(ln)
    if a.twin or a.all:
        make_twin(os.path.abspath(a.twin_out), verify=not a.no_verify)


if __name__ == '__main__':
    main()
