import { useEffect, useState } from 'react';
import type { GroupRecord } from '@drover/protocol';
import { useDrover } from '../../lib/drover.js';
import { isRetryable } from '../../lib/retry.js';

const REFRESH_MS = 10_000;

/**
 * The groups that have jobs or are paused, most recently submitted to first. Groups have no topic of their
 * own, so the list is read again every 10 s and after each reconnect.
 */
export function useGroups(): GroupRecord[] | undefined {
  const client = useDrover();
  const [groups, setGroups] = useState<GroupRecord[]>();
  useEffect(() => {
    let stopped = false;
    const read = () => {
      client.call('groups.list', {}).then(
        ({ groups }) => {
          if (stopped) return;
          groups.sort((a, b) => (b.lastSubmittedAt ?? '').localeCompare(a.lastSubmittedAt ?? ''));
          setGroups(groups);
        },
        (error: unknown) => {
          if (!isRetryable(error)) console.error(error);
        },
      );
    };
    read();
    const timer = setInterval(read, REFRESH_MS);
    const unlisten = client.onStateChange((state) => {
      if (state === 'open') read();
    });
    return () => {
      stopped = true;
      clearInterval(timer);
      unlisten();
    };
  }, [client]);
  return groups;
}
