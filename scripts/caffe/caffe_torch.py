"""A PyTorch module computing what Caffe computes for the fixture networks (float32):
F.conv2d, Caffe's pooling output size (ceil mode with Caffe's clipping; checked against
torch's ceil_mode), F.linear on the flattened blob, ReLU/TanH, Softmax over the axis, and
dropout as identity (TEST phase), as a multiply by a given 0/scale mask, or as torch's own
F.dropout (MC)."""
import math

import numpy as np
import torch
import torch.nn.functional as F

from caffe_numpy import conv_geom, pool_geom

V1_TYPES = {'CONVOLUTION': 'Convolution', 'RELU': 'ReLU', 'POOLING': 'Pooling', 'DROPOUT': 'Dropout',
            'INNER_PRODUCT': 'InnerProduct', 'SOFTMAX': 'Softmax', 'TANH': 'TanH'}


def layers_of(net, pb):
    """[(name, type, layer message)] of a NetParameter, modern `layer` or V1 `layers`."""
    if len(net.layers):
        enum = pb.V1LayerParameter.LayerType
        return [(L.name, V1_TYPES[enum.Name(L.type)], L) for L in net.layers]
    return [(L.name, L.type, L) for L in net.layer]


def legacy_inputs(net):
    """{name: dims} from `input` + `input_dim` (4 per input) or `input_shape`."""
    out = {}
    for i, name in enumerate(net.input):
        if len(net.input_shape):
            out[name] = list(net.input_shape[i].dim)
        else:
            out[name] = list(net.input_dim[4 * i:4 * i + 4])
    return out


def weight_shapes(net, pb, in_dims):
    """{layer: [blob shapes]} in Caffe's layout, by running the shapes through the net."""
    shapes = dict(in_dims)
    out = {}
    for name, t, L in layers_of(net, pb):
        x = shapes[L.bottom[0]] if len(L.bottom) else None
        if t == 'Convolution':
            cp = L.convolution_param
            kh, kw, sh, sw, ph, pw, dh, dw = conv_geom(cp)
            n, c, h, w = x
            out[name] = [[cp.num_output, c // cp.group, kh, kw]] + ([[cp.num_output]] if cp.bias_term else [])
            y = [n, cp.num_output, (h + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1, (w + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1]
        elif t == 'InnerProduct':
            ip = L.inner_product_param
            ax = ip.axis % len(x)
            K = int(np.prod(x[ax:]))
            out[name] = [[K, ip.num_output] if ip.transpose else [ip.num_output, K]] + ([[ip.num_output]] if ip.bias_term else [])
            y = list(x[:ax]) + [ip.num_output]
        elif t == 'Pooling':
            _, _, _, _, _, _, oh, ow = pool_geom(L.pooling_param, x[2], x[3])
            y = [x[0], x[1], oh, ow]
        else:
            y = list(x)
        for tp in L.top:
            shapes[tp] = y
    return out, shapes


class CaffeNet(torch.nn.Module):
    def __init__(self, net, pb, weights):
        super().__init__()
        self.layers = layers_of(net, pb)
        self.w = {k: [torch.from_numpy(np.asarray(a, dtype=np.float32).copy()) for a in v] for k, v in weights.items()}

    def sites(self):
        return [(name, L) for name, t, L in self.layers if t == 'Dropout']

    def forward(self, inputs, dropout='identity', masks=None):
        """dropout: 'identity' (TEST phase), 'masks' (masks[site]: float32 [rows, perRow] of 0/scale),
        'torch' (F.dropout, training=True). Returns (blobs, output blob names)."""
        B = dict(inputs)
        live = list(inputs)
        for name, t, L in self.layers:
            x = B[L.bottom[0]]
            for b in L.bottom:
                if b in live:
                    live.remove(b)
            if t == 'Convolution':
                cp = L.convolution_param
                kh, kw, sh, sw, ph, pw, dh, dw = conv_geom(cp)
                W = self.w[name]
                y = F.conv2d(x, W[0], W[1] if cp.bias_term else None, stride=(sh, sw), padding=(ph, pw),
                             dilation=(dh, dw), groups=cp.group)
            elif t == 'InnerProduct':
                ip = L.inner_product_param
                ax = ip.axis % x.dim()
                W = self.w[name]
                Wm = W[0].reshape(W[0].shape[-2], W[0].shape[-1])
                x2 = x.reshape(int(np.prod(x.shape[:ax])), -1)
                y = F.linear(x2, Wm.t() if ip.transpose else Wm, W[1].reshape(-1) if ip.bias_term else None)
                y = y.reshape(list(x.shape[:ax]) + [ip.num_output])
            elif t == 'Pooling':
                pp = L.pooling_param
                assert pp.pool == 0 and not pp.global_pooling
                kh, kw, sh, sw, ph, pw, oh, ow = pool_geom(pp, x.shape[2], x.shape[3])
                y = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), ceil_mode=True)
                assert list(y.shape[2:]) == [oh, ow], 'torch ceil_mode differs from Caffe here'
            elif t == 'ReLU':
                s = float(np.float32(L.relu_param.negative_slope))
                y = F.relu(x) if s == 0 else F.leaky_relu(x, s)
            elif t == 'TanH':
                y = torch.tanh(x)
            elif t == 'Softmax':
                y = F.softmax(x, dim=L.softmax_param.axis % x.dim())
            elif t == 'Dropout':
                p = float(np.float32(L.dropout_param.dropout_ratio))
                if dropout == 'identity':
                    y = x
                elif dropout == 'masks':
                    y = x * masks[name].reshape(x.shape)
                else:
                    y = F.dropout(x, p, training=True)
            else:
                raise ValueError(f'layer type {t} not in the torch interpreter')
            B[L.top[0]] = y
            if L.top[0] not in live:
                live.append(L.top[0])
        return B, live


def v1_to_modern(net, pb):
    """The same net with `layer`s (string types), for caffe_numpy.forward."""
    out = pb.NetParameter()
    out.name = net.name
    for name, t, L in layers_of(net, pb):
        M = out.layer.add()
        M.name, M.type = name, t
        M.bottom.extend(L.bottom)
        M.top.extend(L.top)
        for f in ('convolution_param', 'pooling_param', 'inner_product_param', 'relu_param', 'dropout_param', 'softmax_param'):
            if L.HasField(f):
                getattr(M, f).CopyFrom(getattr(L, f))
    return out
