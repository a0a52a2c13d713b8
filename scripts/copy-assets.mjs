// Copies what tsc does not: SQL migrations next to the compiled stores.
import { cpSync, existsSync } from 'node:fs';

for (const dialect of ['sqlite', 'postgres']) {
  const from = `src/store/${dialect}/migrations`;
  if (existsSync(from)) cpSync(from, `dist/store/${dialect}/migrations`, { recursive: true });
}
