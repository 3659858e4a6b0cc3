import { useEffect, useState } from 'react';
import { useDrover } from '../../lib/drover.js';

/**
 * Worker names by id, for views that show which worker ran what. Read again when an id turns
 * up that is not known yet (a worker that joined since), at most every 5 s.
 */
export function useWorkerNames(ids: Iterable<string | null>): Map<string, string> {
  const client = useDrover();
  const [names, setNames] = useState(() => new Map<string, string>());
  const [readAt, setReadAt] = useState(0);
  let missing = false;
  for (const id of ids) if (id !== null && !names.has(id)) missing = true;

  useEffect(() => {
    if (!missing && readAt !== 0) return;
    const wait = Math.max(0, readAt + 5000 - Date.now());
    let stopped = false;
    const timer = setTimeout(() => {
      client.call('workers.list', {}).then(
        ({ workers }) => {
          if (stopped) return;
          setNames(new Map(workers.map((w) => [w.id, w.name])));
          setReadAt(Date.now());
        },
        () => !stopped && setReadAt(Date.now()),
      );
    }, wait);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [client, missing, readAt]);
  return names;
}
