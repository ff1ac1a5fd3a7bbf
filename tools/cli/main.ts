/**
 * `halyard`: the command line of the admin API (src/client).
 *
 * Connection, on every verb but `up`: `--server` (or env `HALYARD_SERVER`)
 * with `--creds`, `--user`, `--password`, `--token`, `--tlscert`, `--tlskey`,
 * `--tlsca`; without a server, the control socket `.halyard.sock` that
 * `halyard up` opens in the working folder. `--json` prints listings as
 * JSON. Errors print one line, `halyard: <message>`, and exit 1 (`check`
 * exits with the OCF code); no stack traces, no credentials.
 *
 * Not here yet: a live `top` (only `top --once`). `new service` is in newService.ts.
 */
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { connect, type HalyardClient, serveControlSocket } from '../../src/client/index.js';
import { loadConfig, up } from '../../src/config/index.js';
import { describe } from '../../src/errors.js';
import { LocalTransport } from '../../src/transport/LocalTransport.js';
import { namesFromFile, newServices } from './newService.js';
import { table } from './table.js';

export const SOCKET_FILE = '.halyard.sock';

interface Global {
  server?: string;
  creds?: string;
  user?: string;
  password?: string;
  token?: string;
  tlscert?: string;
  tlskey?: string;
  tlsca?: string;
  prefix?: string;
  json?: boolean;
  timeout?: string;
}

class Fail extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

function parseJson(text: string, what: string): { type: string } {
  try {
    return JSON.parse(text);
  } catch {
    throw new Fail(`${what} is not JSON: ${text.slice(0, 80)}`);
  }
}

/** `--server`, else a non-empty HALYARD_SERVER. */
function serverOf(g: Global): string | undefined {
  const s = g.server ?? process.env.HALYARD_SERVER;
  return s === undefined || s.trim() === '' ? undefined : s;
}

