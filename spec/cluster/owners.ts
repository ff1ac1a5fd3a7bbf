/**
 * Ownership sampling for the cluster tests: ask every listed node which
 * instances it runs (`list` on `<prefix>.clrpc.<node>`) and count names that
 * more than one node claims at the same moment.
 */
import type { Node } from '../../src/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Listing {
  readonly node: string;
  readonly coordinator: boolean;
  readonly instances: Array<{ name: string; epoch: number; type: string }>;
}

/** The listing of each node that answers within `timeout` (a stopped or dead node does not). */
export async function listAll(obs: Node, prefix: string, names: readonly string[], timeout = 150): Promise<Listing[]> {
  const out = await Promise.all(
    names.map(async (n) => {
      try {
        const msg = await obs.transport.request(`${prefix}.clrpc.${n}`, enc.encode(JSON.stringify({ op: 'list' })), { timeout });
        const v = JSON.parse(dec.decode(msg.data));
        return v.ok ? ({ node: n, coordinator: v.coordinator, instances: v.instances } as Listing) : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return out.filter((x): x is Listing => x !== undefined);
}

/** Names owned by more than one of the listings. */
export function duplicates(listings: readonly Listing[]): string[] {
  const owners = new Map<string, number>();
  for (const l of listings) for (const i of l.instances) owners.set(i.name, (owners.get(i.name) ?? 0) + 1);
  return [...owners].filter(([, n]) => n > 1).map(([name]) => name);
}

/** A sampler that lists every node every `everyMs` until stopped; counts samples and duplicate sightings. */
export function sampleOwnership(obs: Node, prefix: string, names: () => readonly string[], everyMs = 20) {
  let stopped = false;
  const result = { samples: 0, duplicates: [] as string[] };
  const done = (async () => {
    while (!stopped) {
      const l = await listAll(obs, prefix, names());
      result.samples++;
      result.duplicates.push(...duplicates(l));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    result,
    async stop() {
      stopped = true;
      await done;
      return result;
    },
  };
}
