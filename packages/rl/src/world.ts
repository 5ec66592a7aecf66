import { McuError } from '@mcu/core';
import { checkSeed, Prng, STREAMS } from './prng.js';

/*
 * The 2-D world of Karpathy's ConvNetJS deep-Q-learning demo (demo/rldemo.html, demo/js/rldemo.js),
 * the environment of the paper's §5.4, written from its description and facts:
 *
 * - a 700 × 500 canvas; walls: an outer box padded 10 px, and two inner boxes (100, 100, 200, 300)
 *   and (400, 100, 200, 300), each without its left side (10 segments);
 * - an agent of radius 10 starting at (50, 50), heading 0 (it looks towards +y), with 9 eyes at
 *   angles (k − 3)·0.25 rad, k = 0…8 (the demo's fan is not centred: eye 3 looks straight ahead),
 *   each of range 85 px; an eye senses the nearest wall, red item or green item on its ray and
 *   reports 3 numbers [wall, red, green], each 1 unless that kind is seen, then distance / 85;
 * - 30 items of radius 10 at uniform positions in [20, W − 20] × [20, H − 20], red (apple, type 1)
 *   or green (poison, type 2) with probability ½; an item touched (centre distance < 10 + 10, no wall
 *   in between) is eaten: +5 for red, −6 for green. Items older than 5000 ticks disappear with
 *   probability 0.1 at every 100th tick; while fewer than 30, one new item appears with
 *   probability 0.25 at every 10th tick;
 * - 5 actions = wheel rotation speeds (rot1, rot2): (1, 1) straight on, (0.8, 1), (1, 0.8),
 *   (0.5, 0), (0, 0.5); the agent turns by rot2 − rot1 and moves as the two wheels (± radius/2 off
 *   its centre) rotate; a move that would cross a wall is undone, positions are clamped to the canvas;
 * - reward = proximity + forward + digestion. proximity = the mean over eyes of (eye sees a wall ?
 *   distance / 85 : 1) — "agents don't like to see walls, especially up close"; Karpathy's demo
 *   then clips min(1, 2·proximity), Gal's comparison demo (yaringal/DropoutUncertaintyDemos,
 *   rldemo_comparison.js, the paper's experiment) drops the clip; `proximityReward` picks
 *   ('linear', Gal's, default, or 'clipped'). forward = 0.1·proximity when the action is straight
 *   on (0) and proximity > 0.75. digestion = the items eaten during the move. As in the demo, the
 *   proximity reward is computed from what the eyes saw when the action was chosen.
 *
 * Randomness (item positions and kinds, expiry, respawn) comes from the world's own Prng stream of
 * the seed given to reset(), so a world is deterministic given (seed, actions).
 */

export const ACTIONS: readonly (readonly [number, number])[] = [
  [1, 1],
  [0.8, 1],
  [1, 0.8],
  [0.5, 0],
  [0, 0.5],
];

export const NUM_ACTIONS = ACTIONS.length;

/** What an eye can see; its index is the eye's slot in the observation. */
export const SENSED = { nothing: -1, wall: 0, red: 1, green: 2 } as const;
export type SensedType = (typeof SENSED)[keyof typeof SENSED];
export type ItemType = typeof SENSED.red | typeof SENSED.green;

export interface Vec2 {
  x: number;
  y: number;
}
export interface Wall {
  readonly a: Vec2;
  readonly b: Vec2;
}
export interface Item {
  x: number;
  y: number;
  type: ItemType;
  age: number;
}
export interface AgentPose {
  x: number;
  y: number;
  /** Heading in radians, [0, 2π); an eye at angle e looks along (sin(heading + e), cos(heading + e)). */
  angle: number;
}

export interface WorldOptions {
  readonly width?: number;
  readonly height?: number;
  readonly itemCount?: number;
  readonly itemRadius?: number;
  readonly agentRadius?: number;
  readonly eyeRange?: number;
  readonly eyeAngles?: readonly number[];
  readonly redReward?: number;
  readonly greenReward?: number;
  /** 'linear' (Gal's comparison demo, default) or 'clipped' = min(1, 2·proximity) (Karpathy's). */
  readonly proximityReward?: 'linear' | 'clipped';
  /** false: only the outer box (for tests). */
  readonly innerWalls?: boolean;
}

/** The demo's values, in one place (reported with every experiment). */
export const DEMO_WORLD = {
  width: 700,
  height: 500,
  itemCount: 30,
  itemRadius: 10,
  agentRadius: 10,
  eyeRange: 85,
  eyeAngles: Array.from({ length: 9 }, (_, k) => (k - 3) * 0.25),
  redReward: 5,
  greenReward: -6,
  proximityReward: 'linear' as 'linear' | 'clipped',
  innerWalls: true,
  start: { x: 50, y: 50, angle: 0 },
  itemMaxAge: 5000,
  expiryEvery: 100,
  expiryProbability: 0.1,
  respawnEvery: 10,
  respawnProbability: 0.25,
  forwardBonus: 0.1,
  forwardBonusMinProximity: 0.75,
} as const;

