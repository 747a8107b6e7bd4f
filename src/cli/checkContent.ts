// `npm run content:check [dir]`: validates a content directory the way a server would load it.
// Prints a one-line summary, or every problem and exit code 1.
import { ContentError, loadContent } from '../content/loader.ts';

const dir = process.argv[2] ?? 'content/ashlands';

try {
  const catalog = await loadContent(dir);
  const { locations, items, npcs, lootTables } = catalog;
  console.log(
    `${dir}: ${catalog.name} OK — ${locations.size} locations, ${items.size} items, ${npcs.size} NPCs, ${lootTables.size} loot tables`,
  );
} catch (error) {
  if (!(error instanceof ContentError)) throw error;
  const count = error.problems.length;
  console.error(`${error.message}\n${dir}: ${count} content ${count === 1 ? 'problem' : 'problems'}`);
  process.exitCode = 1;
}
