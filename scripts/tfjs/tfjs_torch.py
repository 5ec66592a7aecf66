"""Reading a TensorFlow.js layers model (model.json + its weight shards) and running its recurrent
layers with PyTorch: explicit time loops with torch ops, variational (Gal & Ghahramani) dropout
masks fixed over all time steps, as tfjs-layers' recurrent.js computes them (see README.md).
Plus the second opinions: torch.nn.LSTM / GRU / RNN (all-ones masks), torch.nn.*Cell per step
(masked inputs and state), and a numpy float64 loop."""
import json
import os

import numpy as np
import torch


# ------------------------------------------------------------------ model.json
def read_layers_model(d):
    """-> (topology config dict, layers list, {weight name: float32 array}, manifest order)."""
    with open(os.path.join(d, 'model.json'), encoding='utf8') as f:
        mj = json.load(f)
    if mj.get('format') != 'layers-model':
        raise ValueError(f'{d}: not a layers-model')
    topo = mj['modelTopology']
    model = topo.get('model_config', topo)
    weights, order = {}, []
    for group in mj['weightsManifest']:
        buf = b''.join(open(os.path.join(d, p), 'rb').read() for p in group['paths'])
        off = 0
        for spec in group['weights']:
            if spec['dtype'] != 'float32':
                raise ValueError(f"{spec['name']}: dtype {spec['dtype']}")
            n = int(np.prod(spec['shape'])) if spec['shape'] else 1
            a = np.frombuffer(buf, dtype='<f4', count=n, offset=off).reshape(spec['shape']).copy()
            off += 4 * n
            weights[spec['name']] = a
            order.append(spec['name'])
        if off != len(buf):
            raise ValueError(f'{d}: weight shards hold {len(buf)} bytes, the manifest {off}')
    return model, model['config']['layers'], weights, order


def layer_weight(weights, layer, wname):
    """'lstm/kernel' (tfjs model.save) or 'lstm/lstm_cell/kernel' (tensorflowjs_converter, TF >= 2.2)."""
    hits = [k for k in weights if k.startswith(layer + '/') and k.split('/')[-1] == wname and k.count('/') in (1, 2)]
    if len(hits) != 1:
        raise KeyError(f'{layer}/{wname}: {hits}')
    return hits[0], weights[hits[0]]


RNN_CLASSES = ('LSTM', 'GRU', 'SimpleRNN')


# ------------------------------------------------------------------ activations
def act_torch(name):
    return {
        'tanh': torch.tanh,
        'sigmoid': torch.sigmoid,
        # tfjs-layers' hardSigmoid: clip(0.2 x + 0.5, 0, 1)
        'hard_sigmoid': lambda v: torch.clamp(0.2 * v + 0.5, 0.0, 1.0),
        'linear': lambda v: v,
        'relu': torch.relu,
    }[name]


def act_np(name):
    return {
        'tanh': np.tanh,
        'sigmoid': lambda v: 1.0 / (1.0 + np.exp(-v)),
        'hard_sigmoid': lambda v: np.clip(0.2 * v + 0.5, 0.0, 1.0),
        'linear': lambda v: v,
        'relu': lambda v: np.maximum(v, 0.0),
    }[name]