export interface StepResult {
  /** The eyes' readings after the move: 3 numbers per eye, [wall, red, green]. */
  readonly observation: Float32Array;
  readonly reward: number;
  readonly proximityReward: number;
  readonly forwardReward: number;
  readonly digestionReward: number;
  readonly redEaten: number;
  readonly greenEaten: number;
}

/** Segment p1→p2 against segment p3→p4: the fraction along p1→p2 where they cross (open ends), or −1. */
export function segmentHit(p1: Vec2, p2: Vec2, p3: Vec2, p4: Vec2): number {
  const denom = (p4.y - p3.y) * (p2.x - p1.x) - (p4.x - p3.x) * (p2.y - p1.y);
  if (denom === 0) return -1;
  const ua = ((p4.x - p3.x) * (p1.y - p3.y) - (p4.y - p3.y) * (p1.x - p3.x)) / denom;
  const ub = ((p2.x - p1.x) * (p1.y - p3.y) - (p2.y - p1.y) * (p1.x - p3.x)) / denom;
  return ua > 0 && ua < 1 && ub > 0 && ub < 1 ? ua : -1;
}

/**
 * Segment p1→p2 against a disc: the fraction along p1→p2 of the point closest to the centre, when
 * the segment passes within `radius` of it and that point lies strictly inside the segment; else −1.
 * (The demo senses an item at the foot of the perpendicular from its centre.)
 */
export function discHit(p1: Vec2, p2: Vec2, c: Vec2, radius: number): number {
  const dx = p2.x - p1.x;
  const dy = p2.y - p1.y;
  const len2 = dx * dx + dy * dy;
  if (len2 === 0) return -1;
  const cx = c.x - p1.x;
  const cy = c.y - p1.y;
  const dist = Math.abs(dx * cy - dy * cx) / Math.sqrt(len2);
  if (dist > radius) return -1;
  const t = (cx * dx + cy * dy) / len2;
  return t > 0 && t < 1 ? t : -1;
}

function option(v: number | undefined, fallback: number, name: string, min = 0): number {
  const x = v ?? fallback;
  if (!Number.isFinite(x) || x < min) throw new McuError('E_CONFIG', `world option ${name} must be a finite number ≥ ${min}, got ${String(v)}`);
  return x;
}

export class World {
  readonly width: number;
  readonly height: number;
  readonly itemCount: number;
  readonly itemRadius: number;
  readonly agentRadius: number;
  readonly eyeRange: number;
  readonly eyeAngles: readonly number[];
  readonly redReward: number;
  readonly greenReward: number;
  readonly proximityMode: 'linear' | 'clipped';
  readonly walls: readonly Wall[];
  /** Observation length: 3 numbers per eye. */
  readonly observationSize: number;

  #rng: Prng = new Prng(0, STREAMS.world);
  #items: Item[] = [];
  #agent: AgentPose = { ...DEMO_WORLD.start };
  #clock = 0;
  #sensedType: Int8Array;
  #sensedProximity: Float64Array;
  #observation: Float32Array;
  #seeded = false;

  constructor(options: WorldOptions = {}) {
    this.width = option(options.width, DEMO_WORLD.width, 'width', 50);
    this.height = option(options.height, DEMO_WORLD.height, 'height', 50);
    this.itemCount = Math.floor(option(options.itemCount, DEMO_WORLD.itemCount, 'itemCount'));
    this.itemRadius = option(options.itemRadius, DEMO_WORLD.itemRadius, 'itemRadius');
    this.agentRadius = option(options.agentRadius, DEMO_WORLD.agentRadius, 'agentRadius');
    this.eyeRange = option(options.eyeRange, DEMO_WORLD.eyeRange, 'eyeRange', 1e-9);
    this.eyeAngles = [...(options.eyeAngles ?? DEMO_WORLD.eyeAngles)];
    if (this.eyeAngles.length === 0 || !this.eyeAngles.every(Number.isFinite)) {
      throw new McuError('E_CONFIG', 'world option eyeAngles must be a non-empty list of finite angles (radians)');
    }
    this.redReward = options.redReward ?? DEMO_WORLD.redReward;
    this.greenReward = options.greenReward ?? DEMO_WORLD.greenReward;
    const mode = options.proximityReward ?? DEMO_WORLD.proximityReward;
    if (mode !== 'linear' && mode !== 'clipped') {
      throw new McuError('E_CONFIG', `world option proximityReward must be 'linear' or 'clipped', got ${String(mode)}`);
    }
    this.proximityMode = mode;
    this.walls = buildWalls(this.width, this.height, options.innerWalls ?? DEMO_WORLD.innerWalls);
    const eyes = this.eyeAngles.length;
    this.observationSize = 3 * eyes;
    this.#sensedType = new Int8Array(eyes).fill(SENSED.nothing);
    this.#sensedProximity = new Float64Array(eyes).fill(this.eyeRange);
    this.#observation = new Float32Array(this.observationSize).fill(1);
  }

