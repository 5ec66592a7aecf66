export { World, ACTIONS, NUM_ACTIONS, SENSED, DEMO_WORLD, segmentHit, discHit, type WorldOptions, type StepResult, type AgentPose, type Item, type ItemType, type SensedType, type Wall, type Vec2 } from './world.js';
export { Prng, STREAMS, checkSeed } from './prng.js';
export {
  DqnAgent,
  QNetwork,
  ReplayBuffer,
  DEMO_LEARNER,
  POLICIES,
  argmax,
  epsilonAt,
  netInputSize,
  resolveLearner,
  type AgentOptions,
  type Decision,
  type LearnerOptions,
  type LearnReport,
  type Policy,
  type QNetworkSpec,
  type ResolvedLearner,
  type SgdSettings,
  type TrainBatch,
} from './dqn.js';
export {
  runExperiment,
  runComparison,
  summarise,
  band,
  firstAbove,
  PAPER_FIGURE_6,
  DEFAULT_STEPS_PER_BATCH,
  DEFAULT_BURN_IN_BATCHES,
  MOVING_AVERAGE_WINDOW,
  type BatchProgress,
  type ComparisonOptions,
  type ComparisonResult,
  type ExperimentOptions,
  type ExperimentResult,
  type PolicySummary,
} from './experiment.js';
export { openTf, RL_BACKENDS, type RlBackend, type RlTf } from './tfjs.js';
export { main, parseArgs, reproduceFigure6, FULL_RUN, type CliOptions } from './cli.js';
