"""The per-layer cases (layers/cases.json): tiny prototxts, their caffemodels (Google protobuf),
inputs and numpy's answers (caffe_numpy.py, float64 then rounded to float32)."""
import os

import numpy as np

import caffe_common as C
from caffe_common import F32Scalar, dumps, tensor
import caffe_numpy as N


def q(rng, shape, lo=-1.0, hi=1.0, step=1 / 64):
    """Values on a 1/64 grid in [lo, hi): exact in float32, sums stay nearly exact."""
    k = rng.integers(int(round(lo / step)), int(round(hi / step)), size=shape)
    return (k * step).astype(np.float32)


def inp(name, *dims):
    return f'input: "{name}"\ninput_shape {{\n' + ''.join(f'  dim: {d}\n' for d in dims) + '}\n'


def net(name, inputs, layers):
    return f'name: "{name}"\n' + ''.join(inputs) + layers


def L(name, typ, bottoms, tops, body=''):
    s = f'layer {{\n  name: "{name}"\n  type: "{typ}"\n'
    s += ''.join(f'  bottom: "{b}"\n' for b in bottoms)
    s += ''.join(f'  top: "{t}"\n' for t in tops)
    if body:
        s += ''.join(f'  {line}\n' for line in body.strip('\n').split('\n'))
    return s + '}\n'


