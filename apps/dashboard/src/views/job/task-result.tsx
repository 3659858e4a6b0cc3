import { artifactHttp } from '@drover/protocol';
import type { ArtifactRecord } from '@drover/protocol';
import { Thumbnail } from './thumbnail.js';

/** Content types shown as images; anything else (SVG, which can carry script) is only a link. */
const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);
/** A result longer than this, pretty-printed, starts folded. */
const FOLDED_CHARS = 1500;
const FOLDED_LINES = 24;

export function isShownImage(artifact: ArtifactRecord): boolean {
  return IMAGE_TYPES.has(artifact.contentType.split(';')[0]?.trim().toLowerCase() ?? '');
}

/** Every string in a JSON value, however deep. */
function strings(value: unknown, found = new Set<string>()): Set<string> {
  if (typeof value === 'string') found.add(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, found);
  else if (value !== null && typeof value === 'object')
    for (const item of Object.values(value)) strings(item, found);
  return found;
}

/**
 * A task's result, pretty-printed (folded when large), beside its images: the image files the
 * task stored, and any image of the job the result names by its artifact id. React writes the
 * result as text, never as markup; images come only from the artifact routes, by the id of a
 * record the server listed.
 */
export function TaskResult({
  taskId,
  result,
  artifacts,
}: {
  taskId: string;
  /** JSON, as the task type's result schema says. */
  result: unknown;
  artifacts: readonly ArtifactRecord[];
}) {
  const named = strings(result);
  const images = artifacts.filter(
    (a) => isShownImage(a) && (a.taskId === taskId || named.has(a.id)),
  );
  if ((result === null || result === undefined) && images.length === 0) return null;
  const text = result === null || result === undefined ? '' : JSON.stringify(result, null, 2);
  const folded = text.length > FOLDED_CHARS || text.split('\n').length > FOLDED_LINES;
  return (
    <section className="task-result" aria-label="result">
      {text !== '' &&
        (folded ? (
          <details>
            <summary>
              Result{' '}
              <span className="muted small">({text.length.toLocaleString()} characters)</span>
            </summary>
            <pre className="result-json">{text}</pre>
          </details>
        ) : (
          <>
            <strong className="small">Result</strong>
            <pre className="result-json">{text}</pre>
          </>
        ))}
      {images.length > 0 && (
        <ul className="result-images" aria-label="images">
          {images.map((a) => {
            const src = `${artifactHttp.downloadPath(a.id)}?inline=1`;
            return (
              <li key={a.id} data-artifact-id={a.id} data-named={named.has(a.id) || undefined}>
                <a
                  href={src}
                  target="_blank"
                  rel="noreferrer"
                  title={`${a.name}, attempt ${a.attempt}`}
                >
                  <Thumbnail src={src} alt={a.name} />
                </a>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
