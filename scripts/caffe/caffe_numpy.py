"""Caffe's layers written out in numpy (float64, explicit loops where PyTorch differs), for the
per-layer cases. Independent of caffe_torch.py. Semantics follow BVLC Caffe's
src/caffe/layers/*.cpp (commit 9b89154): the formulas are quoted next to each layer."""
import math

import numpy as np


def conv_geom(cp):
    """(kh, kw, sh, sw, ph, pw, dh, dw) of a ConvolutionParameter, as BaseConvolutionLayer::LayerSetUp."""
    if cp.HasField('kernel_h') or cp.HasField('kernel_w'):
        kh, kw = cp.kernel_h, cp.kernel_w
    else:
        ks = list(cp.kernel_size)
        kh, kw = (ks[0], ks[0]) if len(ks) == 1 else (ks[0], ks[1])
    if cp.HasField('stride_h') or cp.HasField('stride_w'):
        sh, sw = cp.stride_h, cp.stride_w
    else:
        st = list(cp.stride) or [1]
        sh, sw = (st[0], st[0]) if len(st) == 1 else (st[0], st[1])
    if cp.HasField('pad_h') or cp.HasField('pad_w'):
        ph, pw = cp.pad_h, cp.pad_w
    else:
        pd = list(cp.pad) or [0]
        ph, pw = (pd[0], pd[0]) if len(pd) == 1 else (pd[0], pd[1])
    dl = list(cp.dilation) or [1]
    dh, dw = (dl[0], dl[0]) if len(dl) == 1 else (dl[0], dl[1])
    return kh, kw, sh, sw, ph, pw, dh, dw


def pool_geom(pp, h, w):
    """PoolingLayer::LayerSetUp/Reshape: kernel, stride, pad, and the output size
    pooled = ceil((h + 2 pad - k) / stride) + 1, minus 1 when the last window starts in the padding
    ((pooled - 1) * stride >= h + pad), with round_mode FLOOR using floor."""
    if pp.global_pooling:
        kh, kw, sh, sw, ph, pw = h, w, 1, 1, 0, 0
    else:
        if pp.HasField('kernel_h') or pp.HasField('kernel_w'):
            kh, kw = pp.kernel_h, pp.kernel_w
        else:
            kh = kw = pp.kernel_size
        if pp.HasField('stride_h') or pp.HasField('stride_w'):
            sh, sw = pp.stride_h, pp.stride_w
        else:
            sh = sw = pp.stride
        if pp.HasField('pad_h') or pp.HasField('pad_w'):
            ph, pw = pp.pad_h, pp.pad_w
        else:
            ph = pw = pp.pad
    rnd = math.floor if pp.round_mode == 1 else math.ceil
    oh = int(rnd((h + 2 * ph - kh) / sh)) + 1
    ow = int(rnd((w + 2 * pw - kw) / sw)) + 1
    if ph or pw:
        if (oh - 1) * sh >= h + ph:
            oh -= 1
        if (ow - 1) * sw >= w + pw:
            ow -= 1
    return kh, kw, sh, sw, ph, pw, oh, ow


def pooling(x, pp):
    n, c, h, w = x.shape
    kh, kw, sh, sw, ph, pw, oh, ow = pool_geom(pp, h, w)
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            if pp.pool == 0:  # MAX: window clipped to the image
                hs, ws = i * sh - ph, j * sw - pw
                he, we = min(hs + kh, h), min(ws + kw, w)
                hs, ws = max(hs, 0), max(ws, 0)
                y[:, :, i, j] = x[:, :, hs:he, ws:we].max(axis=(2, 3))
            elif pp.pool == 1:  # AVE: divisor counts the padding, not the overhang past it
                hs, ws = i * sh - ph, j * sw - pw
                he, we = min(hs + kh, h + ph), min(ws + kw, w + pw)
                size = (he - hs) * (we - ws)
                hs, ws = max(hs, 0), max(ws, 0)
                he, we = min(he, h), min(we, w)
                y[:, :, i, j] = x[:, :, hs:he, ws:we].sum(axis=(2, 3)) / size
            else:
                raise ValueError('STOCHASTIC pooling is random')
    return y


