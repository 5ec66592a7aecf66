/** Prometheus metrics of one server (its own registry: two servers in one process do not mix). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly samples: Counter<'model'>;
  readonly queueDepth: Gauge;
  readonly runs: Counter<'model'>;
  readonly backendCalls: Counter<'model'>;
}

export function createMetrics(): ServerMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: 'mcu_http_requests_total',
      help: 'HTTP requests answered, by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'mcu_http_request_duration_seconds',
      help: 'Time from request to answer, by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    samples: new Counter({
      name: 'mcu_predict_samples_total',
      help: 'Monte Carlo samples drawn, per input row (rows × T): rate() is row-samples/s',
      labelNames: ['model'],
      registers: [registry],
    }),
    queueDepth: new Gauge({ name: 'mcu_queue_depth', help: 'Predict requests waiting to run (all models)', registers: [registry] }),
    runs: new Counter({
      name: 'mcu_predict_runs_total',
      help: 'Core predict runs (one per coalesced batch of requests)',
      labelNames: ['model'],
      registers: [registry],
    }),
    backendCalls: new Counter({
      name: 'mcu_backend_calls_total',
      help: 'Backend calls (model runs over a chunk of samples)',
      labelNames: ['model'],
      registers: [registry],
    }),
  };
}
