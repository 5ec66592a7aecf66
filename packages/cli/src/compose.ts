import { createMcu, type Mcu } from '@mcu/core';
// the modules alone (./module): each backend's code loads when the registry first creates it
import { onnxModule } from '@mcu/backend-onnx/module';
import { tfjsModule } from '@mcu/backend-tfjs/module';

export interface ComposeOptions {
  readonly backend?: string;
  readonly backendOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly memoryBudgetBytes?: number;
}

/** The CLI is the composition root: every backend module is loaded; factories stay lazy. */
export function compose(options: ComposeOptions): Mcu {
  return createMcu({
    ...(options.backend ? { backends: [options.backend] } : {}),
    ...(options.backendOptions ? { backendOptions: options.backendOptions } : {}),
    ...(options.memoryBudgetBytes ? { memoryBudgetBytes: options.memoryBudgetBytes } : {}),
    modules: [onnxModule, tfjsModule],
  });
}