  /** Start a new episode: agent at the demo's start, itemCount random items; returns the first observation. */
  reset(seed: number): Float32Array {
    checkSeed(seed);
    this.#rng = new Prng(seed, STREAMS.world);
    this.#clock = 0;
    this.#agent = { ...DEMO_WORLD.start };
    this.#items = [];
    for (let k = 0; k < this.itemCount; k++) this.#items.push(this.#randomItem());
    this.#seeded = true;
    this.#sense();
    return this.observation;
  }

  /** A copy of the current observation (3 numbers per eye: [wall, red, green]). */
  get observation(): Float32Array {
    return this.#observation.slice();
  }
  get clock(): number {
    return this.#clock;
  }
  get agent(): Readonly<AgentPose> {
    return { ...this.#agent };
  }
  get items(): readonly Readonly<Item>[] {
    return this.#items.map((it) => ({ ...it }));
  }
  /** What each eye saw at the last sensing: type (SENSED) and distance in px. */
  get eyes(): readonly { type: SensedType; proximity: number }[] {
    return Array.from(this.#sensedType, (t, i) => ({ type: t as SensedType, proximity: this.#sensedProximity[i]! }));
  }

  /** Place the agent (tests, demonstrations); the eyes look again. */
  setAgent(pose: AgentPose): Float32Array {
    this.#agent = { x: pose.x, y: pose.y, angle: wrapAngle(pose.angle) };
    this.#sense();
    return this.observation;
  }

  /** Replace the items (tests, demonstrations); the eyes look again. */
  setItems(items: readonly { x: number; y: number; type: ItemType; age?: number }[]): Float32Array {
    this.#items = items.map((it) => {
      if (it.type !== SENSED.red && it.type !== SENSED.green) throw new McuError('E_CONFIG', `item type must be 1 (red) or 2 (green), got ${String(it.type)}`);
      return { x: it.x, y: it.y, type: it.type, age: it.age ?? 0 };
    });
    this.#sense();
    return this.observation;
  }

  /** Apply one action (0…4) for one tick of the demo: move, eat, age and respawn items, reward, look. */
  step(action: number): StepResult {
    if (!this.#seeded) throw new McuError('E_CONFIG', 'World.step before World.reset(seed)');
    if (!Number.isInteger(action) || action < 0 || action >= NUM_ACTIONS) {
      throw new McuError('E_CONFIG', `action must be an integer in [0, ${NUM_ACTIONS}), got ${String(action)}`);
    }
    this.#clock++;
    // The proximity reward judges what the eyes saw when the action was chosen (as the demo).
    const proximityReward = this.#proximityReward();
    this.#move(ACTIONS[action]!);
    const { digestion, red, green } = this.#tickItems();
    const forwardReward = action === 0 && proximityReward > DEMO_WORLD.forwardBonusMinProximity ? DEMO_WORLD.forwardBonus * proximityReward : 0;
    this.#sense();
    return {
      observation: this.observation,
      reward: proximityReward + forwardReward + digestion,
      proximityReward,
      forwardReward,
      digestionReward: digestion,
      redEaten: red,
      greenEaten: green,
    };
  }

  #randomItem(): Item {
    const x = this.#rng.uniform(20, this.width - 20);
    const y = this.#rng.uniform(20, this.height - 20);
    const type = this.#rng.int(1, 3) as ItemType;
    return { x, y, type, age: 0 };
  }

