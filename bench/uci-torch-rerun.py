#!/usr/bin/env python3
"""PyTorch against PyTorch on Gal's UCI splits: how far apart are two T-sample estimates?

Reruns the Monte Carlo evaluation that produced ../shared/fixtures/uci/*/reference.json
(test log-likelihood, eq. 8, and RMSE of the MC mean; T = 10,000 passes; per-point masks, i.e.
torch.nn.functional.dropout on the test rows repeated T times) with PyTorch's own dropout and
other seeds, on the same split models (weights read from splitNN.onnx), and counts the splits
where the rerun misses the fixture's numbers by more than 0.02 nats or 1 %. Not run by CI; needs
`apt-get install python3-torch python3-onnx` (Debian's torch 1.13, CPU) and the shared fixtures.

  /usr/bin/python3 bench/uci-torch-rerun.py [SEEDS] [T]       (defaults 1 and 10000)
"""
import json
import math
import os
import sys

import numpy as np

BASE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'fixtures', 'uci')
SEEDS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
T = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
if not os.path.isdir(BASE):
    print(f'{os.path.normpath(BASE)} is absent: this benchmark needs the shared fixtures')
    sys.exit(0)
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import numpy_helper  # noqa: E402

torch.set_num_threads(1)
print(f'PyTorch {torch.__version__}, T = {T}, per-point masks, seeds 1..{SEEDS}')
for ds in ['bostonHousing', 'concrete', 'energy', 'yacht']:
    d = os.path.join(BASE, ds)
    ref = json.load(open(os.path.join(d, 'reference.json')))
    data = np.loadtxt(os.path.join(d, 'data', 'data.txt'))
    feat = np.loadtxt(os.path.join(d, 'data', 'index_features.txt')).astype(int)
    targ = int(np.loadtxt(os.path.join(d, 'data', 'index_target.txt')))
    miss = 0
    runs = 0
    worst_ll = worst_rmse = 0.0
    for sp in ref['splits']:
        m = onnx.load(os.path.join(d, sp['onnx']))
        w = {i.name: torch.tensor(numpy_helper.to_array(i)) for i in m.graph.initializer}
        consts = [float(numpy_helper.to_array(n.attribute[0].t)) for n in m.graph.node if n.op_type == 'Constant']
        # graph: (x − xm)/xs → Dropout(p) → Gemm l1 → Relu → Dropout(p) → Gemm l2 → ·scale + shift
        p, scale, shift = consts[0], consts[-2], consts[-1]
        assert abs(p - sp['p']) < 1e-6, (ds, sp['split'], p, sp['p'])
        idx = np.loadtxt(os.path.join(d, 'data', f'index_test_{sp["split"]}.txt')).astype(int)
        x = (torch.tensor(data[idx][:, feat], dtype=torch.float32) - w['xm']) / w['xs']
        y = data[idx, targ].astype(np.float64)
        tau = sp['tau']
        for seed in range(1, SEEDS + 1):
            torch.manual_seed(seed)
            with torch.no_grad():
                h = torch.relu(torch.nn.functional.linear(torch.nn.functional.dropout(x.repeat(T, 1), p, True), w['l1.weight'], w['l1.bias']))
                out = torch.nn.functional.linear(torch.nn.functional.dropout(h, p, True), w['l2.weight'], w['l2.bias']) * scale + shift
            pred = out.reshape(T, -1).double().numpy()
            rmse = float(np.sqrt(np.mean((y - pred.mean(0)) ** 2)))
            a = -0.5 * tau * (y[None] - pred) ** 2
            mx = a.max(0)
            ll = float(np.mean(mx + np.log(np.exp(a - mx).sum(0)) - math.log(T) - 0.5 * math.log(2 * math.pi) + 0.5 * math.log(tau)))
            g_ll = abs(ll - sp['torch_test_ll'])
            g_rmse = abs(rmse / sp['torch_rmse_mc'] - 1)
            worst_ll = max(worst_ll, g_ll)
            worst_rmse = max(worst_rmse, g_rmse)
            runs += 1
            miss += g_ll > 0.02 or g_rmse > 0.01
    print(f'{ds}: {runs} reruns; {miss} miss 0.02 nats or 1 %; largest |LL gap| {worst_ll:.4f} nats, |RMSE gap| {100 * worst_rmse:.2f} %')
