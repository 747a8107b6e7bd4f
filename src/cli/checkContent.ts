// `npm run content:check [dir]`: validates a content directory the way a server would load it.
// Prints a one-line summary, or every problem and exit code 1.
import { ContentError, loadContent } from '../content/loader.ts';

const USAGE = 'usage: npm run content:check [-- DIR]   (DIR: a content directory, default content/ashlands)';
const argument = process.argv[2];
const dir = argument ?? 'content/ashlands';

const counted = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;

try {
  if (argument === '--help' || argument === '-h') {
    console.log(USAGE);
  } else {
    const catalog = await loadContent(dir);
    const { locations, items, npcs, lootTables } = catalog;
    console.log(
      `${dir}: ${catalog.name} OK — ${counted(locations.size, 'location', 'locations')}, ${counted(items.size, 'item', 'items')}, ` +
        `${counted(npcs.size, 'NPC', 'NPCs')}, ${counted(lootTables.size, 'loot table', 'loot tables')}`,
    );
  }
} catch (error) {
  if (!(error instanceof ContentError)) throw error;
  const count = error.problems.length;
  console.error(`${error.message}\n${dir}: ${count} content ${count === 1 ? 'problem' : 'problems'}`);
  process.exitCode = 1;
}
