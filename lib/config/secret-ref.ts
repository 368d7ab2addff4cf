/** A reference to a secret held outside the config; never the secret itself (its own module so feature sections can use it). */
import * as z from 'zod';

export const secretRefSchema = z
  .object({
    secret: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,200}$/, 'a secret name is letters, digits and _ . / -'),
  })
  .strict();
export type SecretRef = z.infer<typeof secretRefSchema>;
