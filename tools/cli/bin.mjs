#!/usr/bin/env node
// The `halyard` bin: the CLI is TypeScript, loaded through tsx's ESM hook.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
