import { useEffect, useState } from 'react';
import type { TaskTypeRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { describeError, untilDone } from '../../lib/retry.js';

/** The task types the farm's workers offer, by name, with their params' JSON Schemas. */
export function useTaskTypes(): { taskTypes: TaskTypeRecord[] | undefined; error?: string } {
  const client = useDrover();
  const [state, setState] = useState<{ taskTypes: TaskTypeRecord[] | undefined; error?: string }>({
    taskTypes: undefined,
  });
  useEffect(() => {
    const controller = new AbortController();
    untilDone(() => client.call('taskTypes.list', {}), controller.signal).then(
      ({ taskTypes }) =>
        setState({ taskTypes: taskTypes.sort((a, b) => a.name.localeCompare(b.name)) }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState({ taskTypes: [], error: describeError(error) });
      },
    );
    return () => controller.abort();
  }, [client]);
  return state;
}
