import { useEffect, useState } from 'react';
import { useDrover } from '../../lib/drover.js';
import { describeError, untilDone } from '../../lib/retry.js';
import { listTaskTypes } from '../../lib/upcoming.js';
import type { TaskTypeInfo } from '../../lib/upcoming.js';

/**
 * The task types one can submit: from `taskTypes.list` with their params' schemas, or, from a
 * server without that method, the types its online workers say they run (params then as JSON).
 */
export function useTaskTypes(): { taskTypes: TaskTypeInfo[] | undefined; error?: string } {
  const client = useDrover();
  const [state, setState] = useState<{ taskTypes: TaskTypeInfo[] | undefined; error?: string }>({
    taskTypes: undefined,
  });
  useEffect(() => {
    const controller = new AbortController();
    const read = async (): Promise<TaskTypeInfo[]> => {
      const listed = await untilDone(() => listTaskTypes(client), controller.signal);
      if (listed) return listed.sort((a, b) => a.name.localeCompare(b.name));
      const { workers } = await untilDone(() => client.call('workers.list', {}), controller.signal);
      const offered = new Map<string, number>();
      for (const w of workers) {
        if (w.state === 'offline') continue;
        for (const name of w.taskTypes) offered.set(name, (offered.get(name) ?? 0) + 1);
      }
      return [...offered]
        .map(([name, count]) => ({ name, workers: count }))
        .sort((a, b) => a.name.localeCompare(b.name));
    };
    read().then(
      (taskTypes) => setState({ taskTypes }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ taskTypes: [], error: describeError(error) });
      },
    );
    return () => controller.abort();
  }, [client]);
  return state;
}
