/** The committed example config (amo.config.example.json): what the infra tests and `npm run synth` deploy. */
import { join } from 'node:path';
import { loadConfigFile, type Config } from '../../../lib/config/index.ts';
import { PROJECT_ROOT } from '../../../infra/aws/gateway.ts';

export const EXAMPLE_CONFIG_PATH = join(PROJECT_ROOT, 'amo.config.example.json');
export const exampleConfig: Config = loadConfigFile(EXAMPLE_CONFIG_PATH);
