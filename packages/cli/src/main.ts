#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openEngine } from '@drover/engine';
import { isDroverError } from '@drover/protocol';
import { loadConfig } from './config.js';
import { closeClients } from './rpc-client.js';
import { download, groups, jobs, logs, parseLimit, tasks, workers } from './commands/drive.js';
import { types } from './commands/limits.js';
import { submit } from './commands/submit.js';
import { listOf, selectsJobs } from './commands/bulk.js';
import { serve } from './commands/serve.js';
import { up } from './commands/up.js';
import { worker } from './commands/worker.js';
import { login, tokens } from './commands/tokens.js';
import { sites } from './commands/sites.js';
import { schedules } from './commands/schedules.js';
import { webhooks } from './commands/webhooks.js';
import { groupRetention, prune } from './commands/retention.js';

const USAGE = `drover <command> [options]

Run a farm:
  up                 the farm on this machine: server, local workers, the fractal producer
                     [--tasks my-tasks.mjs ...] (the local workers run these too) [--demo false]
  server             the server alone (embedded database, or --database-url); it answers
                     GET /healthz (alive), /readyz (database and schema) and /metrics (Prometheus)
  worker             join a farm: --server URL[,URL...] --token-file F [--name N] [--tags a,b]
                     [--slots K]
                     [--state-dir D] (its default name, host-xxxx, kept for its restarts)
                     [--tasks my-tasks.mjs ...] [--shell-tasks templates.json] [--demo false]
  migrate            bring a PostgreSQL database's schema up to date (--database-url)

Drive it (--server URL or host:port, or several, comma-separated: a farm's replicas, the next
used when one goes away; by default the farm of --data-dir, whose address \`up\` and \`server\`
write in <data dir>/server.json, else 127.0.0.1:--port; --json for scripts):
  submit <task type> [--param k=v ...] [--file job.json] [--group g] [--wait] [--site NAME]
                     [--allow-unknown-type: queue for a task type no worker has offered yet]
  groups [ls | pause <name> | resume <name>]   every group with jobs, counted by status
  groups limit <name> [--max-running N|none] [--rate 60/m|2/s|none] [--weight W (1)]
                     at most N of its tasks running at once, N started a minute; groups
                     waiting together share the slots by weight (an admin's token)
  types [ls | limit <task type> --max-running N|none]   task types, and a limit across groups
  groups retention <name> 7d|12h|off|default   how long the group keeps its finished jobs
                     (off: forever; default: the farm's --retention; an admin's token)
  prune --older-than 7d [--group g] [--dry-run]   delete now the finished jobs that ended longer
                     ago, with their tasks, events, logs and files, and print what went (admin)
  jobs [ls | show <id> | cancel <id> | retry <id> | rm <id> ...] [--group g] [--limit N (100) | --all]
  jobs cancel|retry|rm --status S[,S] [--search TEXT] [--created-before TIME] [--group g]
                     every job of the group these select (--all: every one the verb applies to)
  jobs pause <id> | resume <id>   (running tasks finish; nothing new starts until resumed)
  jobs extend <id> --frames 241-480 | --file more.json ({"items": [...]} or {"frames": ...})
  jobs update <id> [--max-attempts N] [--timeout-ms MS] [--priority P]   (its waiting tasks)
  jobs blocklist <id> | unblock <id> [worker id]   workers that failed its tasks (blocked after
                     3 failures on one worker, or the submission's "blocklistAfter"; 0: never)
  tasks <job id> | tasks show <task id> | tasks why <task id> (what holds a task back)
  workers [ls | disable|enable|drain <id|name> ...]
  workers disable|enable|drain --tag T [--state S] [--worker-host H] [--search TEXT] [--all]
                     every worker these select (a tag given twice: workers with both)
  logs <task id> [-f]
  download <job id | task id> [--out dir]

Schedules, a job submitted again at each tick of a cron expression (write access to its group):
  schedules add NAME --cron "*/5 * * * *" --file job.json [--timezone Europe/Paris (UTC)]
                [--overlap skip|queue|cancel (skip): while the last run's job has not ended]
                [--catch-up none|last (none): ticks missed while no server ran] [--group G]
                (the job file is what submit --file takes, checked now; cron: five fields, or
                six with seconds first)
  schedules [ls | show NAME | pause NAME | resume NAME | run-now NAME | rm NAME]
  schedules update NAME [--cron ..] [--timezone ..] [--overlap ..] [--catch-up ..] [--file ..]

Who may do what (an admin's token; on the farm's machine <data dir>/admin-token is used by itself):
  tokens create --role admin|member|worker --name NAME [--groups g1:write,g2 (read)]
                [--task-types a,b] [--tags t1,t2] [--expires-in-days N]
  tokens [ls | revoke <token id>]       (with --database-url: straight in the database)
  login              print a one-time link that signs a browser in as this token

Sites, other farms this one forwards jobs to (submit with --site NAME; an admin's token):
  sites add NAME URL --token-file F     (F: the token the site made for this farm)
  sites [ls | rm NAME]

Webhooks, HTTP POSTs signed with a secret when jobs end or workers are lost (an admin's token;
the server calls the URL itself, see docs/operations/webhooks.md):
  webhooks add --url URL --events job.succeeded,job.failed,job.cancelled,worker.offline
                [--group G (a group's jobs; default: every group)] [--secret-file F]
                (without --secret-file a secret is made and printed this once)
  webhooks [ls | rm ID | test ID (sends a ping) | enable ID | disable ID]
  webhooks deliveries ID [--limit N (100)]   each notification and how its sending went

Options: --port (7400) --host (127.0.0.1) --allowed-hosts NAME,... (more names the server
  answers to in the Host header) --data-dir (./data) --database-url --token-file FILE (the token
  to sign in with; or DROVER_TOKEN, never on the command line)
  --workers (2, for up) --demo true|false --interval (3 s) --group (default) --server URL[,URL...]
  --shell-tasks FILE --coalesce-ms (200: a subscription's window for progress and log lines)
  --lease-ms (30000: a task's lease without a heartbeat; replicas and workers silent for two
  heartbeats, a third of it each, are taken for dead and unresponsive)
  --tls-cert FILE --tls-key FILE (serve HTTPS and WSS) --ca-file FILE (a certificate authority
  to trust besides the system's, for workers and commands)
  --secure-cookies true, --trust-proxy true (behind a proxy that serves HTTPS) --rate-limit-per-minute (3000 calls
  per token, over every server; 0: none)
  --advertise-url URL (where the farm's other servers reach this one for its files; default: its
  address, the host's name on 0.0.0.0)
  --log-level fatal|error|warn|info|debug|trace|silent (the server's JSON log lines on stdout;
  info for server, warn for up)
  --metrics-token-file FILE (a token whose holder reads GET /metrics, for Prometheus; needed off
  a loopback address or behind a proxy, unless the scraper uses an admin token)
  --sample-ms (10000: how often the farm's history is sampled for the overview; kept 7 days)
  --retention 30d|off (server: how long finished jobs are kept in groups without their own
  retention; checked every hour, pruned on one server of the farm at a time; durations are a
  whole number and d, h, m or s)
  --json. An embedded farm keeps a worker token in <data dir>/worker-token.

Every option can also come from DROVER_<NAME> in the environment or from drover.json
(--config FILE); a flag wins over the environment, which wins over the file.`;