def convolution(x, W, b, cp):
    kh, kw, sh, sw, ph, pw, dh, dw = conv_geom(cp)
    n, c, h, w = x.shape
    g = cp.group
    co = W.shape[0]
    cig, cog = c // g, co // g
    oh = (h + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    ow = (w + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + w] = x
    y = np.zeros((n, co, oh, ow))
    for gi in range(g):
        Wg = W[gi * cog:(gi + 1) * cog]  # [cog, cig, kh, kw]
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, gi * cig:(gi + 1) * cig,
                           i * sh:i * sh + dh * (kh - 1) + 1:dh,
                           j * sw:j * sw + dw * (kw - 1) + 1:dw]  # [n, cig, kh, kw]
                y[:, gi * cog:(gi + 1) * cog, i, j] = np.einsum('nckl,ockl->no', patch, Wg)
    if b is not None:
        y += b.reshape(1, co, 1, 1)
    return y


def inner_product(x, W, b, ip):
    axis = ip.axis % x.ndim
    M = int(np.prod(x.shape[:axis]))
    K = int(np.prod(x.shape[axis:]))
    x2 = x.reshape(M, K)
    y = x2 @ W if ip.transpose else x2 @ W.T  # W: [K, N] when transposed, else [N, K]
    if b is not None:
        y = y + b.reshape(1, -1)
    return y.reshape(tuple(x.shape[:axis]) + (ip.num_output,))


def softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=axis, keepdims=True)


def lrn(x, lp):
    n, c, h, w = x.shape
    size, alpha, beta, k = lp.local_size, float(np.float32(lp.alpha)), float(np.float32(lp.beta)), float(np.float32(lp.k))
    pre = (size - 1) // 2
    if lp.norm_region == 0:  # ACROSS_CHANNELS: scale = k + alpha/size * sum_{c-pre..c+pre} x^2
        sq = x * x
        scale = np.zeros_like(x)
        for ch in range(c):
            lo, hi = max(0, ch - pre), min(c, ch - pre + size)
            scale[:, ch] = k + alpha / size * sq[:, lo:hi].sum(axis=1)
        return x * scale ** (-beta)
    # WITHIN_CHANNEL: x * (1 + alpha * AVE-pool(x^2, size, pad pre, stride 1)) ^ -beta (k unused);
    # Caffe builds it from Power, Pooling (AVE, so the divisor is size^2 with the padding counted)
    # and Eltwise PROD layers.
    class PP:
        global_pooling = False
        kernel_size = size
        stride = 1
        pad = pre
        pool = 1
        round_mode = 0

        def HasField(self, f):
            return False
    avg = pooling(x * x, PP())
    return x * (1.0 + alpha * avg) ** (-beta)


def f(v):
    return float(np.float32(v))


