// Where static inference cannot place the rows in a site tensor, the backend measures them by
// running the model as it is on 1 and 2 synthetic rows (graph/probe.ts), then rewrites.
import { describe, expect, test } from 'vitest';
import type { McuError } from '@mcu/core';
import { OnnxNodeBackend } from '../src/backend.js';
import { prepareModel } from '../src/graph/prepare.js';
import { NeedsSiteShapes } from '../src/graph/sites.js';
import type { ModelProto } from '../src/proto/types.js';
import { f32, i64 } from './builders.js';

/**
 * x [N, 6] → Tile by a count computed at run time (a ReduceMax over a constant table that
 * inference does not evaluate) → h [N, 6·k] → Dropout → y. Static shapes cannot tell k.
 */
function opaque(): ModelProto {
  return {
    ir_version: 8n,
    opset_import: [{ domain: '', version: 13n }],
    graph: {
      name: 'g',
      node: [
        { op_type: 'TopK', input: ['table', 'one'], output: ['kmax', 'kidx'], attribute: [{ name: 'axis', type: 2, i: 0n }] },
        { op_type: 'Concat', input: ['one', 'kmax'], output: ['reps'], attribute: [{ name: 'axis', type: 2, i: 0n }] },
        { op_type: 'Tile', input: ['x', 'reps'], output: ['h'] },
        { op_type: 'Constant', output: ['r'], attribute: [{ name: 'value', type: 4, t: f32('', [], [0.5]) }] },
        { op_type: 'Dropout', input: ['h', 'r'], output: ['d'], name: 'drop' },
        { op_type: 'ReduceSum', input: ['d', 'ax'], output: ['y'], attribute: [{ name: 'keepdims', type: 2, i: 0n }] },
      ],
      initializer: [i64('table', [2, 3, 1]), i64('one', [1]), i64('ax', [1])],
      input: [{ name: 'x', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'N' }, { dim_value: 6n }] } } } }],
      output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
    },
  };
}

describe('site shapes measured by running the model', () => {
  test('static inference alone asks for a measurement, naming the tensor', () => {
    let err: unknown;
    try {
      prepareModel(opaque());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NeedsSiteShapes);
    expect((err as McuError).message).toMatch(/'h' \(input of Dropout 'drop'/);
  });

  test('the backend measures [N, 18] and rewrites; the masks have the measured per-row shape', async () => {
    const b = new OnnxNodeBackend();
    const p = await b.prepare(opaque());
    expect(p.sites.map((s) => [...s.maskShape])).toEqual([[18]]);
    expect(p.changes.join('\n')).toMatch(/measured by running the model on 1 and 2 synthetic rows: 'h' \[2, 18\]/);
    const model = await b.load({ kind: 'object', value: opaque() });
    const x = { x: { dtype: 'float32' as const, data: Float32Array.from({ length: 12 }, (_, i) => i), dims: [2, 6] } };
    const mask = Float32Array.from({ length: 3 * 2 * 18 }, (_, i) => (i % 2) * 2);
    const out = await model.run(x, { [model.sites[0]!.name]: { dtype: 'float32', data: mask, dims: [3, 2, 18] } }, { samples: 3, scope: 'point' });
    // each row's 18 values are its 6 features tiled 3 times; the mask keeps odd positions ×2
    const want: number[] = [];
    for (let t = 0; t < 3; t++)
      for (let i = 0; i < 2; i++) {
        let s = 0;
        for (let j = 0; j < 18; j++) s += (i * 6 + (j % 6)) * (j % 2) * 2;
        want.push(s);
      }
    expect(Array.from(out.y!.data as Float32Array)).toEqual(want);
    await model.dispose();
  });
});