def cases():
    """[(name, checks, prototxt, input dims {name: dims}, weights(rng) -> {layer: [arrays]}, extras)]"""
    out = []

    def add(name, checks, proto, ins, weights=None, **kw):
        out.append(dict(name=name, checks=checks, prototxt=proto, ins=ins, weights=weights or (lambda r: {}), **kw))

    def one(name, checks, dims, typ, body='', weights=None, top='y', inplace=False):
        t = 'data' if inplace else top
        add(name, checks, net(name, [inp('data', *dims)], L(name.split('_')[0], typ, ['data'], [t], body)),
            {'data': dims}, weights)

    add('conv_basic', 'Convolution: 4 outputs, 3x3 kernel, bias; weight [4, 3, 3, 3]',
        net('conv_basic', [inp('data', 2, 3, 6, 6)],
            L('conv', 'Convolution', ['data'], ['y'], 'convolution_param {\n  num_output: 4\n  kernel_size: 3\n}')),
        {'data': [2, 3, 6, 6]}, lambda r: {'conv': [q(r, (4, 3, 3, 3)), q(r, (4,))]})
    add('conv_rect_stride_pad_dilation',
        'Convolution: kernel_h 3 / kernel_w 2, stride_h 2 / stride_w 1, pad_h 1 / pad_w 0, dilation 2, bias_term false: [2,2,8,7] -> [2,3,3,5]',
        net('conv_rect', [inp('data', 2, 2, 8, 7)],
            L('conv', 'Convolution', ['data'], ['y'],
              'convolution_param {\n  num_output: 3\n  bias_term: false\n  kernel_h: 3\n  kernel_w: 2\n  stride_h: 2\n  stride_w: 1\n'
              '  pad_h: 1\n  pad_w: 0\n  dilation: 2\n}')),
        {'data': [2, 2, 8, 7]}, lambda r: {'conv': [q(r, (3, 2, 3, 2))]})
    add('conv_group', 'Convolution: group 2, pad 1, 3x3, 4 -> 4 channels; weight [4, 2, 3, 3]',
        net('conv_group', [inp('data', 2, 4, 5, 5)],
            L('conv', 'Convolution', ['data'], ['y'], 'convolution_param {\n  num_output: 4\n  group: 2\n  pad: 1\n  kernel_size: 3\n}')),
        {'data': [2, 4, 5, 5]}, lambda r: {'conv': [q(r, (4, 2, 3, 3)), q(r, (4,))]})
    add('ip_axis1_4d', 'InnerProduct axis 1 on a 4-D blob: [2,3,2,2] flattened to [2,12] -> [2,5]; weight [5, 12]',
        net('ip_axis1', [inp('data', 2, 3, 2, 2)], L('ip', 'InnerProduct', ['data'], ['y'], 'inner_product_param {\n  num_output: 5\n}')),
        {'data': [2, 3, 2, 2]}, lambda r: {'ip': [q(r, (5, 12)), q(r, (5,))]})
    add('ip_axis2', 'InnerProduct axis 2 on [2,3,5] -> [2,3,4]; weight [4, 5]',
        net('ip_axis2', [inp('data', 2, 3, 5)], L('ip', 'InnerProduct', ['data'], ['y'], 'inner_product_param {\n  num_output: 4\n  axis: 2\n}')),
        {'data': [2, 3, 5]}, lambda r: {'ip': [q(r, (4, 5)), q(r, (4,))]})
    add('ip_transpose', 'InnerProduct transpose: true: weight stored [K=6, N=3], y = x W + b',
        net('ip_transpose', [inp('data', 2, 6)], L('ip', 'InnerProduct', ['data'], ['y'], 'inner_product_param {\n  num_output: 3\n  transpose: true\n}')),
        {'data': [2, 6]}, lambda r: {'ip': [q(r, (6, 3)), q(r, (3,))]})

    def pool(name, checks, dims, body):
        add(name, checks, net(name, [inp('data', *dims)], L('pool', 'Pooling', ['data'], ['y'], 'pooling_param {\n' + body + '}')),
            {'data': dims})
    pool('pool_max_ceil', 'Pooling MAX 8x8, kernel 3, stride 2: Caffe rounds up -> 4x4 (floor would give 3x3); the last window is clipped',
         [2, 2, 8, 8], '  pool: MAX\n  kernel_size: 3\n  stride: 2\n')
    pool('pool_max_pad_clip', "Pooling MAX 5x5, pad 1, kernel 2, stride 2 -> 3x3: ceil gives 4, Caffe drops the window that starts in the padding",
         [2, 2, 5, 5], '  pool: MAX\n  kernel_size: 2\n  stride: 2\n  pad: 1\n')
    pool('pool_ave_pad', 'Pooling AVE 6x6, pad 1, kernel 3, stride 2 -> 4x4: the divisor counts padded cells but not the overhang past the padding (last window: 2 rows)',
         [2, 2, 6, 6], '  pool: AVE\n  kernel_size: 3\n  stride: 2\n  pad: 1\n')
    pool('pool_ave_overhang', 'Pooling AVE 8x8, kernel 3, stride 2, no pad -> 4x4: the last window overhangs, its divisor is the clipped size (2x3, 3x2, 2x2)',
         [2, 2, 8, 8], '  pool: AVE\n  kernel_size: 3\n  stride: 2\n')
    pool('pool_global_max', 'Pooling MAX global_pooling on [2,3,5,4] -> [2,3,1,1]', [2, 3, 5, 4], '  pool: MAX\n  global_pooling: true\n')
    pool('pool_global_ave', 'Pooling AVE global_pooling on [2,3,5,4] -> [2,3,1,1]', [2, 3, 5, 4], '  pool: AVE\n  global_pooling: true\n')

    one('relu_leaky_inplace', 'ReLU negative_slope 0.1, in place (top == bottom == "data": the output blob is "data")',
        [2, 3, 4, 4], 'ReLU', 'relu_param {\n  negative_slope: 0.1\n}', inplace=True)
    one('tanh', 'TanH', [2, 3, 4, 4], 'TanH')
    one('sigmoid', 'Sigmoid', [2, 3, 4, 4], 'Sigmoid')
    one('absval', 'AbsVal', [2, 3, 4, 4], 'AbsVal')
    one('elu', 'ELU alpha 0.5: x > 0 ? x : 0.5 (exp(x) - 1)', [2, 3, 4, 4], 'ELU', 'elu_param {\n  alpha: 0.5\n}')
    one('prelu_channel', 'PReLU channel_shared false: slope blob [3], one per channel', [2, 3, 4, 4], 'PReLU', '',
        lambda r: {'prelu': [q(r, (3,), 0.0, 0.5)]})
    one('prelu_shared', 'PReLU channel_shared true: slope blob [1]', [2, 3, 4, 4], 'PReLU', 'prelu_param {\n  channel_shared: true\n}',
        lambda r: {'prelu': [q(r, (1,), 0.0, 0.5)]})
    one('power', 'Power: (shift + scale x)^power, power 2, scale 0.5, shift 1', [2, 3, 4, 4], 'Power',
        'power_param {\n  power: 2\n  scale: 0.5\n  shift: 1\n}')
    one('exp_base2', 'Exp: base^(shift + scale x), base 2, scale 0.5, shift 0.1', [2, 3, 4, 4], 'Exp',
        'exp_param {\n  base: 2\n  scale: 0.5\n  shift: 0.1\n}')
    one('exp_default', 'Exp with the default base (-1 = e), scale 1, shift 0', [2, 3, 4, 4], 'Exp')
    one('log_base10', 'Log: log_base(shift + scale x), base 10, scale 2, shift 3 (inputs in [-1, 1))', [2, 3, 4, 4], 'Log',
        'log_param {\n  base: 10\n  scale: 2\n  shift: 3\n}')
    one('softmax_axis1', 'Softmax over axis 1 (default) on [2,3,2,2]', [2, 3, 2, 2], 'Softmax')
    one('softmax_axis2', 'Softmax over axis 2 on [2,3,2,2]', [2, 3, 2, 2], 'Softmax', 'softmax_param {\n  axis: 2\n}')
    one('lrn_across', 'LRN ACROSS_CHANNELS local_size 3, alpha 0.5, beta 0.75, k 2: x (k + alpha/3 sum_{c-1..c+1} x^2)^-beta',
        [2, 4, 3, 3], 'LRN', 'lrn_param {\n  local_size: 3\n  alpha: 0.5\n  beta: 0.75\n  k: 2\n}')
    one('lrn_within', 'LRN WITHIN_CHANNEL local_size 3, alpha 0.5, beta 0.75: x (1 + alpha/9 sum_{3x3, zero-padded} x^2)^-beta (k unused)',
        [2, 2, 5, 5], 'LRN', 'lrn_param {\n  local_size: 3\n  alpha: 0.5\n  beta: 0.75\n  norm_region: WITHIN_CHANNEL\n}')

    add('concat_axis1', 'Concat axis 1 of two branches (AbsVal and TanH of the same blob) -> [2,4,3,3]',
        net('concat', [inp('data', 2, 2, 3, 3)],
            L('abs', 'AbsVal', ['data'], ['a']) + L('tanh', 'TanH', ['data'], ['t']) +
            L('concat', 'Concat', ['a', 't'], ['y'], 'concat_param {\n  axis: 1\n}')),
        {'data': [2, 2, 3, 3]})
    add('slice_axis1', 'Slice axis 1, slice_point [1, 3], 3 tops: [2,4,3,3] -> [2,1,..], [2,2,..], [2,1,..]',
        net('slice', [inp('data', 2, 4, 3, 3)],
            L('slice', 'Slice', ['data'], ['s0', 's1', 's2'], 'slice_param {\n  axis: 1\n  slice_point: 1\n  slice_point: 3\n}')),
        {'data': [2, 4, 3, 3]})
    add('split_explicit', 'An explicit Split layer (tops d1, d2), then TanH(d1) + d2',
        net('split', [inp('data', 2, 3, 4)],
            L('split', 'Split', ['data'], ['d1', 'd2']) + L('tanh', 'TanH', ['d1'], ['t']) +
            L('sum', 'Eltwise', ['t', 'd2'], ['y'])),
        {'data': [2, 3, 4]})
    add('blob_reuse_implicit', 'Implicit blob reuse: "c" (a 1x1 Convolution) is read by ReLU and TanH (Caffe inserts a Split), then summed',
        net('reuse', [inp('data', 2, 2, 4, 4)],
            L('conv', 'Convolution', ['data'], ['c'], 'convolution_param {\n  num_output: 2\n  kernel_size: 1\n}') +
            L('relu', 'ReLU', ['c'], ['r']) + L('tanh', 'TanH', ['c'], ['t']) + L('sum', 'Eltwise', ['r', 't'], ['y'])),
        {'data': [2, 2, 4, 4]}, lambda r: {'conv': [q(r, (2, 2, 1, 1)), q(r, (2,))]})

    def elt(name, checks, body):
        add(name, checks, net(name, [inp('a', 2, 3, 4), inp('b', 2, 3, 4)],
                              L('eltwise', 'Eltwise', ['a', 'b'], ['y'], 'eltwise_param {\n' + body + '}')),
            {'a': [2, 3, 4], 'b': [2, 3, 4]})
    elt('eltwise_sum_coeff', 'Eltwise SUM with coeff [1, -0.5]: a - 0.5 b', '  operation: SUM\n  coeff: 1\n  coeff: -0.5\n')
    elt('eltwise_prod', 'Eltwise PROD', '  operation: PROD\n')
    elt('eltwise_max', 'Eltwise MAX', '  operation: MAX\n')

    one('flatten_axis1_end2', 'Flatten axis 1, end_axis 2: [2,2,3,4] -> [2,6,4]', [2, 2, 3, 4], 'Flatten',
        'flatten_param {\n  axis: 1\n  end_axis: 2\n}')
    one('reshape_0_m1_2', 'Reshape shape { dim: 0 dim: -1 dim: 2 }: [2,2,3,2] -> [2,6,2] (0 copies, -1 infers)', [2, 2, 3, 2], 'Reshape',
        'reshape_param {\n  shape {\n    dim: 0\n    dim: -1\n    dim: 2\n  }\n}')

    def bn_weights(r):
        mean = q(r, (3,), -0.5, 0.5)
        var = q(r, (3,), 0.25, 2.0)
        return {'bn': [mean * np.float32(4), var * np.float32(4), np.array([4.0], np.float32)],
                'scale': [q(r, (3,), 0.5, 1.5), q(r, (3,), -0.5, 0.5)]}
    add('batchnorm_scale', 'BatchNorm use_global_stats true, eps 1e-3, blobs [4 mean], [4 var], [4.0] (divide by the scale factor), then Scale with bias_term ([3], [3])',
        net('bn', [inp('data', 2, 3, 4, 4)],
            L('bn', 'BatchNorm', ['data'], ['n'], 'batch_norm_param {\n  use_global_stats: true\n  eps: 0.001\n}') +
            L('scale', 'Scale', ['n'], ['y'], 'scale_param {\n  bias_term: true\n}')),
        {'data': [2, 3, 4, 4]}, bn_weights)
    add('input_layer_two', 'An Input layer with two tops (input_param with two shapes), then Eltwise SUM of them',
        net('input_layer', [],
            L('input', 'Input', [], ['a', 'b'],
              'input_param {\n  shape {\n    dim: 2\n    dim: 3\n  }\n  shape {\n    dim: 2\n    dim: 3\n  }\n}') +
            L('sum', 'Eltwise', ['a', 'b'], ['y'])),
        {'a': [2, 3], 'b': [2, 3]})
    add('dropout_bvlc', 'Dropout (BVLC) ratio 0.25: TEST phase identity; the exact record multiplies by a 0 / float32(1/(1-p)) mask',
        net('dropout', [inp('data', 2, 3, 4, 4)], L('drop', 'Dropout', ['data'], ['y'], 'dropout_param {\n  dropout_ratio: 0.25\n}')),
        {'data': [2, 3, 4, 4]}, dropout=True)
    add('dropout_scale_train_false',
        'Dropout with the fork field scale_train: false, ratio 0.25, after an InnerProduct: TEST phase output x (1 - p); '
        'the exact (TRAIN) record multiplies by a {0, 1} mask (no rescaling). The caffemodel was encoded from the prototxt without scale_train '
        '(not in caffe.proto): layer params come from the prototxt, blobs from the caffemodel',
        net('dropout_scale_train', [inp('data', 2, 6)],
            L('ip', 'InnerProduct', ['data'], ['h'], 'inner_product_param {\n  num_output: 8\n}') +
            L('drop', 'Dropout', ['h'], ['y'], 'dropout_param {\n  dropout_ratio: 0.25\n  scale_train: false\n}')),
        {'data': [2, 6]}, lambda r: {'ip': [q(r, (8, 6)), q(r, (8,))]}, dropout=True, scale_train=False)
    return out


