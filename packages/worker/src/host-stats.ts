import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { HostStats } from '@drover/protocol';

/** Samples the host for heartbeats: CPU busy since the last sample, memory, load averages. */
export class HostSampler {
  #last = cpuTimes();

  sample(): HostStats {
    const now = cpuTimes();
    const total = now.total - this.#last.total;
    const idle = now.idle - this.#last.idle;
    this.#last = now;
    return {
      cpu: total > 0 ? Math.min(1, Math.max(0, 1 - idle / total)) : 0,
      memoryUsed: totalmem() - freemem(),
      memoryTotal: totalmem(),
      load: loadavg(),
    };
  }
}

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    idle += cpu.times.idle;
    total += cpu.times.idle + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq;
  }
  return { idle, total };
}