  #proximityReward(): number {
    let sum = 0;
    const eyes = this.#sensedType.length;
    for (let i = 0; i < eyes; i++) sum += this.#sensedType[i] === SENSED.wall ? this.#sensedProximity[i]! / this.eyeRange : 1;
    const p = sum / eyes;
    return this.proximityMode === 'clipped' ? Math.min(1, 2 * p) : p;
  }

  /** The nearest wall or item on the segment from→to, as [type, fraction] (type −1: none). */
  #firstHit(from: Vec2, to: Vec2, items: boolean): [number, number] {
    let type: number = SENSED.nothing;
    let best = Infinity;
    for (const w of this.walls) {
      const t = segmentHit(from, to, w.a, w.b);
      if (t >= 0 && t < best) {
        best = t;
        type = SENSED.wall;
      }
    }
    if (items) {
      for (const it of this.#items) {
        const t = discHit(from, to, it, this.itemRadius);
        if (t >= 0 && t < best) {
          best = t;
          type = it.type;
        }
      }
    }
    return [type, best];
  }

  #sense(): void {
    const a = this.#agent;
    const obs = this.#observation;
    obs.fill(1);
    this.eyeAngles.forEach((e, i) => {
      const dir = a.angle + e;
      const end = { x: a.x + this.eyeRange * Math.sin(dir), y: a.y + this.eyeRange * Math.cos(dir) };
      const [type, t] = this.#firstHit(a, end, true);
      this.#sensedType[i] = type;
      if (type === SENSED.nothing) {
        this.#sensedProximity[i] = this.eyeRange;
      } else {
        this.#sensedProximity[i] = t * this.eyeRange;
        obs[3 * i + type] = t;
      }
    });
  }

  /**
   * Differential drive: the wheels sit ± radius/2 off the centre, perpendicular to the heading;
   * wheel 1 turns the body by −rot1 about wheel 2, wheel 2 by +rot2 about wheel 1, and the new
   * centre is the mean of the two results. Straight on (1, 1) moves radius/2·sin 1 ≈ 4.2 px.
   */
  #move([rot1, rot2]: readonly [number, number]): void {
    const a = this.#agent;
    const old = { x: a.x, y: a.y };
    const h = this.agentRadius / 2;
    // Offset from the centre to wheel 1 (perpendicular to the heading (sin θ, cos θ)).
    const vx = h * Math.cos(a.angle);
    const vy = -h * Math.sin(a.angle);
    // Rotating a vector u by φ here is the demo's clockwise rotation: (x cos φ + y sin φ, −x sin φ + y cos φ).
    const rot = (x: number, y: number, phi: number): [number, number] => [x * Math.cos(phi) + y * Math.sin(phi), -x * Math.sin(phi) + y * Math.cos(phi)];
    const [r1x, r1y] = rot(vx, vy, -rot1); // centre seen from wheel 2, turned by wheel 1
    const [r2x, r2y] = rot(-vx, -vy, rot2); // centre seen from wheel 1, turned by wheel 2
    const nx = (old.x - vx + r1x + (old.x + vx + r2x)) / 2;
    const ny = (old.y - vy + r1y + (old.y + vy + r2y)) / 2;
    a.angle = wrapAngle(a.angle - rot1 + rot2);
    const [hit] = this.#firstHit(old, { x: nx, y: ny }, false);
    if (hit === SENSED.nothing) {
      a.x = nx;
      a.y = ny;
    }
    a.x = Math.min(Math.max(a.x, 0), this.width);
    a.y = Math.min(Math.max(a.y, 0), this.height);
  }

  #tickItems(): { digestion: number; red: number; green: number } {
    const a = this.#agent;
    let digestion = 0;
    let red = 0;
    let green = 0;
    const keep: Item[] = [];
    for (const it of this.#items) {
      it.age += 1;
      let gone = false;
      const d = Math.hypot(a.x - it.x, a.y - it.y);
      if (d < this.itemRadius + this.agentRadius) {
        const [wall] = this.#firstHit(a, it, false);
        if (wall === SENSED.nothing) {
          if (it.type === SENSED.red) {
            digestion += this.redReward;
            red++;
          } else {
            digestion += this.greenReward;
            green++;
          }
          gone = true;
        }
      }
      if (it.age > DEMO_WORLD.itemMaxAge && this.#clock % DEMO_WORLD.expiryEvery === 0 && this.#rng.float() < DEMO_WORLD.expiryProbability) gone = true;
      if (!gone) keep.push(it);
    }
    this.#items = keep;
    if (this.#items.length < this.itemCount && this.#clock % DEMO_WORLD.respawnEvery === 0 && this.#rng.float() < DEMO_WORLD.respawnProbability) {
      this.#items.push(this.#randomItem());
    }
    return { digestion, red, green };
  }
}

function wrapAngle(a: number): number {
  const t = 2 * Math.PI;
  const r = a % t;
  return r < 0 ? r + t : r;
}

function box(walls: Wall[], x: number, y: number, w: number, h: number, sides: number): void {
  const corners: Vec2[] = [
    { x, y },
    { x: x + w, y },
    { x: x + w, y: y + h },
    { x, y: y + h },
  ];
  for (let k = 0; k < sides; k++) walls.push({ a: corners[k]!, b: corners[(k + 1) % 4]! });
}

/** The demo's walls: the outer box (pad 10) and two inner boxes open on their left side. */
function buildWalls(width: number, height: number, inner: boolean): Wall[] {
  const walls: Wall[] = [];
  const pad = 10;
  box(walls, pad, pad, width - 2 * pad, height - 2 * pad, 4);
  if (inner) {
    box(walls, 100, 100, 200, 300, 3);
    box(walls, 400, 100, 200, 300, 3);
  }
  return walls;
}