# ------------------------------------------------------------------ the reference: explicit loop, torch ops
def rnn_torch(cls, cfg, W, x, mx, mh):
    """x [N, T, F] float64; mx [N, F], mh [N, U]: the masks (ones when no dropout), the same at every
    step. Returns the per-step outputs [N, T, U] in processing order (reversed time for go_backwards,
    as tfjs-layers and Keras return them) and the last one [N, U]."""
    U = cfg['units']
    act = act_torch(cfg.get('activation', 'tanh'))
    ract = act_torch(cfg.get('recurrent_activation', 'sigmoid')) if cls != 'SimpleRNN' else None
    K, R, b = W['kernel'], W['recurrent_kernel'], W.get('bias')
    N, T, _ = x.shape
    if cfg.get('go_backwards'):
        x = torch.flip(x, dims=[1])
    h = torch.zeros(N, U, dtype=x.dtype)
    c = torch.zeros(N, U, dtype=x.dtype)
    outs = []
    for t in range(T):
        xt = x[:, t, :] * mx          # input dropout: x_t . mask, before the kernel
        hm = h * mh                   # recurrent dropout: h_{t-1} . recMask, before the recurrent kernel
        if cls == 'LSTM':             # gates i, f, c, o
            z = xt @ K + hm @ R
            if b is not None:
                z = z + b
            zi, zf, zc, zo = torch.split(z, U, dim=1)
            i, f, o = ract(zi), ract(zf), ract(zo)
            c = f * c + i * act(zc)   # the carry c is never masked
            h = o * act(c)
        elif cls == 'GRU':            # gates z, r, h
            if cfg.get('reset_after'):
                mx_ = xt @ K + (b[0] if b is not None else 0)
                mi = hm @ R + (b[1] if b is not None else 0)
                xz, xr, xh = torch.split(mx_, U, dim=1)
                rz, rr, rh = torch.split(mi, U, dim=1)
                zg = ract(xz + rz)
                rg = ract(xr + rr)
                hh = act(xh + rg * rh)
            else:
                mx_ = xt @ K + (b if b is not None else 0)
                xz, xr, xh = torch.split(mx_, U, dim=1)
                inner = hm @ R[:, :2 * U]
                rz, rr = torch.split(inner, U, dim=1)
                zg = ract(xz + rz)
                rg = ract(xr + rr)
                hh = act(xh + (rg * hm) @ R[:, 2 * U:])
            h = zg * hm + (1 - zg) * hh   # the MASKED h_{t-1} in the interpolation (tfjs-layers)
        elif cls == 'SimpleRNN':
            z = xt @ K
            if b is not None:
                z = z + b
            h = act(z + hm @ R)
        else:
            raise ValueError(cls)
        outs.append(h)
    return torch.stack(outs, dim=1), h


def rnn_numpy(cls, cfg, W, x, mx, mh):
    """The same loop in numpy float64, written separately (the second opinion for GRU reset_after: false)."""
    U = cfg['units']
    act = act_np(cfg.get('activation', 'tanh'))
    ract = act_np(cfg.get('recurrent_activation', 'sigmoid'))
    K, R, b = (np.asarray(W[k], np.float64) if W.get(k) is not None else None for k in ('kernel', 'recurrent_kernel', 'bias'))
    N, T, _ = x.shape
    order = range(T - 1, -1, -1) if cfg.get('go_backwards') else range(T)
    h = np.zeros((N, U))
    c = np.zeros((N, U))
    outs = []
    for t in order:
        xt = x[:, t, :] * mx
        hm = h * mh
        if cls == 'LSTM':
            g = [xt @ K[:, k * U:(k + 1) * U] + hm @ R[:, k * U:(k + 1) * U] + b[k * U:(k + 1) * U] for k in range(4)]
            c = ract(g[1]) * c + ract(g[0]) * act(g[2])
            h = ract(g[3]) * act(c)
        elif cls == 'GRU':
            sl = [slice(k * U, (k + 1) * U) for k in range(3)]
            if cfg.get('reset_after'):
                zg = ract(xt @ K[:, sl[0]] + b[0, sl[0]] + hm @ R[:, sl[0]] + b[1, sl[0]])
                rg = ract(xt @ K[:, sl[1]] + b[0, sl[1]] + hm @ R[:, sl[1]] + b[1, sl[1]])
                hh = act(xt @ K[:, sl[2]] + b[0, sl[2]] + rg * (hm @ R[:, sl[2]] + b[1, sl[2]]))
            else:
                zg = ract(xt @ K[:, sl[0]] + b[sl[0]] + hm @ R[:, sl[0]])
                rg = ract(xt @ K[:, sl[1]] + b[sl[1]] + hm @ R[:, sl[1]])
                hh = act(xt @ K[:, sl[2]] + b[sl[2]] + (rg * hm) @ R[:, sl[2]])
            h = zg * hm + (1 - zg) * hh
        else:
            h = act(xt @ K + b + hm @ R)
        outs.append(h)
    return np.stack(outs, axis=1), h


