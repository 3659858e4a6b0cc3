import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A file a command left in its output directory. */
export interface OutputFile {
  /** Relative to the output directory, with `/` between folders: `frames/0001.png`. */
  name: string;
  /** Absolute. */
  path: string;
  size: number;
}

/**
 * The regular files under `root`, in every folder, sorted by name; none if it does not exist.
 * Symbolic links are neither listed nor followed: a command could otherwise publish any file the
 * worker can read (`ln -s /etc/shadow out/x`) as an artifact.
 */
export async function listFiles(root: string): Promise<OutputFile[]> {
  const files: OutputFile[] = [];
  await walk(root, '', files);
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function walk(dir: string, prefix: string, files: OutputFile[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw error;
  }
  for (const entry of entries) {
    const name = prefix + entry.name;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await walk(path, `${name}/`, files);
    } else if (entry.isFile()) {
      const stats = await lstat(path).catch(() => undefined);
      if (stats?.isFile()) files.push({ name, path, size: stats.size });
    }
  }
}
