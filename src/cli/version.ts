import { createRequire } from 'node:module';

/**
 * Set by scripts/build-bin.mjs through esbuild's `define`: inside the single
 * executable there is no package.json to read. Under plain Node (tsc output)
 * nothing defines it, and `typeof` keeps the lookup from throwing.
 */
declare const SMOOTHL1_VERSION: string | undefined;

/** package.json sits three levels above dist/src/cli/version.js. */
function packageVersion(): string {
  const pkg: unknown = createRequire(import.meta.url)('../../../package.json');
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg ? String(pkg.version) : 'unknown';
}

/** The package version, from whichever source this build has. */
export const version = (): string => (typeof SMOOTHL1_VERSION === 'string' ? SMOOTHL1_VERSION : packageVersion());