const OPTIONS = {
  config: { type: 'string' },
  'database-url': { type: 'string' },
  'data-dir': { type: 'string' },
  host: { type: 'string' },
  'allowed-hosts': { type: 'string' },
  port: { type: 'string' },
  server: { type: 'string' },
  // Refused with advice by loadConfig: a token on the command line is visible to every user.
  token: { type: 'string' },
  'token-file': { type: 'string' },
  name: { type: 'string' },
  'state-dir': { type: 'string' },
  tags: { type: 'string' },
  slots: { type: 'string' },
  workers: { type: 'string' },
  demo: { type: 'string' },
  interval: { type: 'string' },
  group: { type: 'string' },
  'shell-tasks': { type: 'string' },
  tasks: { type: 'string', multiple: true },
  'coalesce-ms': { type: 'string' },
  'lease-ms': { type: 'string' },
  'secure-cookies': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'ca-file': { type: 'string' },
  'rate-limit-per-minute': { type: 'string' },
  'advertise-url': { type: 'string' },
  'log-level': { type: 'string' },
  'metrics-token-file': { type: 'string' },
  'sample-ms': { type: 'string' },
  retention: { type: 'string' },
  'older-than': { type: 'string' },
  'dry-run': { type: 'boolean' },
  role: { type: 'string' },
  groups: { type: 'string' },
  'task-types': { type: 'string' },
  'expires-in-days': { type: 'string' },
  param: { type: 'string', multiple: true },
  file: { type: 'string' },
  wait: { type: 'boolean' },
  'allow-unknown-type': { type: 'boolean' },
  site: { type: 'string' },
  url: { type: 'string' },
  events: { type: 'string' },
  'secret-file': { type: 'string' },
  limit: { type: 'string' },
  all: { type: 'boolean' },
  status: { type: 'string', multiple: true },
  search: { type: 'string' },
  'created-before': { type: 'string' },
  tag: { type: 'string', multiple: true },
  state: { type: 'string', multiple: true },
  'worker-host': { type: 'string', multiple: true },
  follow: { type: 'boolean', short: 'f' },
  out: { type: 'string' },
  frames: { type: 'string' },
  'max-attempts': { type: 'string' },
  'timeout-ms': { type: 'string' },
  priority: { type: 'string' },
  cron: { type: 'string' },
  timezone: { type: 'string' },
  overlap: { type: 'string' },
  'catch-up': { type: 'string' },
  'max-running': { type: 'string' },
  rate: { type: 'string' },
  weight: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: OPTIONS,
    allowPositionals: true,
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  // For `sites add`, --token-file is the site's token: the command signs in without it.
  const siteTokenFile = command === 'sites' ? values['token-file'] : undefined;
  const flags = command === 'sites' ? { ...values, 'token-file': undefined } : values;
  const config = loadConfig({ flags, env: process.env, file: values.config });
  const output = { json: values.json ?? false };
  const limitOptions = {
    maxRunning: values['max-running'],
    rate: values.rate,
    weight: values.weight,
  };
  switch (command) {
    case 'up':
      return up(config, fileURLToPath(import.meta.url));
    case 'server': {
      // An embedded farm keeps local credentials; one on a shared database starts from the
      // tokens made with `drover tokens create --database-url`.
      const embedded = !config.databaseUrl;
      const farm = await serve(config, embedded, embedded);
      console.log(`Drover server at ${farm.server.url} (${farm.engine.kind} database)`);
      if (farm.local) {
        const { code } = await farm.engine.accounts.createLoginCode(farm.local.admin.tokenId);
        console.log(`open the dashboard: ${farm.server.url}/login?code=${code}`);
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      return farm.close();
    }
    case 'worker':
      return worker(config);
    case 'migrate': {
      const engine = await openEngine({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        migrate: true,
      });
      const report = engine.migration;
      console.log(
        report && report.applied.length > 0
          ? `migrated from version ${report.from} to ${report.to}: ${report.applied.join(', ')}`
          : `the schema is up to date (version ${report?.to ?? '?'})`,
      );
      return engine.close();
    }
    case 'submit':
      return submit(config, output, rest[0], {
        params: values.param ?? [],
        file: values.file,
        wait: values.wait ?? false,
        name: values.name,
        allowUnknownType: values['allow-unknown-type'] ?? false,
        site: values.site,
      });
    case 'jobs': {
      const filter = {
        statuses: listOf(values.status),
        search: values.search,
        createdBefore: values['created-before'],
        all: values.all,
      };
      return jobs(
        config,
        output,
        rest[0],
        rest.slice(1),
        {
          limit: parseLimit(values.limit, 100),
          all: values.all ?? false,
          file: values.file,
          frames: values.frames,
          maxAttempts: values['max-attempts'],
          timeoutMs: values['timeout-ms'],
          priority: values.priority,
        },
        selectsJobs(filter) ? filter : undefined,
      );
    }
    case 'groups':
      if (rest[0] === 'retention') return groupRetention(config, output, rest.slice(1));
      return groups(config, output, rest[0], rest.slice(1), limitOptions);
    case 'types':
      return types(config, output, rest[0], rest.slice(1), limitOptions);
    case 'prune':
      return prune(config, output, {
        olderThan: values['older-than'],
        group: values.group,
        dryRun: values['dry-run'] ?? false,
      });
    case 'tasks':
      return tasks(config, output, rest);
    case 'workers':
      return workers(config, output, rest[0], rest.slice(1), {
        tags: listOf(values.tag),
        states: listOf(values.state),
        hosts: listOf(values['worker-host']),
        search: values.search,
        all: values.all,
      });
    case 'logs':
      return logs(config, output, rest[0], values.follow ?? false);
    case 'tokens':
      return tokens(config, output, rest[0], rest.slice(1), {
        role: values.role,
        name: values.name,
        groups: values.groups,
        taskTypes: values['task-types'],
        tags: values.tags,
        expiresInDays: values['expires-in-days'],
      });
    case 'login':
      return login(config);
    case 'sites':
      return sites(config, output, rest[0], rest.slice(1), siteTokenFile);
    case 'schedules':
      return schedules(config, output, rest[0], rest.slice(1), {
        cron: values.cron,
        timezone: values.timezone,
        overlap: values.overlap,
        catchUp: values['catch-up'],
        file: values.file,
        group: values.group,
        allowUnknownType: values['allow-unknown-type'] ?? false,
      });
    case 'webhooks':
      return webhooks(config, output, rest[0], rest.slice(1), {
        url: values.url,
        events: values.events,
        group: values.group,
        secretFile: values['secret-file'],
        limit: parseLimit(values.limit, 100),
      });
    case 'download':
      return download(config, rest[0], values.out ?? '.');
    default:
      throw new Error(`There is no command "${command}".\n\n${USAGE}`);
  }
}

/**
 * Ends the process once everything written to stdout and stderr has left it. `process.exit` at
 * once would cut output going to a pipe (written asynchronously, 64 KiB at a time) short; the
 * process is still ended here, rather than left to end by itself, because a command's connections
 * or a library's timers may hold it open.
 */
function exitWhenWritten(code: number): void {
  process.exitCode = code;
  let waiting = 2;
  const written = () => {
    if (--waiting === 0) process.exit(code);
  };
  // A write's callback runs once it and every write before it are handed to the system (or
  // failed: a reader that went away, as `| head` does, has nothing left to wait for).
  process.stdout.write('', written);
  process.stderr.write('', written);
}

// A reader that stopped reading (`drover jobs ls --json | head -1`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

main(process.argv.slice(2)).then(
  () => {
    closeClients();
    exitWhenWritten(typeof process.exitCode === 'number' ? process.exitCode : 0);
  },
  (error: unknown) => {
    closeClients();
    const message = error instanceof Error ? error.message : String(error);
    console.error(isDroverError(error) ? `${message} [${error.code}]` : message);
    exitWhenWritten(1);
  },
);
