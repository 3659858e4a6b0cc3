import { useState } from 'react';
import { artifactHttp } from '@drover/protocol';
import type { ArtifactRecord } from '@drover/protocol';
import { formatBytes } from '../../lib/format.js';
import { Thumbnail } from './thumbnail.js';

const FIRST = 120;

/** A job's artifacts: images as thumbnails, each with a download link; they appear as stored. */
export function Artifacts({ artifacts }: { artifacts: readonly ArtifactRecord[] }) {
  const [all, setAll] = useState(false);
  if (artifacts.length === 0) return <p className="empty">No artifacts yet.</p>;
  const shown = all ? artifacts : artifacts.slice(0, FIRST);
  return (
    <>
      <ul className="artifacts" aria-label="artifacts">
        {shown.map((a) => {
          const href = artifactHttp.downloadPath(a.id);
          const image = a.contentType.startsWith('image/');
          return (
            <li
              key={a.id}
              className={image ? 'artifact image' : 'artifact'}
              data-artifact-id={a.id}
            >
              {image && (
                <a href={`${href}?inline=1`} target="_blank" rel="noreferrer" title="open">
                  <Thumbnail src={`${href}?inline=1`} alt={a.name} />
                </a>
              )}
              <span
                className="artifact-name"
                title={`${a.name}, attempt ${a.attempt}\nsha256 ${a.sha256}`}
              >
                {a.name}
              </span>
              <span className="muted small">{formatBytes(a.size)}</span>
              <a href={href} download={a.name.slice(a.name.lastIndexOf('/') + 1)} className="small">
                download
              </a>
            </li>
          );
        })}
      </ul>
      {!all && artifacts.length > FIRST && (
        <button onClick={() => setAll(true)}>Show all {artifacts.length}</button>
      )}
    </>
  );
}
