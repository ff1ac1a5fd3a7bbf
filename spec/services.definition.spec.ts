import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { InvalidConfigError, InvalidSpecError, ServiceErrorCode, UnknownDependencyError } from '../src/errors.js';
import { defineService, ServiceCatalog, validateConfig } from '../src/services/catalog/index.js';

const logic = createMachine({ initial: 'ready', states: { ready: { tags: ['ready'] } } });
const base = { name: 'payments', version: '1.4.0', logic };

function refusal(spec: unknown): InvalidSpecError {
  try {
    defineService(spec as never);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSpecError);
    return err as InvalidSpecError;
  }
  throw new Error(`accepted ${JSON.stringify(spec)}`);
}

describe('services - invalid definitions', () => {
  it.each([
    ['name', { ...base, name: undefined }],
    ['name', { ...base, name: 'pay.ments' }],
    ['name', { ...base, name: 'pay ments' }],
    ['name', { ...base, name: '' }],
    ['version', { ...base, version: undefined }],
    ['version', { ...base, version: '1.4' }],
    ['version', { ...base, version: 'v1.4.0' }],
    ['version', { ...base, version: '01.4.0' }],
    ['logic', { ...base, logic: { not: 'logic' } }],
    ['config', { ...base, config: { parse: () => 1 } }],
    ['ready', { ...base, ready: 3 }],
    ['ready', { ...base, ready: '' }],
    ['dependsOn', { ...base, dependsOn: 'ledger' }],
    ['dependsOn.0', { ...base, dependsOn: ['led.ger'] }],
    ['dependsOn.1', { ...base, dependsOn: ['ledger', 'ledger'] }],
    ['dependsOn', { ...base, dependsOn: ['payments'] }],
    ['tags.0', { ...base, tags: [''] }],
    ['requires.0', { ...base, requires: [7] }],
    ['cardinality', { ...base, cardinality: 'one' }],
    ['container', { ...base, container: 'thread' }],
    ['module', { ...base, container: 'worker' }],
    ['module', { ...base, module: 'not a url' }],
    ['module', { ...base, module: 'https://example.com/x.js' }],
    ['lifetime', { ...base, lifetime: 'scope' }],
    ['lifetime', { ...base, lifetime: 'forever' }],
    ['endpoints.charge', { ...base, endpoints: { charge: '' } }],
    ['endpoints.check', { ...base, endpoints: { check: 'CHECK' } }],
    ['endpoints.a.b', { ...base, endpoints: { 'a.b': 'X' } }],
    ['endpoints.x', { ...base, endpoints: { x: 'xstate.init' } }],
    ['persist', { ...base, persist: 'yes' }],
    ['persist.everyMs', { ...base, persist: { everyMs: 0 } }],
    ['persist.restoreAfterCrash', { ...base, persist: { restoreAfterCrash: 'no' } }],
    ['persist.every', { ...base, persist: { every: 10 } }],
    ['setup', { ...base, setup: 'open' }],
    ['teardown', { ...base, teardown: {} }],
    ['startTimeoutMs', { ...base, startTimeoutMs: -1 }],
    ['dependOn', { ...base, dependOn: ['ledger'] }],
    ['service', 'payments'],
  ])('services - a definition with a bad %s is an InvalidSpecError naming it', (field, spec) => {
    const err = refusal(spec);
    expect(err.field).toBe(field);
    expect(err.code).toBe('ERR_INVALID_SPEC');
  });

  it('services - an unknown key names the key it was probably meant to be', () => {
    expect(refusal({ ...base, dependOn: ['ledger'] }).message).toContain('did you mean dependsOn?');
  });

  it('services - a valid definition is frozen with its defaults filled in', () => {
    const d = defineService({ ...base, description: 'Charges cards', tags: ['core'], persist: true });
    expect(Object.isFrozen(d)).toBe(true);
    expect(d).toMatchObject({
      kind: 'halyard.service.v1',
      cardinality: 'many',
      container: 'inline',
      lifetime: 'node',
      dependsOn: [],
      endpoints: {},
      persist: { restoreAfterCrash: false, everyMs: 1000 },
    });
    expect(defineService({ ...base, version: '2.0.0-rc.1+build.5', container: 'worker', module: import.meta.url }).module).toBe(import.meta.url);
  });
});

describe('services - invalid configs', () => {
  const payments = defineService({ ...base, config: v.object({ currency: v.string(), limit: v.pipe(v.number(), v.minValue(1)) }) });

  it('services - a config failing its schema is an InvalidConfigError naming each failing path, OCF 6', async () => {
    const err = await validateConfig(payments, { currency: 3, limit: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidConfigError);
    const e = err as InvalidConfigError;
    expect(e.code).toBe(ServiceErrorCode.InvalidConfig);
    expect(e.ocf).toBe(6);
    expect(e.issues.map((i) => i.path).sort()).toEqual(['currency', 'limit']);
    expect(e.message).toContain('config.currency');
    expect(e.message).toContain('config.limit');
  });

  it('services - a config error never quotes the config value', async () => {
    const secret = defineService({ ...base, config: v.object({ token: v.pipe(v.string(), v.minLength(40)) }) });
    const e = (await validateConfig(secret, { token: 'hunter2-secret' }).catch((x: unknown) => x)) as InvalidConfigError;
    expect(e).toBeInstanceOf(InvalidConfigError);
    expect(e.message).not.toContain('hunter2');
  });

  it('services - a passing config comes back as the schema outputs it', async () => {
    await expect(validateConfig(payments, { currency: 'EUR', limit: 100 })).resolves.toEqual({ currency: 'EUR', limit: 100 });
  });
});

describe('services - unknown dependencies', () => {
  it('services - a catalogue whose service depends on an undefined one is an UnknownDependencyError naming it', () => {
    const payments = defineService({ ...base, dependsOn: ['ledger'] });
    let err: unknown;
    try {
      new ServiceCatalog([payments], 'n1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownDependencyError);
    expect(err).toMatchObject({ service: 'payments', dependency: 'ledger', code: 'ERR_UNKNOWN_DEPENDENCY', field: 'dependsOn' });
  });

  it('services - a catalogue refuses a definition twice and a non-definition, naming its index', () => {
    const d = defineService(base);
    expect(() => new ServiceCatalog([d, d], 'n1')).toThrow(expect.objectContaining({ field: 'services.1' }));
    expect(() => new ServiceCatalog([{ name: 'x' }], 'n1')).toThrow(expect.objectContaining({ field: 'services.0' }));
  });
});