# ------------------------------------------------------------------ torch.nn second opinions
def _lstm_params(W, U):
    K, R, b = (torch.from_numpy(np.asarray(W[k], np.float64)) for k in ('kernel', 'recurrent_kernel', 'bias'))
    # Keras gates i, f, c, o = PyTorch i, f, g, o: the same order, transposed
    return K.T.contiguous(), R.T.contiguous(), b.clone(), torch.zeros_like(b)


def _gru_params(W, U):
    """reset_after: true only (PyTorch's GRU is that variant). Keras z, r, h -> PyTorch r, z, n."""
    K, R, b = (torch.from_numpy(np.asarray(W[k], np.float64)) for k in ('kernel', 'recurrent_kernel', 'bias'))
    perm = lambda m: torch.cat([m[..., U:2 * U], m[..., :U], m[..., 2 * U:]], dim=-1)
    return perm(K).T.contiguous(), perm(R).T.contiguous(), perm(b[0]).clone(), perm(b[1]).clone()


def _simple_params(W, U):
    K, R, b = (torch.from_numpy(np.asarray(W[k], np.float64)) for k in ('kernel', 'recurrent_kernel', 'bias'))
    return K.T.contiguous(), R.T.contiguous(), b.clone(), torch.zeros_like(b)


def nn_equivalent(cls, cfg):
    """Whether torch.nn has the same cell (GRU reset_after: false has none)."""
    if cls == 'GRU':
        return bool(cfg.get('reset_after'))
    if cls == 'SimpleRNN':
        return cfg.get('activation', 'tanh') == 'tanh'
    return cfg.get('activation', 'tanh') == 'tanh' and cfg.get('recurrent_activation') == 'sigmoid'


def rnn_nn_full(cls, cfg, W, x):
    """torch.nn.LSTM / GRU / RNN over the whole sequence, no dropout: (outputs [N, T, U], last [N, U])."""
    U, F = cfg['units'], x.shape[2]
    if cls == 'LSTM':
        mod, prm = torch.nn.LSTM(F, U, batch_first=True), _lstm_params(W, U)
    elif cls == 'GRU':
        mod, prm = torch.nn.GRU(F, U, batch_first=True), _gru_params(W, U)
    else:
        mod, prm = torch.nn.RNN(F, U, nonlinearity='tanh', batch_first=True), _simple_params(W, U)
    mod = mod.double()
    with torch.no_grad():
        for name, v in zip(('weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0'), prm):
            getattr(mod, name).copy_(v)
        xs = torch.flip(x, dims=[1]) if cfg.get('go_backwards') else x
        out = mod(xs)[0]
    return out, out[:, -1, :]


def rnn_nn_cells(cls, cfg, W, x, mx, mh):
    """torch.nn.LSTMCell / GRUCell / RNNCell per step, fed x_t . mx and h_{t-1} . mh."""
    U, F = cfg['units'], x.shape[2]
    if cls == 'LSTM':
        cell, prm = torch.nn.LSTMCell(F, U), _lstm_params(W, U)
    elif cls == 'GRU':
        cell, prm = torch.nn.GRUCell(F, U), _gru_params(W, U)
    else:
        cell, prm = torch.nn.RNNCell(F, U, nonlinearity='tanh'), _simple_params(W, U)
    cell = cell.double()
    N, T, _ = x.shape
    with torch.no_grad():
        for name, v in zip(('weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'), prm):
            getattr(cell, name).copy_(v)
        xs = torch.flip(x, dims=[1]) if cfg.get('go_backwards') else x
        h = torch.zeros(N, U, dtype=torch.float64)
        c = torch.zeros(N, U, dtype=torch.float64)
        outs = []
        for t in range(T):
            if cls == 'LSTM':
                h, c = cell(xs[:, t] * mx, (h * mh, c))
            else:
                h = cell(xs[:, t] * mx, h * mh)
            outs.append(h)
    return torch.stack(outs, dim=1), h
