#!/usr/bin/python3
"""PyTorch side of bench/suite.mjs: MC dropout timings of ONNX networks rebuilt in PyTorch.

Usage: /usr/bin/python3 bench/torch_bench.py SPEC.json   (written by bench/suite.mjs, bench/gpu.mjs)
SPEC: {"threads": n, "cases": [{"name", "model", "input" (.npy, float32), "samples", "repeats"}],
       "device": "cpu" (default) or "cuda", "row_budget_bytes": ROW_BUDGET_BYTES (default)}
A model is an .onnx file (needs the onnx package) or a .json graph written by bench/onnx-json.mjs
(needs only torch and numpy: the GPU machine's python has no onnx and no network to install it).
Prints one JSON object on stdout: versions, the BLAS library loaded, the sgemm rate (median of
1024x1024 float32 matmuls, on the device) and per case the median compute time (ms) of
  batched       x repeated T times, dropout in train mode (a mask per row and sample);
  trunk         the layers before the first Dropout once on the N rows, the rest on T*N rows;
  trunk_sample  as trunk, one mask per sample shared by the N rows (mcu's default 'sample').
and `check`, the output on the first 2 rows with dropout off (compared with onnxruntime there).
Calls on more than ROW_BUDGET_BYTES (or the SPEC's row_budget_bytes) of activations are split over
the samples. With device "cuda" the weights, inputs and masks are on the GPU and every clock read
waits for it (torch.cuda.synchronize).
The networks are built from the ONNX weights (onnx.numpy_helper, or the JSON graph's .npy files): the graph's nodes are
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
import torch
import torch.nn.functional as F

# the largest activation of one call: 16 MiB stays under glibc malloc's mmap threshold (at most 32 MiB),
# so the buffers are reused between calls instead of mapped and page-faulted afresh every time
ROW_BUDGET_BYTES = 16 * 2**20


class Node:
    """One graph node, the same whichever file it came from: attrs are plain values (a tensor attribute: a numpy array)."""

    def __init__(self, op_type, inputs, outputs, attrs):
        self.op_type = op_type
        self.input = list(inputs)
        self.output = list(outputs)
        self.attrs = attrs
        self.rate = None  # a Dropout's ratio, read once at load (a float() of a GPU tensor would wait for the GPU)


def load_onnx(path):
    """(input, output, initializers, nodes) of an .onnx file, through the onnx package."""
    import onnx
    from onnx import numpy_helper

    def value(a):
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, onnx.TensorProto):
            return numpy_helper.to_array(v).copy()
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, list) and v and isinstance(v[0], bytes):
            return [s.decode() for s in v]
        return v

    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i).copy() for i in m.graph.initializer}
    nodes = [Node(n.op_type, n.input, n.output, {a.name: value(a) for a in n.attribute}) for n in m.graph.node]
    inp = next(i.name for i in m.graph.input if i.name not in inits)
    return inp, m.graph.output[0].name, inits, nodes


def load_json(path):
    """(input, output, initializers, nodes) of a JSON graph written by bench/onnx-json.mjs (numpy only)."""
    folder = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        g = json.load(f)

    def value(v):
        return np.load(os.path.join(folder, v['tensor'])) if isinstance(v, dict) and 'tensor' in v else v

    inits = {name: np.load(os.path.join(folder, file)) for name, file in g['initializers'].items()}
    nodes = [Node(n['op_type'], n['input'], n['output'], {k: value(v) for k, v in n['attrs'].items()}) for n in g['nodes']]
    return g['input'], g['output'], inits, nodes


class Net:
    """An ONNX graph evaluated node by node on torch tensors."""

    def __init__(self, path, device='cpu'):
        inp, out, inits, nodes = load_json(path) if path.endswith('.json') else load_onnx(path)
        self.consts = {k: torch.from_numpy(np.array(v)) for k, v in inits.items()}
        self.input = inp
        self.output = out
        self.nodes = []
        for n in nodes:
            if n.op_type == 'Constant':
                self.consts[n.output[0]] = torch.from_numpy(np.array(n.attrs['value']))
            else:
                self.nodes.append(n)
        first = next((k for k, n in enumerate(self.nodes) if n.op_type == 'Dropout'), None)
        if first is None:
            raise SystemExit(f'{path}: no Dropout node')
        self.first = first
        for n in self.nodes:
            if n.op_type == 'Dropout':
                n.rate = self.read_rate(n)
        # floating tensors go to the device; integer ones (Reshape shapes) stay on the CPU, where
        # reading them (tolist) does not wait for the GPU
        self.device = torch.device(device)
        self.consts = {k: v.to(self.device) if v.is_floating_point() else v for k, v in self.consts.items()}
        self.last_use = {}
        for k, n in enumerate(self.nodes):
            for i in n.input:
                self.last_use[i] = k

    def read_rate(self, node):
        if len(node.input) > 1 and node.input[1]:
            return float(self.consts[node.input[1]])
        return float(node.attrs.get('ratio', 0.5))

    def step(self, node, env, masks):
        a = node.attrs
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
            p = node.rate
            if masks == 'off':
                y = x[0]
            elif masks is None:
                y = F.dropout(x[0], p, training=True)
            else:
                # one mask per sample: [T, 1, ...] broadcast over the N rows of that sample
                s, n = masks
                v = x[0].reshape(s, n, *x[0].shape[1:])
                keep = torch.empty((s, 1, *x[0].shape[1:]), device=x[0].device).bernoulli_(1 - p) / (1 - p)
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


def no_sync():
    pass


# what a clock read waits for first: the GPU's queued work under device "cuda" (main sets it)
sync = no_sync


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def blas_library():
    with open('/proc/self/maps') as f:
        libs = {line.split()[-1] for line in f if '.so' in line}
    found = sorted({os.path.realpath(p) for p in libs if any(k in os.path.basename(p) for k in ('blas', 'mkl_rt', 'blis'))})
    return ', '.join(found) if found else 'none found in /proc/self/maps'


def sgemm(repeats, device='cpu'):
    a = torch.randn(1024, 1024, device=device)
    b = torch.randn(1024, 1024, device=device)
    ms = median_ms(lambda: a @ b, repeats)
    return 2 * 1024**3 / (ms / 1000)


def device_name(device):
    if device == 'cuda':
        return torch.cuda.get_device_name()
    try:
        with open('/proc/cpuinfo') as f:
            return next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), 'cpu')
    except OSError:
        return 'cpu'


def case(c, device='cpu', budget=ROW_BUDGET_BYTES):
    net = Net(c['model'], device)
    x = torch.from_numpy(np.load(c['input']).astype(np.float32)).to(net.device)
    T, N, repeats = c['samples'], x.shape[0], c['repeats']
    def samples_per_call(per_row):
        # calls of at most `budget` bytes; where one sample is larger, calls of at most 512 MiB
        # (those buffers are mapped afresh whatever the size, so fewer, larger calls)
        fit = budget // (4 * per_row * N)
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
    global sync
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    device = spec.get('device', 'cpu')
    if device not in ('cpu', 'cuda'):
        raise SystemExit(f'device {device!r}: "cpu" or "cuda"')
    if device == 'cuda':
        if not torch.cuda.is_available():
            raise SystemExit('device "cuda": torch.cuda.is_available() is False')
        sync = torch.cuda.synchronize
        # float32 arithmetic, as onnxruntime's WebGPU provider computes (and before the sgemm rate):
        # TF32, PyTorch's default for cuDNN convolutions, rounds inputs to 10-bit mantissas; the
        # report's 'tf32' shows what ran
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    budget = int(spec.get('row_budget_bytes', ROW_BUDGET_BYTES))
    torch.set_num_threads(spec['threads'])
    torch.manual_seed(1)
    # onnx only for .onnx models: a machine with JSON graphs needs torch and numpy alone
    if any(not c['model'].endswith('.json') for c in spec['cases']):
        import onnx

        onnx_version = onnx.__version__
    else:
        onnx_version = 'not used'
    out = {
        'torch': torch.__version__,
        'onnx': onnx_version,
        'numpy': np.__version__,
        'threads': torch.get_num_threads(),
        'device': device,
        'device_name': device_name(device),
        'row_budget_bytes': budget,
        'sgemm_flops_per_s': sgemm(max(5, spec.get('sgemm_repeats', 20)), device),
        'blas': blas_library(),
    }
    if device == 'cuda':
        out['cuda'] = torch.version.cuda
        out['tf32'] = {'matmul': torch.backends.cuda.matmul.allow_tf32, 'cudnn': torch.backends.cudnn.allow_tf32}
    out['cases'] = [case(c, device, budget) for c in spec['cases']]
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