def input_values(case, name, dims, rng):
    if case['name'] == 'log_base10':
        return q(rng, dims, -1.0, 1.0)
    return q(rng, dims, -2.0, 2.0)


def caffemodel(netp, pb, weights):
    """What Net::ToProto writes for this net: name and every layer (its params, blobs as shape + data);
    the legacy input fields are not written by the current Caffe."""
    cm = pb.NetParameter()
    cm.name = netp.name
    for L in netp.layer:
        L2 = cm.layer.add()
        L2.CopyFrom(L)
        for arr in weights.get(L.name, []):
            bp = L2.blobs.add()
            bp.shape.dim.extend(int(d) for d in arr.shape)
            bp.data.extend(arr.reshape(-1).tolist())
    return cm.SerializeToString()


def build(out, pb, meta):
    parse_prototxt = C.parse_prototxt
    docs = []
    for case in cases():
        name = case['name']
        rng = np.random.default_rng(C.seed_for('mcu-caffe-layer', name))
        netp = parse_prototxt(case['prototxt'], pb)  # drops scale_train (not in caffe.proto)
        inputs = {k: input_values(case, k, d, rng) for k, d in case['ins'].items()}
        weights = case['weights'](rng)
        cm = caffemodel(netp, pb, weights) if weights else None
        B, live = N.forward(netp, weights, inputs, scale_train={L.name: False for L in netp.layer} if case.get('scale_train') is False else None)
        doc = {'name': name, 'checks': case['checks'], 'prototxt': case['prototxt'],
               'caffemodel': None if cm is None else {'size': len(cm), 'sha256': C.sha256(cm), 'bytes': C.b64(cm)},
               'inputs': {k: tensor(v) for k, v in inputs.items()},
               'outputs': {k: tensor(B[k]) for k in live}}
        if case.get('dropout'):
            st = case.get('scale_train', True)
            drops = [L for L in netp.layer if L.type == 'Dropout']
            masks, packed = {}, []
            for L in drops:
                x = B[L.bottom[0]]
                p = float(np.float32(L.dropout_param.dropout_ratio))
                rows, per = x.shape[0], int(np.prod(x.shape[1:]))
                keep = rng.random((rows, per)) < 1.0 - p
                sc = C.keep_scale(p, st)
                masks[L.name] = np.where(keep, float(sc), 0.0)
                packed.append(dict(site=L.name, **C.pack_mask(keep, p, sc)))
            Bm, live2 = N.forward(netp, weights, inputs, dropout_masks=masks,
                                  scale_train={L.name: st for L in drops})
            doc['sites'] = [{'name': L.name, 'p': F32Scalar(float(np.float32(L.dropout_param.dropout_ratio))),
                             'scale_train': st} for L in drops]
            doc['exact'] = [{'rows': list(range(2)), 'masks': packed, 'outputs': {k: tensor(Bm[k]) for k in live2}}]
        docs.append(doc)
    os.makedirs(os.path.join(out, 'layers'), exist_ok=True)
    path = os.path.join(out, 'layers', 'cases.json')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(dumps({'format': 1, 'how': 'numpy float64 implementations of the Caffe layers (scripts/caffe/caffe_numpy.py), rounded to float32',
                       'meta': meta, 'cases': docs}) + '\n')
    print(f'layers: {len(docs)} cases, {os.path.getsize(path)} B')
