import { describe, expect, it } from 'vitest';
import { ACTIONS, DEMO_WORLD, NUM_ACTIONS, Prng, SENSED, World } from '../src/index.js';

// Observation layout: 3 numbers per eye, [wall, red, green]; 1 = nothing of that kind seen.
const slot = (eye: number, type: number) => 3 * eye + type;
const RANGE = DEMO_WORLD.eyeRange;

/** A world at a given pose with given items (no randomness involved after reset). */
function placed(pose: { x: number; y: number; angle: number }, items: { x: number; y: number; type: 1 | 2 }[] = [], options = {}) {
  const w = new World(options);
  w.reset(1);
  w.setItems(items);
  return { w, obs: w.setAgent(pose) };
}

describe('World: the demo facts', () => {
  it('has the demo geometry: 700 × 500, 10 wall segments, 9 eyes at (k − 3)·0.25 rad, 5 wheel-speed actions, 30 items', () => {
    const w = new World();
    expect([w.width, w.height, w.walls.length, w.eyeAngles.length, NUM_ACTIONS, w.observationSize]).toEqual([700, 500, 10, 9, 5, 27]);
    expect(w.eyeAngles).toEqual([-0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect(ACTIONS).toEqual([
      [1, 1],
      [0.8, 1],
      [1, 0.8],
      [0.5, 0],
      [0, 0.5],
    ]);
    w.reset(3);
    expect(w.items.length).toBe(30);
    expect(w.agent).toEqual({ x: 50, y: 50, angle: 0 });
    for (const it of w.items) {
      expect(it.x).toBeGreaterThanOrEqual(20);
      expect(it.x).toBeLessThan(680);
      expect(it.y).toBeGreaterThanOrEqual(20);
      expect(it.y).toBeLessThan(480);
      expect([SENSED.red, SENSED.green]).toContain(it.type);
    }
  });
});

describe('World: sensing', () => {
  // (350, 40) heading 0 looks down the open corridor between the two inner boxes (+y).
  const pose = { x: 350, y: 40, angle: 0 };

  it('an item straight ahead is seen by the eye at angle 0 (eye 3 of the demo fan) at distance / range, and by no other eye', () => {
    const { obs, w } = placed(pose, [{ x: 350, y: 110, type: SENSED.red }]);
    expect(w.eyeAngles[3]).toBe(0);
    expect(obs[slot(3, SENSED.red)]).toBeCloseTo(70 / RANGE, 6);
    expect(obs[slot(3, SENSED.wall)]).toBe(1);
    expect(obs[slot(3, SENSED.green)]).toBe(1);
    expect(w.eyes[3]).toEqual({ type: SENSED.red, proximity: expect.closeTo(70, 6) });
    for (let e = 0; e < 9; e++) if (e !== 3) expect(obs[slot(e, SENSED.red)]).toBe(1);
  });

  it('the middle eye (eye 4, at +0.25 rad) sees a green item on its ray at the right proximity', () => {
    const d = 50;
    const item = { x: pose.x + d * Math.sin(0.25), y: pose.y + d * Math.cos(0.25), type: SENSED.green };
    const { obs } = placed(pose, [item]);
    expect(obs[slot(4, SENSED.green)]).toBeCloseTo(d / RANGE, 6);
    expect(obs[slot(4, SENSED.red)]).toBe(1);
    for (let e = 0; e < 9; e++) if (e !== 4) expect(obs[slot(e, SENSED.green)]).toBe(1);
  });

  it('an item beyond the eye range is not seen; the nearer of two items on a ray wins', () => {
    expect(placed(pose, [{ x: 350, y: 40 + RANGE + 5, type: SENSED.red }]).obs[slot(3, SENSED.red)]).toBe(1);
    const { obs } = placed(pose, [
      { x: 350, y: 100, type: SENSED.red },
      { x: 350, y: 80, type: SENSED.green },
    ]);
    expect(obs[slot(3, SENSED.green)]).toBeCloseTo(40 / RANGE, 6);
    expect(obs[slot(3, SENSED.red)]).toBe(1);
  });

  it('a wall straight ahead is seen at its distance; slanted eyes see it at distance / cos(angle) while within range', () => {
    // 40 px above the outer bottom wall (y = 490), heading +y.
    const { obs, w } = placed({ x: 350, y: 450, angle: 0 });
    expect(obs[slot(3, SENSED.wall)]).toBeCloseTo(40 / RANGE, 6);
    w.eyeAngles.forEach((e, i) => {
      const dist = 40 / Math.cos(e);
      expect(obs[slot(i, SENSED.wall)]).toBeCloseTo(dist < RANGE ? dist / RANGE : 1, 6);
      expect(w.eyes[i]!.type).toBe(dist < RANGE ? SENSED.wall : SENSED.nothing);
    });
  });

  it('turning changes what the eyes see: the heading is the angle of the eye fan', () => {
    // Facing −x (heading 3π/2) from (40, 250): the left outer wall (x = 10) is 30 px ahead.
    const { obs } = placed({ x: 40, y: 250, angle: (3 * Math.PI) / 2 });
    expect(obs[slot(3, SENSED.wall)]).toBeCloseTo(30 / RANGE, 6);
  });
});

describe('World: rewards', () => {
  const pose = { x: 350, y: 40, angle: 0 };

  it('eating a red item gives +5, a green one −6; the item disappears', () => {
    const red = placed(pose, [{ x: 350, y: 55, type: SENSED.red }]).w;
    const before = red.observation;
    const r = red.step(0);
    expect(r.digestionReward).toBe(5);
    expect(r.redEaten).toBe(1);
    expect(red.items.length).toBe(0);
    const proximity = Array.from({ length: 9 }, (_, e) => before[slot(e, SENSED.wall)]!).reduce((a, b) => a + b) / 9;
    expect(r.proximityReward).toBeCloseTo(proximity, 6);
    expect(r.reward).toBeCloseTo(r.proximityReward + r.forwardReward + 5, 9);

    const green = placed(pose, [{ x: 350, y: 55, type: SENSED.green }]).w;
    const g = green.step(3);
    expect([g.digestionReward, g.greenEaten, g.redEaten]).toEqual([-6, 1, 0]);
    expect(g.reward).toBeCloseTo(g.proximityReward + g.forwardReward - 6, 9);
  });

  it('an item behind a wall is not eaten', () => {
    // The inner box's top wall (y = 100, x 100…300) lies between (200, 92) and (200, 108).
    const { w } = placed({ x: 200, y: 92, angle: Math.PI }, [{ x: 200, y: 108, type: SENSED.red }]);
    expect(w.step(3).digestionReward).toBe(0);
    expect(w.items.length).toBe(1);
  });

  it('seeing walls up close costs: proximity reward = mean over eyes of (wall ? distance / range : 1), from the eyes before the move', () => {
    const near = placed({ x: 350, y: 475, angle: 0 }).w;
    const obs = near.observation;
    const expected = Array.from({ length: 9 }, (_, e) => obs[slot(e, SENSED.wall)]!).reduce((a, b) => a + b) / 9;
    const r = near.step(1);
    expect(r.proximityReward).toBeCloseTo(expected, 6);
    expect(r.proximityReward).toBeLessThan(0.6);
    // Far from every wall (no eye reaches one) the proximity reward is 1.
    const far = placed({ x: 350, y: 40, angle: 0 }, [], { innerWalls: false }).w;
    expect(far.step(1).proximityReward).toBe(1);
    // Karpathy's variant clips: min(1, 2·proximity).
    const clipped = placed({ x: 350, y: 475, angle: 0 }, [], { proximityReward: 'clipped' }).w;
    expect(clipped.step(1).proximityReward).toBeCloseTo(Math.min(1, 2 * expected), 6);
  });

  it('going straight (action 0) earns 0.1·proximity when proximity > 0.75; other actions and wall-facing states do not', () => {
    const { w } = placed(pose, [], { innerWalls: false });
    const straight = w.step(0);
    expect(straight.proximityReward).toBeGreaterThan(0.75);
    expect(straight.forwardReward).toBeCloseTo(0.1 * straight.proximityReward, 9);
    expect(straight.reward).toBeCloseTo(1.1, 9);
    expect(w.step(1).forwardReward).toBe(0);
    const wall = placed({ x: 350, y: 475, angle: 0 }).w.step(0);
    expect(wall.proximityReward).toBeLessThan(0.75);
    expect(wall.forwardReward).toBe(0);
  });
});

describe('World: motion', () => {
  it('straight on moves radius/2·sin(1) ≈ 4.21 px along the heading; (0.8, 1) turns by +0.2 rad, (0.5, 0) by −0.5', () => {
    const { w } = placed({ x: 350, y: 40, angle: 0 });
    w.step(0);
    expect(w.agent.x).toBeCloseTo(350, 9);
    expect(w.agent.y).toBeCloseTo(40 + 5 * Math.sin(1), 9);
    expect(w.agent.angle).toBe(0);
    w.step(1);
    expect(w.agent.angle).toBeCloseTo(0.2, 9);
    w.step(3);
    expect(w.agent.angle).toBeCloseTo(2 * Math.PI - 0.3, 9);
  });

  it('a move that would cross a wall is undone', () => {
    const { w } = placed({ x: 350, y: 487, angle: 0 });
    w.step(0);
    expect(w.agent.y).toBe(487);
  });
});

describe('World: determinism', () => {
  function rollout(seed: number, steps: number) {
    const w = new World();
    const obs = [w.reset(seed)];
    const rewards: number[] = [];
    const actions = new Prng(99, 7);
    for (let t = 0; t < steps; t++) {
      const s = w.step(actions.int(0, NUM_ACTIONS));
      obs.push(s.observation);
      rewards.push(s.reward);
    }
    return { obs, rewards, items: w.items, agent: w.agent };
  }

  it('the same seed and actions give the same observations, rewards and items; another seed does not', () => {
    const a = rollout(7, 3000);
    const b = rollout(7, 3000);
    expect(b.rewards).toEqual(a.rewards);
    expect(b.obs).toEqual(a.obs);
    expect(b.items).toEqual(a.items);
    expect(b.agent).toEqual(a.agent);
    const c = rollout(8, 3000);
    expect(c.items).not.toEqual(a.items);
    expect(a.rewards.every(Number.isFinite)).toBe(true);
  });

  it('keeps at most 30 items and respawns eaten ones', () => {
    const w = new World();
    w.reset(2);
    const rng = new Prng(5, 9);
    let eaten = 0;
    for (let t = 0; t < 20000; t++) {
      const s = w.step(rng.int(0, NUM_ACTIONS));
      eaten += s.redEaten + s.greenEaten;
      expect(w.items.length).toBeLessThanOrEqual(30);
    }
    expect(eaten).toBeGreaterThan(0);
    expect(w.items.length).toBeGreaterThan(25);
  });

  it('refuses an action outside 0…4 and a step before reset', () => {
    expect(() => new World().step(0)).toThrow(/before World.reset/);
    const w = new World();
    w.reset(1);
    expect(() => w.step(5)).toThrow(/action must be an integer in \[0, 5\)/);
  });
});
