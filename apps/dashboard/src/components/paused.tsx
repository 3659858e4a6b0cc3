/** A label for a job or group that starts no task until it is resumed (colours in styles.css). */
export function PausedBadge({ title }: { title?: string }) {
  return (
    <span
      className="badge paused"
      data-paused="true"
      title={title ?? 'starts no task until resumed'}
    >
      paused
    </span>
  );
}
