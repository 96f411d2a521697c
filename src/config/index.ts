export * from './types.js';
export { parseConfig, loadConfigFile, discoverConfigFile, configSearchPaths } from './load.js';
export { validateStoreOptions, validateLimiterOptions, applyOverrides } from './options.js';
export { expandEnv, expandString, formatPath, type Expansion, type Expanded } from './env.js';