async function client(program: Command): Promise<HalyardClient> {
  const g = program.opts<Global>();
  const server = serverOf(g);
  const common = { ...(g.prefix !== undefined ? { prefix: g.prefix } : {}), ...(g.timeout !== undefined ? { timeout: Number(g.timeout) } : {}) };
  if (server === undefined) return connect({ socket: join(process.cwd(), SOCKET_FILE), ...common });
  const tls = g.tlscert || g.tlskey || g.tlsca ? { ...(g.tlscert ? { cert: g.tlscert } : {}), ...(g.tlskey ? { key: g.tlskey } : {}), ...(g.tlsca ? { ca: g.tlsca } : {}) } : undefined;
  return connect({
    server: server.split(','),
    ...(g.creds !== undefined ? { creds: g.creds } : {}),
    ...(g.user !== undefined ? { user: g.user } : {}),
    ...(g.password !== undefined ? { password: g.password } : {}),
    ...(g.token !== undefined ? { token: g.token } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...common,
  });
}

/** Run one verb with a client, closing it after. */
function withClient(program: Command, fn: (c: HalyardClient, json: boolean) => Promise<number | undefined>): () => Promise<void> {
  return async () => {
    const c = await client(program);
    try {
      const code = await fn(c, program.opts<Global>().json === true);
      if (code !== undefined) process.exitCode = code;
    } finally {
      await c.close();
    }
  };
}

export function buildProgram(): Command {
  const program = new Command('halyard')
    .description('see and steer Halyard nodes')
    .option('--server <url>', 'NATS server URL(s), comma-separated (env HALYARD_SERVER)')
    .option('--creds <file>', 'NATS credentials file')
    .option('--user <user>', 'NATS user')
    .option('--password <password>', 'NATS password')
    .option('--token <token>', 'NATS token')
    .option('--tlscert <file>', 'TLS client certificate')
    .option('--tlskey <file>', 'TLS client key')
    .option('--tlsca <file>', 'TLS CA certificate')
    .option('--prefix <prefix>', 'subject prefix', undefined)
    .option('--timeout <ms>', 'request deadline, ms')
    .option('--json', 'print listings as JSON')
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error: ') ? `halyard: ${s.slice(7)}` : s) })
    .exitOverride();

  program
    .command('up <config>')
    .description('start the nodes and services of a config file (embedded: also a control socket here)')
    .option('--env <name>', 'apply the env overlay of that name')
    .action(async (file: string, o: { env?: string }) => {
      const g = program.opts<Global>();
      const loaded = await loadConfig(file, o.env === undefined ? {} : { env: o.env });
      const server = serverOf(g);
      const config = {
        ...loaded.config,
        ...(g.prefix !== undefined ? { prefix: g.prefix } : {}),
        ...(server !== undefined ? { nats: { ...loaded.config.nats, servers: server.split(',') } } : {}),
      };
      const running = await up({ file: loaded.file, config });
      const socket =
        running.bus === undefined
          ? undefined
          : await serveControlSocket({ path: join(process.cwd(), SOCKET_FILE), transport: new LocalTransport({ name: 'halyard-up', bus: running.bus }), prefix: running.prefix });
      out(`up: nodes ${running.nodes.map((n) => n.name).join(', ')}${socket ? `; control socket ${SOCKET_FILE}` : '; on NATS'}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await socket?.close();
      await running.stop();
      out('down');
    });

  program.command('nodes').description('list the nodes').action(
    withClient(program, async (c, json) => {
      const nodes = await c.nodes();
      if (json) out(JSON.stringify(nodes));
      else out(table(['NODE', 'CHECK', 'TRANSPORT', 'ACTORS', 'INSTANCES', 'UPTIME_S', 'WRITE'], nodes.map((n) => [n.node, n.check.code, n.transport, n.actors, n.instances, Math.round(n.uptimeMs / 1000), n.write])));
      return undefined;
    }),
  );

  program
    .command('ls')
    .description('list service instances')
    .option('--tag <tag>')
    .option('--node <node>')
    .action((o: { tag?: string; node?: string }) =>
      withClient(program, async (c, json) => {
        const data = await c.services(o);
        if (json) out(JSON.stringify(data));
        else out(table(['SERVICE', 'INSTANCE', 'NODE', 'STATE', 'RESTARTS', 'MAILBOX', 'TAGS'], data.instances.map((i) => [i.service, i.instance, i.node, i.state, i.restarts, i.mailbox.depth, i.tags.join(',')])));
        return undefined;
      })(),
    );

  program.command('info <name>').description('a service and its instances').action((name: string) =>
    withClient(program, async (c, json) => {
      const info = await c.info(name);
      if (json) out(JSON.stringify(info));
      else {
        for (const s of info.services) out(`${s.name} ${s.version} (${s.cardinality})${s.dependsOn.length ? ` depends on ${s.dependsOn.join(', ')}` : ''}`);
        out(table(['INSTANCE', 'NODE', 'STATE', 'RESTARTS', 'TAGS'], info.instances.map((i) => [i.instance, i.node, i.state, i.restarts, i.tags.join(',')])));
      }
      return undefined;
    })(),
  );

  program
    .command('check <name>')
    .description('OCF Check of a name; the exit code is the OCF code')
    .addOption(new Option('--level <level>', 'depth').choices(['0', '10', '20']).default('0'))
    .action((name: string, o: { level: string }) =>
      withClient(program, async (c, json) => {
        const r = await c.check(name, Number(o.level) as 0 | 10 | 20);
        out(json ? JSON.stringify(r) : `${name}: ${r.code} ${r.reason}`);
        return r.code;
      })(),
    );

  program.command('status <name>').description('OCF Status of a name').action((name: string) =>
    withClient(program, async (c) => {
      out(JSON.stringify(await c.status(name), null, program.opts<Global>().json ? undefined : 2));
      return undefined;
    })(),
  );

  program.command('call <name> <json>').description('ask a name and print the reply').action((name: string, text: string) =>
    withClient(program, async (c) => {
      out(JSON.stringify(await c.call(name, parseJson(text, 'the event'))));
      return undefined;
    })(),
  );

  program.command('send <name> <json>').description('tell a name').action((name: string, text: string) =>
    withClient(program, async (c) => {
      await c.send(name, parseJson(text, 'the event'));
      out('sent');
      return undefined;
    })(),
  );

  program.command('tree').description('the supervision tree across nodes').action(
    withClient(program, async (c, json) => {
      const tree = await c.tree();
      if (json) {
        out(JSON.stringify(tree));
        return undefined;
      }
      for (const n of tree) {
        out(n.node);
        const walk = (sups: typeof n.supervisors, indent: string): void => {
          for (const s of sups) {
            out(`${indent}${s.label} [${s.strategy}] ${s.phase}${s.gaveUp ? ` gave up: ${s.gaveUp}` : ''}`);
            for (const ch of s.children) {
              out(`${indent}  ${ch.id} (${ch.type}) ${ch.status} restarts=${ch.restarts}${ch.mailbox ? ` mailbox=${ch.mailbox.depth}` : ''}`);
              if (ch.supervisor) walk([ch.supervisor], `${indent}    `);
            }
          }
        };
        walk(n.supervisors, '  ');
      }
      return undefined;
    }),
  );

  program
    .command('top')
    .description('instances by mailbox depth (one snapshot with --once)')
    .option('--once', 'print one snapshot and exit')
    .addOption(new Option('--sort <key>').choices(['mailbox', 'restarts', 'processed']).default('mailbox'))
    .action((o: { once?: boolean; sort: 'mailbox' | 'restarts' | 'processed' }) =>
      withClient(program, async (c, json) => {
        const key = (i: { mailbox: { depth: number }; restarts: number; processed: number }): number => (o.sort === 'mailbox' ? i.mailbox.depth : i[o.sort]);
        for (;;) {
          const rows = [...(await c.services()).instances].sort((a, b) => key(b) - key(a));
          if (json) out(JSON.stringify(rows));
          else out(table(['SERVICE', 'INSTANCE', 'NODE', 'MAILBOX', 'PROCESSED', 'RESTARTS'], rows.map((i) => [i.service, i.instance, i.node, i.mailbox.depth, i.processed, i.restarts])));
          if (o.once) return undefined;
          await new Promise((r) => setTimeout(r, 2000));
          if (!json) process.stdout.write('\x1b[2J\x1b[H');
        }
      })(),
    );

  program
    .command('restart <name>')
    .description('restart a service (every instance) or one instance')
    .option('--rolling', 'one instance at a time, each checked before the next')
    .action((name: string, o: { rolling?: boolean }) =>
      withClient(program, async (c, json) => {
        if (!o.rolling) {
          const r = await c.restart(name);
          out(json ? JSON.stringify(r) : r.map((x) => `${x.node}: restarted ${x.done.join(', ')}`).join('\n'));
          return undefined;
        }
        const targets = (await c.services({ service: name })).instances.filter((i) => i.state === 'running');
        const done = [];
        for (const [k, i] of targets.entries()) {
          const r = await c.restart(i.instance, { node: i.node });
          const id = r[0]?.done[0] ?? i.instance;
          // The next instance goes only once this one is back and ready (a restart resolves once ready; this confirms it from outside).
          // A restart keeps the instance id, and the stopped incarnation may still be listed beside the new one.
          const same = (await c.services({ service: id, node: i.node })).instances.filter((x) => x.instance === id);
          const state = (same.find((x) => x.state === 'running') ?? same[0])?.state ?? 'missing';
          done.push({ node: i.node, from: i.instance, to: id, state });
          if (!json) out(`[${k + 1}/${targets.length}] ${i.node}: ${i.instance} -> ${id} ${state}`);
          if (state !== 'running') throw new Fail(`rolling restart stopped: ${id} is ${state}`);
        }
        if (json) out(JSON.stringify(done));
        return undefined;
      })(),
    );

  program.command('stop <name>').description('stop a service (every instance), an instance or a named actor').action((name: string) =>
    withClient(program, async (c, json) => {
      const r = await c.stop(name);
      out(json ? JSON.stringify(r) : r.map((x) => `${x.node}: stopped ${x.done.join(', ')}`).join('\n'));
      return undefined;
    })(),
  );

  program
    .command('logs')
    .description("the nodes' recent events as log lines")
    .option('--node <node>')
    .option('--service <service>')
    .option('-f, --follow', 'keep printing new lines')
    .action((o: { node?: string; service?: string; follow?: boolean }) =>
      withClient(program, async (c, json) => {
        const print = (l: { node: string; seq: number; level: string; msg: string; service?: string; fields: unknown }): void =>
          out(json ? JSON.stringify(l) : `${l.node} #${l.seq} ${l.level} ${l.msg}${l.service ? ` ${l.service}` : ''} ${JSON.stringify(l.fields)}`);
        const seen = new Map<string, number>();
        for (;;) {
          const lines = await c.logs({ ...(o.node ? { node: o.node } : {}), ...(o.service ? { service: o.service } : {}) });
          for (const l of lines) {
            if (l.seq <= (seen.get(l.node) ?? 0)) continue;
            seen.set(l.node, l.seq);
            print(l);
          }
          if (!o.follow) return undefined;
          await new Promise((r) => setTimeout(r, 1000));
        }
      })(),
    );

  program
    .command('decisions')
    .description("the Recovery Coordinators' decisions")
    .option('--child <id>')
    .action((o: { child?: string }) =>
      withClient(program, async (c, json) => {
        const d = await c.decisions(o.child === undefined ? {} : { child: o.child });
        if (json) out(JSON.stringify(d));
        else out(table(['NODE', 'SEQ', 'SUPERVISOR', 'CHILD', 'REASON', 'DIRECTIVE', 'RULE'], d.map((x) => [x.node, x.seq, x.supervisor, x.childId, x.reason, x.directive, x.rule])));
        return undefined;
      })(),
    );

  program
    .command('observe')
    .description('serve the browser observer (tools/observer) until interrupted')
    .option('--port <port>', 'TCP port, 0 for a free one', '0')
    .option('--host <host>', 'bind address (a non-loopback one also needs --exposed)', '127.0.0.1')
    .option('--exposed', 'allow a non-loopback --host (the page has no login)')
    .option('--allow-write', 'show the restart button and accept restarts')
    .action(async (o: { port: string; host: string; exposed?: boolean; allowWrite?: boolean }) => {
      const { createObserver } = await import('../observer/index.js');
      const c = await client(program);
      try {
        const obs = await createObserver({ client: c, port: Number(o.port), host: o.host, exposed: o.exposed === true, allowWrite: o.allowWrite === true });
        out(`observer at ${obs.url}${o.allowWrite ? ' (writes allowed)' : ''}`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await obs.close();
      } finally {
        await c.close();
      }
    });

  const context = program.command('context').description('contexts: transactions that own services');
  context
    .command('start <file>')
    .description('start a context from a .yaml, .yml, .json or .xml file (sent as text, so the node need not see it)')
    .option('--node <node>', 'the node to start it on (default: the first that allows writes)')
    .action((file: string, o: { node?: string }) =>
      withClient(program, async (c, json) => {
        const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new Fail(`cannot read ${file}: ${err.code ?? String(err)}`);
        });
        const row = await c.contextStart(file, text, o.node === undefined ? {} : { node: o.node });
        out(json ? JSON.stringify(row) : `${row.node}: context ${row.name} ${row.transaction} ${row.state}`);
        return undefined;
      })(),
    );
  for (const verb of ['stop', 'restart'] as const) {
    context.command(`${verb} <transaction>`).description(`${verb} a context by its transaction`).action((tx: string) =>
      withClient(program, async (c, json) => {
        const r = verb === 'stop' ? await c.contextStop(tx) : await c.contextRestart(tx);
        out(json ? JSON.stringify(r) : r.map((x) => `${x.node}: ${verb === 'stop' ? 'stopped' : 'restarted as'} ${x.done.join(', ')}`).join('\n'));
        return undefined;
      })(),
    );
  }
  context.command('ls').description('list the contexts').action(() =>
    withClient(program, async (c, json) => {
      const rows = await c.contexts();
      if (json) out(JSON.stringify(rows));
      else out(table(['NODE', 'CONTEXT', 'TRANSACTION', 'STATE', 'SERVICES'], rows.map((r) => [r.node, r.name, r.transaction, r.state, r.services.join(',')])));
      return undefined;
    })(),
  );

  const tasks = program.command('tasks').description('tasks: work dispatched to the nodes that define it');
  tasks.command('ls').description('list the tasks').action(() =>
    withClient(program, async (c, json) => {
      const rows = await c.tasks();
      if (json) out(JSON.stringify(rows));
      else out(table(['ID', 'NAME', 'STATUS', 'ATTEMPT', 'WORKER'], rows.map((r) => [r.id, r.name, r.status, `${r.attempt}/${r.maxAttempts}`, r.worker])));
      return undefined;
    })(),
  );
  tasks.command('status <id>').description('one task: status, attempts, result or error').action((id: string) =>
    withClient(program, async (c, json) => {
      const r = await c.taskStatus(id);
      out(json ? JSON.stringify(r) : `${r.id} ${r.name} ${r.status} attempt ${r.attempt}/${r.maxAttempts}${r.error ? ` error: ${r.error}` : ''}${r.result !== undefined ? ` result: ${JSON.stringify(r.result)}` : ''}`);
      return undefined;
    })(),
  );
  tasks
    .command('submit <name> <json>')
    .description('submit a task; prints its id')
    .option('--node <node>', 'the node that stores it (default: the first that allows writes)')
    .action((name: string, text: string, o: { node?: string }) =>
      withClient(program, async (c, json) => {
        let input: unknown;
        try {
          input = JSON.parse(text);
        } catch {
          throw new Fail(`the task input is not JSON: ${text.slice(0, 80)}`);
        }
        const id = await c.taskSubmit(name, input, o.node === undefined ? {} : { node: o.node });
        out(json ? JSON.stringify({ id }) : id);
        return undefined;
      })(),
    );

  program
    .command('new')
    .description('write new project files')
    .command('service [name]')
    .description('write a service module, its test and its entry in the config file')
    .option('--dir <dir>', 'the project folder', '.')
    .option('--from <file>', 'a YAML list of service names to create at once')
    .option('--config <file>', 'the config file to add the entries to (default: halyard.config.ts if there, else halyard.config.yaml)')
    .addOption(new Option('--schema <kind>', 'how the config schema is written (default: valibot if the project has it)').choices(['valibot', 'plain']))
    .option('--force', 'overwrite files that exist')
    .action(async (name: string | undefined, o: { dir: string; from?: string; config?: string; schema?: 'valibot' | 'plain'; force?: boolean }) => {
      if ((name === undefined) === (o.from === undefined)) throw new Fail('new service: give a <name> or --from <file> (one of them)');
      const names = o.from === undefined ? [name as string] : await namesFromFile(o.from);
      const r = await newServices(names, { dir: o.dir, ...(o.config !== undefined ? { config: o.config } : {}), ...(o.schema !== undefined ? { schema: o.schema } : {}), ...(o.force ? { force: true } : {}) });
      if (program.opts<Global>().json) out(JSON.stringify(r));
      else out([...r.written.map((f) => `wrote ${relative(process.cwd(), f)}`), `added ${r.services.join(', ')} to ${relative(process.cwd(), r.config)}`].join('\n'));
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are exits of their own; commander already printed what went wrong.
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`halyard: ${describe(err)}\n`);
    process.exitCode = err instanceof Fail ? err.exitCode : 1;
  }
}
