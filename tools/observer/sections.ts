/** What a page can watch, and which hosts count as this machine. */
export const SECTIONS = ['nodes', 'tree', 'services', 'decisions'] as const;
export type Section = (typeof SECTIONS)[number];

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}
