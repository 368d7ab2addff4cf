/** The amojo chat channel: signing, the client, its typed errors, the scope store's port and the `chat` config section. */
export * from './signing.ts';
export * from './client.ts';
export * from './errors.ts';
export * from './types.ts';
export * from './scopes.ts';
export * from './config.ts';
