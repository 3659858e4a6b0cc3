import { readFileSync } from 'node:fs';
import { DroverError } from '@drover/protocol';
import type { SiteRecord } from '@drover/protocol';
import type { Config } from '../config.js';
import { age, table } from '../format.js';
import { call } from '../rpc-client.js';
import type { Output } from './output.js';

const USAGE = 'drover sites add NAME URL --token-file F | sites ls | sites rm NAME';

/**
 * `drover sites add|ls|rm`: the farms this one forwards jobs to (`site` on a submission). For
 * `add`, `--token-file` names the file of the site's token (a token the site made for this
 * farm); the command itself signs in as the others do without it (`DROVER_TOKEN`, or the farm's
 * admin token on its own machine).
 */
export async function sites(
  config: Config,
  output: Output,
  action: string | undefined,
  args: string[],
  siteTokenFile: string | undefined,
): Promise<void> {
  switch (action) {
    case 'add': {
      const [name, url] = args;
      if (!name || !url || !siteTokenFile) throw new Error(`Usage: ${USAGE}`);
      const site = await call(config, 'sites.add', {
        name,
        url,
        token: readSiteToken(siteTokenFile),
      });
      console.log(
        output.json
          ? JSON.stringify(site, null, 2)
          : `added site ${site.name} at ${site.url}; submit to it with --site ${site.name}`,
      );
      return;
    }
    case 'ls':
    case undefined: {
      const { sites: list } = await call(config, 'sites.list', {});
      console.log(output.json ? JSON.stringify(list, null, 2) : sitesTable(list));
      return;
    }
    case 'rm': {
      const name = args[0];
      if (!name) throw new Error(`Usage: ${USAGE}`);
      const site = await call(config, 'sites.remove', { name });
      console.log(output.json ? JSON.stringify(site, null, 2) : `removed site ${site.name}`);
      return;
    }
    default:
      throw new Error(`There is no sites ${action}. Usage: ${USAGE}`);
  }
}

/** The site's token: the first line of its file, never echoed. */
function readSiteToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `Cannot read the site's token file ${path}: ${(error as Error).message}`,
    );
  }
  const token = (text.split(/\r?\n/)[0] ?? '').trim();
  if (token.length < 8)
    throw new DroverError(
      'DROVER_E_INVALID_PARAMS',
      `The token file ${path} does not start with a token (at least 8 characters on its first line).`,
    );
  return token;
}

function sitesTable(list: SiteRecord[]): string {
  if (list.length === 0) return 'no sites';
  return table(
    ['NAME', 'URL', 'ACTIVE JOBS', 'ADDED', 'STATE'],
    list.map((s) => [s.name, s.url, String(s.activeJobs), age(s.createdAt), s.lastError ?? 'ok']),
  );
}
