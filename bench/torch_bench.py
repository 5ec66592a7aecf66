#!/usr/bin/python3
"""PyTorch side of bench/suite.mjs: MC dropout timings of ONNX networks rebuilt in PyTorch.

Usage: /usr/bin/python3 bench/torch_bench.py SPEC.json   (written by bench/suite.mjs)
SPEC: {"threads": n, "cases": [{"name", "model", "input" (.npy, float32), "samples", "repeats"}]}
Prints one JSON object on stdout: versions, the BLAS library loaded, the sgemm rate (median of
1024x1024 float32 matmuls) and per case the median compute time (ms) of
  batched       x repeated T times, dropout in train mode (a mask per row and sample);
  trunk         the layers before the first Dropout once on the N rows, the rest on T*N rows;
  trunk_sample  as trunk, one mask per sample shared by the N rows (mcu's default 'sample').
and `check`, the output on the first 2 rows with dropout off (compared with onnxruntime there).
Calls on more than ROW_BUDGET_BYTES of activations are split over the samples.
The networks are built from the ONNX weights with onnx.numpy_helper: the graph's nodes are
evaluated in order with torch functions (Gemm, MatMul, Add, Sub, Mul, Div, Relu, Tanh, Sigmoid,
HardSigmoid, Conv, BatchNormalization (running statistics), MaxPool, GlobalAveragePool, Flatten, Reshape,
Softmax, Dropout, Constant).
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

# the largest activation of one call: 16 MiB stays under glibc malloc's mmap threshold (at most 32 MiB),
# so the buffers are reused between calls instead of mapped and page-faulted afresh every time
ROW_BUDGET_BYTES = 16 * 2**20


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class Net:
    """An ONNX graph evaluated node by node on torch tensors."""

    def __init__(self, path):
        m = onnx.load(path)
        self.graph = m.graph
        self.consts = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
        self.input = next(i.name for i in m.graph.input if i.name not in self.consts)
        self.output = m.graph.output[0].name
        self.nodes = []
        for n in m.graph.node:
            if n.op_type == 'Constant':
                self.consts[n.output[0]] = torch.from_numpy(numpy_helper.to_array(attrs(n)['value']).copy())
            else:
                self.nodes.append(n)
        first = next((k for k, n in enumerate(self.nodes) if n.op_type == 'Dropout'), None)
        if first is None:
            raise SystemExit(f'{path}: no Dropout node')
        self.first = first
        self.last_use = {}
        for k, n in enumerate(self.nodes):
            for i in n.input:
                self.last_use[i] = k

    def rate(self, node):
        a = attrs(node)
        if len(node.input) > 1 and node.input[1]:
            return float(self.consts[node.input[1]])
        return float(a.get('ratio', 0.5))

    def step(self, node, env, masks):
        a = attrs(node)
        x = [env[i] if i in env else self.consts.get(i) for i in node.input]
        op = node.op_type
        if op == 'Gemm':
            A = x[0].t() if a.get('transA', 0) else x[0]
            B = x[1].t() if a.get('transB', 0) else x[1]
            y = torch.addmm(x[2], A, B, beta=a.get('beta', 1.0), alpha=a.get('alpha', 1.0)) if len(x) > 2 and x[2] is not None else a.get('alpha', 1.0) * (A @ B)
        elif op == 'MatMul':
            y = x[0] @ x[1]
        elif op == 'Add':
            y = x[0] + x[1]
        elif op == 'Sub':
            y = x[0] - x[1]
        elif op == 'Mul':
            y = x[0] * x[1]
        elif op == 'Div':
            y = x[0] / x[1]
        elif op == 'BatchNormalization':
            # inference form (running statistics), as onnxruntime runs an eval export
            y = F.batch_norm(x[0], x[3], x[4], x[1], x[2], training=False, eps=a.get('epsilon', 1e-5))
        elif op == 'GlobalAveragePool':
            y = x[0].mean(dim=tuple(range(2, x[0].dim())), keepdim=True)
        elif op == 'Relu':
            y = torch.relu(x[0])
        elif op == 'Tanh':
            y = torch.tanh(x[0])
        elif op == 'Sigmoid':
            y = torch.sigmoid(x[0])
        elif op == 'HardSigmoid':
            y = torch.clamp(a.get('alpha', 0.2) * x[0] + a.get('beta', 0.5), 0.0, 1.0)
        elif op == 'Conv':
            pads = a.get('pads', [0, 0, 0, 0])
            if pads[: len(pads) // 2] != pads[len(pads) // 2 :]:
                raise SystemExit('asymmetric Conv pads are not supported')
            y = F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, stride=a.get('strides', 1), padding=pads[: len(pads) // 2], dilation=a.get('dilations', 1), groups=a.get('group', 1))
        elif op == 'MaxPool':
            pads = a.get('pads', [0, 0, 0, 0])
            y = F.max_pool2d(x[0], a['kernel_shape'], stride=a.get('strides', a['kernel_shape']), padding=pads[: len(pads) // 2], ceil_mode=bool(a.get('ceil_mode', 0)))
        elif op == 'Flatten':
            y = torch.flatten(x[0], a.get('axis', 1))
        elif op == 'Reshape':
            y = x[0].reshape([x[0].shape[k] if int(d) == 0 else int(d) for k, d in enumerate(x[1].tolist())])
        elif op == 'Softmax':
            y = torch.softmax(x[0], a.get('axis', -1))
        elif op == 'Dropout':
            p = self.rate(node)
            if masks == 'off':
                y = x[0]
            elif masks is None:
                y = F.dropout(x[0], p, training=True)
            else:
                # one mask per sample: [T, 1, ...] broadcast over the N rows of that sample
                s, n = masks
                v = x[0].reshape(s, n, *x[0].shape[1:])
                keep = torch.empty((s, 1, *x[0].shape[1:])).bernoulli_(1 - p) / (1 - p)
                y = (v * keep).reshape(x[0].shape)
        else:
            raise SystemExit(f'op {op} is not supported by bench/torch_bench.py')
        env[node.output[0]] = y

    def run(self, env, start, masks=None):
        # an activation is dropped after its last use, as PyTorch's own forward frees it: a graph's
        # every intermediate on T*N rows held at once would be gigabytes of page faults, not compute
        for k in range(start, len(self.nodes)):
            node = self.nodes[k]
            self.step(node, env, masks)
            for i in node.input:
                if self.last_use.get(i) == k and i != self.output:
                    env.pop(i, None)
        return env[self.output]

    def trunk(self, x):
        env = {self.input: x}
        for node in self.nodes[: self.first]:
            self.step(node, env, None)
        return env

    def floats_per_row(self, x1, start=0):
        """The largest activation of one row (floats) from node `start` on, to bound the rows of one call."""
        env = {self.input: x1}
        for k, node in enumerate(self.nodes):
            self.step(node, env, None)
            if k == start - 1:
                env = {self.nodes[start].input[0]: env[self.nodes[start].input[0]]}
        return max(v.numel() for v in env.values())


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def blas_library():
    with open('/proc/self/maps') as f:
        libs = {line.split()[-1] for line in f if '.so' in line}
    found = sorted({os.path.realpath(p) for p in libs if any(k in os.path.basename(p) for k in ('blas', 'mkl_rt', 'blis'))})
    return ', '.join(found) if found else 'none found in /proc/self/maps'


def sgemm(repeats):
    a = torch.randn(1024, 1024)
    b = torch.randn(1024, 1024)
    ms = median_ms(lambda: a @ b, repeats)
    return 2 * 1024**3 / (ms / 1000)


def case(c):
    net = Net(c['model'])
    x = torch.from_numpy(np.load(c['input']).astype(np.float32))
    T, N, repeats = c['samples'], x.shape[0], c['repeats']
    def samples_per_call(per_row):
        # calls of at most ROW_BUDGET_BYTES; where one sample is larger, calls of at most 512 MiB
        # (those buffers are mapped afresh whatever the size, so fewer, larger calls)
        fit = ROW_BUDGET_BYTES // (4 * per_row * N)
        return max(1, min(T, fit if fit >= 1 else 512 * 2**20 // (4 * per_row * N)))

    chunk = samples_per_call(net.floats_per_row(x[:1]))
    # the trunk modes run only the layers after the first dropout on T*N rows
    chunk_head = samples_per_call(net.floats_per_row(x[:1], net.first))
    first_in = net.nodes[net.first].input[0]

    def batched():
        with torch.no_grad():
            for s0 in range(0, T, chunk):
                s = min(chunk, T - s0)
                net.run({net.input: x.repeat(s, *([1] * (x.dim() - 1)))}, 0)

    def trunk(sample_masks):
        def go():
            with torch.no_grad():
                env = net.trunk(x)
                h = env[first_in]
                for s0 in range(0, T, chunk_head):
                    s = min(chunk_head, T - s0)
                    net.run({first_in: h.repeat(s, *([1] * (h.dim() - 1)))}, net.first, (s, N) if sample_masks else None)

        return go

    # the rebuild checked against onnxruntime by bench/suite.mjs: 2 rows, dropout off
    with torch.no_grad():
        check = net.run({net.input: x[:2]}, 0, 'off').flatten().tolist()
    return {
        'name': c['name'],
        'check': check,
        'rows': N,
        'samples': T,
        'samples_per_call': chunk,
        'samples_per_call_trunk': chunk_head,
        'batched_ms': median_ms(batched, repeats),
        'trunk_ms': median_ms(trunk(False), repeats),
        'trunk_sample_ms': median_ms(trunk(True), repeats),
    }


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    torch.set_num_threads(spec['threads'])
    torch.manual_seed(1)
    out = {
        'torch': torch.__version__,
        'onnx': onnx.__version__,
        'numpy': np.__version__,
        'threads': torch.get_num_threads(),
        'sgemm_flops_per_s': sgemm(max(5, spec.get('sgemm_repeats', 20))),
        'blas': blas_library(),
        'cases': [case(c) for c in spec['cases']],
    }
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
