import { useEffect, useState } from 'react';
import { useConnectionState } from '../../lib/drover.js';

/**
 * An artifact's image, shown in place. One that failed to load (the server was away for a moment)
 * is asked for again once the connection is back, and every few seconds until it comes.
 */
export function Thumbnail({ src, alt }: { src: string; alt: string }) {
  const connection = useConnectionState();
  const [tries, setTries] = useState(0);
  const [broken, setBroken] = useState(false);
  useEffect(() => {
    if (!broken || connection !== 'open') return;
    const timer = setTimeout(
      () => {
        setBroken(false);
        setTries((n) => n + 1);
      },
      Math.min(10_000, 500 * 2 ** tries),
    );
    return () => clearTimeout(timer);
  }, [broken, connection, tries]);
  return (
    <img
      src={tries === 0 ? src : `${src}&try=${tries}`}
      alt={alt}
      loading="lazy"
      decoding="async"
      onError={() => setBroken(true)}
    />
  );
}
