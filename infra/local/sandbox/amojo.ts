/**
 * The sandbox's amojo (Chat API) module; its parts live in `amojo/` (see amojo/index.ts).
 * Kept as the module's entry so importers need not know its layout.
 */
export * from './amojo/index.ts';
