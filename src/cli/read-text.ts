/** Definition files as text: UTF-8 only, so a stray Latin-1 byte is an error rather than a silent U+FFFD. */
import { readFile } from 'node:fs/promises';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function readTextFile(path: string): Promise<string> {
  const bytes = await readFile(path);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Error('not UTF-8 text (definitions are UTF-8 TOML or JSON)');
  }
}
