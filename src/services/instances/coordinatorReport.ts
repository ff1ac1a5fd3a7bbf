/**
 * An instance's event as the report the Recovery Coordinator keeps
 * (supervision/reports.ts): the coordinator knows no service types, so the
 * services layer says what happened in its vocabulary.
 */
import type { ServiceReportInput, ServiceReportKind } from '../../supervision/reports.js';
import { type ServiceEvent, ServiceEventType } from './types.js';

const KIND: Readonly<Record<ServiceEventType, ServiceReportKind>> = {
  [ServiceEventType.Started]: 'started',
  [ServiceEventType.CouldNotStart]: 'could-not-start',
  [ServiceEventType.Failed]: 'failed',
  [ServiceEventType.Exited]: 'exited',
  [ServiceEventType.ConfigChanged]: 'config-changed',
};

export function coordinatorReport(e: ServiceEvent): ServiceReportInput {
  const base = { kind: KIND[e.type], service: e.service, instance: e.instance, node: e.node, at: e.at };
  switch (e.type) {
    case ServiceEventType.Started:
    case ServiceEventType.ConfigChanged:
      return { ...base, config: e.config };
    case ServiceEventType.CouldNotStart:
      return { ...base, reason: e.reason, ocf: e.ocf };
    case ServiceEventType.Failed:
    case ServiceEventType.Exited:
      return { ...base, reason: e.reason };
  }
}