def forward(net, blobs_of, inputs, dropout_masks=None, scale_train=None):
    """Run a NetParameter (modern `layer`s) in float64. blobs_of: {layer: [np arrays]}.
    dropout_masks: {layer: float mask of the bottom's shape (0 / scale)} or None for TEST phase.
    scale_train: {layer: bool} for the fork field. Returns ({blob: array}, output blob names)."""
    B = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    live = list(inputs)
    for L in net.layer:
        t = L.type
        xs = [B[b] for b in L.bottom]
        for b in L.bottom:
            if b in live:
                live.remove(b)
        P = [np.asarray(a, dtype=np.float64) for a in blobs_of.get(L.name, [])]
        x = xs[0] if xs else None
        if t == 'Input':
            continue
        elif t == 'Convolution':
            ys = [convolution(x, P[0], P[1] if L.convolution_param.bias_term else None, L.convolution_param)]
        elif t == 'InnerProduct':
            ip = L.inner_product_param
            ys = [inner_product(x, P[0], P[1] if ip.bias_term else None, ip)]
        elif t == 'Pooling':
            ys = [pooling(x, L.pooling_param)]
        elif t == 'ReLU':
            s = f(L.relu_param.negative_slope)
            ys = [np.maximum(x, 0) + s * np.minimum(x, 0)]
        elif t == 'TanH':
            ys = [np.tanh(x)]
        elif t == 'Sigmoid':
            ys = [1.0 / (1.0 + np.exp(-x))]
        elif t == 'AbsVal':
            ys = [np.abs(x)]
        elif t == 'ELU':
            a = f(L.elu_param.alpha)
            ys = [np.where(x > 0, x, a * (np.exp(np.minimum(x, 0)) - 1))]
        elif t == 'PReLU':
            a = P[0]
            a = a.reshape(1, -1, *([1] * (x.ndim - 2))) if a.size > 1 or not L.prelu_param.channel_shared else a.reshape(())
            ys = [np.maximum(x, 0) + a * np.minimum(x, 0)]
        elif t == 'Power':
            pp = L.power_param
            ys = [(f(pp.shift) + f(pp.scale) * x) ** f(pp.power)]
        elif t == 'Exp':
            ep = L.exp_param
            base = math.e if ep.base == -1 else f(ep.base)
            ys = [np.exp(math.log(base) * (f(ep.shift) + f(ep.scale) * x))]
        elif t == 'Log':
            lp = L.log_param
            base = math.e if lp.base == -1 else f(lp.base)
            ys = [np.log(f(lp.shift) + f(lp.scale) * x) / math.log(base)]
        elif t == 'Softmax':
            ys = [softmax(x, L.softmax_param.axis % x.ndim)]
        elif t == 'LRN':
            ys = [lrn(x, L.lrn_param)]
        elif t == 'Concat':
            ys = [np.concatenate(xs, axis=L.concat_param.axis % x.ndim)]
        elif t == 'Slice':
            ax = L.slice_param.axis % x.ndim
            ys = np.split(x, list(L.slice_param.slice_point), axis=ax)
        elif t == 'Split':
            ys = [x.copy() for _ in L.top]
        elif t == 'Eltwise':
            ep = L.eltwise_param
            if ep.operation == 1:
                co = list(ep.coeff) or [1.0] * len(xs)
                ys = [sum(f(c) * v for c, v in zip(co, xs))]
            elif ep.operation == 0:
                y = xs[0].copy()
                for v in xs[1:]:
                    y = y * v
                ys = [y]
            else:
                y = xs[0].copy()
                for v in xs[1:]:
                    y = np.maximum(y, v)
                ys = [y]
        elif t == 'Flatten':
            fp = L.flatten_param
            a, e = fp.axis % x.ndim, fp.end_axis % x.ndim
            ys = [x.reshape(x.shape[:a] + (int(np.prod(x.shape[a:e + 1])),) + x.shape[e + 1:])]
        elif t == 'Reshape':
            rp = L.reshape_param
            assert rp.axis == 0 and rp.num_axes == -1
            dims = list(rp.shape.dim)
            out = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
            if -1 in out:
                k = out.index(-1)
                out[k] = x.size // int(np.prod([d for d in out if d != -1]))
            ys = [x.reshape(out)]
        elif t == 'BatchNorm':
            bp = L.batch_norm_param
            assert bp.use_global_stats
            s = P[2].reshape(-1)[0]
            sf = 0.0 if s == 0 else 1.0 / s
            mean, var = P[0] * sf, P[1] * sf
            sh = (1, -1) + (1,) * (x.ndim - 2)
            ys = [(x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + f(bp.eps))]
        elif t == 'Scale':
            sp = L.scale_param
            assert sp.axis == 1 and sp.num_axes == 1 and len(xs) == 1
            sh = (1, -1) + (1,) * (x.ndim - 2)
            y = x * P[0].reshape(sh)
            if sp.bias_term:
                y = y + P[1].reshape(sh)
            ys = [y]
        elif t == 'Dropout':
            p = f(L.dropout_param.dropout_ratio)
            st = True if scale_train is None else scale_train.get(L.name, True)
            if dropout_masks is not None and L.name in dropout_masks:
                ys = [x * dropout_masks[L.name].reshape(x.shape)]
            else:  # TEST phase: identity (BVLC), x * (1 - p) for the fork's scale_train: false
                ys = [x.copy() if st else x * (1.0 - p)]
        else:
            raise ValueError(f'no numpy reference for layer type {t}')
        assert len(ys) == len(L.top), (L.name, len(ys), len(L.top))
        for name, y in zip(L.top, ys):
            B[name] = y
            if name not in live:
                live.append(name)
    return B, live
