import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadContent } from '../../src/content/loader.ts';
import {
  ASHLANDS_DIR,
  REPO_ROOT,
  byId,
  copyAshlands,
  editFile,
  expectProblems,
  indexOf,
  loadError,
  removeCopies,
  type ContentFileName,
} from './contentCopy.ts';

afterEach(removeCopies);

describe('the shipped Ashlands', () => {
  it('loads and meets the minimum counts', async () => {
    const catalog = await loadContent(ASHLANDS_DIR);
    expect(catalog.name).toBe('The Ashlands');
    expect(catalog.locations.size).toBeGreaterThanOrEqual(24);
    expect(catalog.items.size).toBeGreaterThanOrEqual(45);
    expect(catalog.npcs.size).toBeGreaterThanOrEqual(12);
    expect(catalog.lootTables.size).toBeGreaterThanOrEqual(catalog.npcs.size);
    expect(catalog.rules).toMatchObject({
      startLocation: 'emberwell-square',
      respawnLocation: 'emberwell-square',
      maxHp: 100,
      maxStamina: 100,
      inventorySlots: 28,
      carryWeight: 40,
      moveStaminaCost: 2,
      moveCooldownMs: 400,
      staminaRegenPerMinute: 30,
      hpRegenPerMinute: 6,
    });
  });

  it('applies schema defaults and freezes the templates', async () => {
    const catalog = await loadContent(ASHLANDS_DIR);
    const pipe = catalog.items.get('rusty-pipe');
    expect(pipe?.maxStack).toBe(1);
    expect(Object.isFrozen(pipe)).toBe(true);
    expect(Object.isFrozen(catalog.locations.get('emberwell-square')?.interactables[0])).toBe(true);
  });
});

describe('loadContent reports', () => {
  it('a directory that does not exist, or is a file, as one problem', async () => {
    const missing = join(await copyAshlands(), 'nowhere');
    expect((await loadError(missing)).problems).toEqual([{ file: missing, path: '$', reason: 'directory not found' }]);
    const file = join(await copyAshlands(), 'world.json');
    expect((await loadError(file)).problems).toEqual([{ file, path: '$', reason: 'not a directory' }]);
  });

  it('a missing file', async () => {
    const dir = await copyAshlands();
    await rm(join(dir, 'npcs.json'));
    await expectProblems(dir, [{ file: 'npcs.json', path: '$', reason: /^file not found$/ }]);
  });

  it('JSON syntax errors with their line and column', async () => {
    const dir = await copyAshlands();
    await writeFile(join(dir, 'world.json'), '{\n  "name": "The Ashlands",\n  "description": "ash"\n  "rules": {}\n}\n');
    const locations = await readFile(join(dir, 'locations.json'), 'utf8');
    // The file ends `    }\n  ]\n}`: put a comma after the last location's closing brace.
    const lines = locations.trimEnd().split('\n');
    const lastLocationEnd = lines.length - 3;
    const withComma = `${lines[lastLocationEnd] ?? ''},`;
    lines[lastLocationEnd] = withComma;
    await writeFile(join(dir, 'locations.json'), lines.join('\n'));
    await expectProblems(dir, [
      { file: 'world.json', path: '$', reason: /^invalid JSON at line 4, column 3: expected ',' or '}', found '"'$/ },
      {
        file: 'locations.json',
        path: '$',
        reason: new RegExp(`^invalid JSON at line ${lastLocationEnd + 1}, column ${withComma.length}: trailing comma before '\\]'$`),
      },
    ]);
  });

  it('every schema violation, in every file, at its path', async () => {
    const dir = await copyAshlands();
    await editFile(dir, 'world.json', (world) => Reflect.deleteProperty(world, 'name'));
    let road = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      road = indexOf(locations, 'glass-road');
      const glassRoad = byId(locations, 'glass-road');
      glassRoad.danger = 9;
      Object.assign(glassRoad.exits, { norht: 'toll-plaza' });
    });
    let bandage = 0;
    await editFile(dir, 'items.json', ({ items }) => {
      bandage = indexOf(items, 'bandage');
      Object.assign(byId(items, 'bandage'), { weight: -1, colour: 'white' });
    });
    await editFile(dir, 'npcs.json', ({ npcs }) => {
      const rat = byId(npcs, 'ash-rat');
      rat.hp = { min: 10, max: 2 };
      rat.id = 'Ash Rat';
    });
    await expectProblems(dir, [
      { file: 'world.json', path: 'name', reason: /required field is missing/ },
      { file: 'locations.json', path: `locations[${road}].danger`, reason: /<=5/ },
      { file: 'locations.json', path: `locations[${road}].exits.norht`, reason: /unknown direction \(use one of north, south/ },
      { file: 'items.json', path: `items[${bandage}].weight`, reason: />=0/ },
      { file: 'items.json', path: `items[${bandage}].colour`, reason: /^unknown field$/ },
      { file: 'npcs.json', path: 'npcs[0].id', reason: /lower-case letters, digits and dashes/ },
      { file: 'npcs.json', path: 'npcs[0].hp', reason: /min must not exceed max/ },
    ]);
  });

  const duplicates: { file: ContentFileName; what: string; copy: (dir: string) => Promise<string> }[] = [
    {
      file: 'locations.json',
      what: 'location',
      copy: async (dir) => {
        let path = '';
        await editFile(dir, 'locations.json', ({ locations }) => {
          path = `locations[${locations.length}].id`;
          locations.push({ ...byId(locations, 'the-glare'), x: 40, y: 40 });
        });
        return path;
      },
    },
    {
      file: 'items.json',
      what: 'item',
      copy: async (dir) => {
        let path = '';
        await editFile(dir, 'items.json', ({ items }) => {
          path = `items[${items.length}].id`;
          items.push(byId(items, 'bandage'));
        });
        return path;
      },
    },
    {
      file: 'npcs.json',
      what: 'NPC',
      copy: async (dir) => {
        let path = '';
        await editFile(dir, 'npcs.json', ({ npcs }) => {
          path = `npcs[${npcs.length}].id`;
          npcs.push(byId(npcs, 'ash-rat'));
        });
        return path;
      },
    },
    {
      file: 'loot-tables.json',
      what: 'loot table',
      copy: async (dir) => {
        let path = '';
        await editFile(dir, 'loot-tables.json', ({ lootTables }) => {
          path = `lootTables[${lootTables.length}].id`;
          lootTables.push(byId(lootTables, 'car-wreck'));
        });
        return path;
      },
    },
  ];

  it.each(duplicates)('a duplicate $what id', async ({ file, what, copy }) => {
    const dir = await copyAshlands();
    const path = await copy(dir);
    await expectProblems(dir, [{ file, path, reason: new RegExp(`^duplicate ${what} id ".+" \\(already used by \\w+\\[\\d+\\]\\)$`) }]);
  });

  it('a duplicate interactable id within one location', async () => {
    const dir = await copyAshlands();
    let square = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      square = indexOf(locations, 'emberwell-square');
      const { interactables } = byId(locations, 'emberwell-square');
      interactables.push({ ...interactables[0], name: 'Second Crate' } as (typeof interactables)[number]);
    });
    await expectProblems(dir, [
      {
        file: 'locations.json',
        path: `locations[${square}].interactables[1].id`,
        reason: new RegExp(`^duplicate interactable id "donation-crate" \\(already used by locations\\[${square}\\]\\.interactables\\[0\\]\\)$`),
      },
    ]);
  });

  it('an exit to an unknown location, naming it', async () => {
    const dir = await copyAshlands();
    let road = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      road = indexOf(locations, 'glass-road');
      byId(locations, 'glass-road').exits.north = 'toll-booth';
    });
    await expectProblems(dir, [
      { file: 'locations.json', path: `locations[${road}].exits.north`, reason: /^exit north leads to unknown location "toll-booth"$/ },
    ]);
  });

  it('an exit that leads back to its own location', async () => {
    const dir = await copyAshlands();
    let buses = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      buses = indexOf(locations, 'bus-graveyard');
      byId(locations, 'bus-graveyard').exits.north = 'bus-graveyard';
    });
    await expectProblems(dir, [
      { file: 'locations.json', path: `locations[${buses}].exits.north`, reason: /^exit north leads back to "bus-graveyard" itself$/ },
    ]);
  });

  it('an unknown loot table on an interactable', async () => {
    const dir = await copyAshlands();
    let square = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      square = indexOf(locations, 'emberwell-square');
      const [crate] = byId(locations, 'emberwell-square').interactables;
      if (crate) crate.lootTable = 'donation-box';
    });
    await expectProblems(dir, [
      { file: 'locations.json', path: `locations[${square}].interactables[0].lootTable`, reason: /^unknown loot table "donation-box"$/ },
    ]);
  });

  it('an unknown loot table on an NPC', async () => {
    const dir = await copyAshlands();
    let rat = 0;
    await editFile(dir, 'npcs.json', ({ npcs }) => {
      rat = indexOf(npcs, 'ash-rat');
      byId(npcs, 'ash-rat').lootTable = 'rat-drops';
    });
    await expectProblems(dir, [{ file: 'npcs.json', path: `npcs[${rat}].lootTable`, reason: /^unknown loot table "rat-drops"$/ }]);
  });

  it('an unknown item in a loot table entry', async () => {
    const dir = await copyAshlands();
    let table = 0;
    await editFile(dir, 'loot-tables.json', ({ lootTables }) => {
      table = indexOf(lootTables, 'donation-crate');
      const [first] = byId(lootTables, 'donation-crate').entries;
      if (first) first.item = 'bandages';
    });
    await expectProblems(dir, [
      { file: 'loot-tables.json', path: `lootTables[${table}].entries[0].item`, reason: /^unknown item "bandages"$/ },
    ]);
  });

  it("an unknown NPC in a location's npcs", async () => {
    const dir = await copyAshlands();
    let road = 0;
    let slot = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      road = indexOf(locations, 'glass-road');
      slot = byId(locations, 'glass-road').npcs.push('giant-rat') - 1;
    });
    await expectProblems(dir, [{ file: 'locations.json', path: `locations[${road}].npcs[${slot}]`, reason: /^unknown NPC "giant-rat"$/ }]);
  });

  it('unknown start and respawn locations, without calling every location unreachable', async () => {
    const dir = await copyAshlands();
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.startLocation = 'emberwell';
      rules.respawnLocation = 'graveyard';
    });
    await expectProblems(dir, [
      { file: 'world.json', path: 'rules.startLocation', reason: /^unknown location "emberwell"$/ },
      { file: 'world.json', path: 'rules.respawnLocation', reason: /^unknown location "graveyard"$/ },
    ]);
  });

  it('an unknown starting item and a starting hp above the maximum', async () => {
    const dir = await copyAshlands();
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.startingItems = [{ item: 'bandage', qty: 2 }, { item: 'pistol', qty: 1 }];
      rules.startingHp = rules.maxHp + 1;
    });
    await expectProblems(dir, [{ file: 'world.json', path: 'rules.startingHp', reason: /^startingHp must not exceed maxHp$/ }]);
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.startingHp = rules.maxHp;
    });
    await expectProblems(dir, [{ file: 'world.json', path: 'rules.startingItems[1].item', reason: /^unknown item "pistol"$/ }]);
  });

  it('a starting kit that does not fit the inventory, counted as a pickup places it', async () => {
    const dir = await copyAshlands();
    // Bandages stack by 20: 21 + 20 of them share 3 slots, and 3 pipes take one each.
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.inventorySlots = 5;
      rules.startingItems = [
        { item: 'bandage', qty: 21 },
        { item: 'rusty-pipe', qty: 3 },
        { item: 'bandage', qty: 20 },
      ];
    });
    await expectProblems(dir, [
      { file: 'world.json', path: 'rules.startingItems', reason: /^the starting kit needs 6 inventory slots; inventorySlots is 5$/ },
    ]);
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.startingItems.push({ item: 'sledgehammer', qty: 5 });
      rules.inventorySlots = 11;
    });
    // 41 × 0.05 + 3 × 2.5 + 5 × 6.5 = 42.05 kg
    await expectProblems(dir, [
      { file: 'world.json', path: 'rules.startingItems', reason: /^the starting kit weighs 42\.05 kg; carryWeight is 40$/ },
    ]);
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.startingItems.pop();
      rules.inventorySlots = 6;
    });
    const catalog = await loadContent(dir);
    expect(catalog.rules.inventorySlots).toBe(6);
  });

  it('costs no character could pay, items no one could carry, and worn bonuses that leave no health', async () => {
    const dir = await copyAshlands();
    let square = 0;
    let pipe = 0;
    let tags = 0;
    let crate = 0;
    let knifeEntry = 0;
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.moveStaminaCost = rules.maxStamina + 1;
    });
    await editFile(dir, 'locations.json', ({ locations }) => {
      square = indexOf(locations, 'emberwell-square');
      const [thing] = byId(locations, 'emberwell-square').interactables;
      if (thing) thing.staminaCost = 101;
    });
    await editFile(dir, 'items.json', ({ items }) => {
      pipe = indexOf(items, 'sledgehammer');
      byId(items, 'sledgehammer').weight = 41;
      tags = indexOf(items, 'dog-tags');
      byId(items, 'dog-tags').stats = { maxHp: -100 };
    });
    await editFile(dir, 'loot-tables.json', ({ lootTables }) => {
      crate = indexOf(lootTables, 'donation-crate');
      knifeEntry = byId(lootTables, 'donation-crate').entries.push({ item: 'kitchen-knife', weight: 1, qty: { min: 1, max: 101 } }) - 1;
    });
    await expectProblems(dir, [
      { file: 'world.json', path: 'rules.moveStaminaCost', reason: /^a move costs 101 stamina; maxStamina is 100, so no one could ever move$/ },
      { file: 'locations.json', path: `locations[${square}].interactables[0].staminaCost`, reason: /^searching "donation-crate" costs 101 stamina; maxStamina is 100/ },
      { file: 'items.json', path: `items[${pipe}].weight`, reason: /^"sledgehammer" weighs 41 kg; carryWeight is 40, so no one could ever carry it$/ },
      { file: 'items.json', path: `items[${tags}].stats.maxHp`, reason: /^wearing the items that lower maxHp most, one per slot, leaves maxHp at 0; it must stay at least 1$/ },
      { file: 'loot-tables.json', path: `lootTables[${crate}].entries[${knifeEntry}].qty.max`, reason: /^"kitchen-knife" does not stack, and one search could make 101 of them/ },
    ]);
  });

  it('quantities beyond what a save can hold', async () => {
    const dir = await copyAshlands();
    let crate = 0;
    let bandage = 0;
    await editFile(dir, 'loot-tables.json', ({ lootTables }) => {
      crate = indexOf(lootTables, 'donation-crate');
      const [first] = byId(lootTables, 'donation-crate').entries;
      if (first) first.qty = { min: 3_000_000_000, max: 3_000_000_000 };
    });
    await editFile(dir, 'items.json', ({ items }) => {
      bandage = indexOf(items, 'bandage');
      byId(items, 'bandage').maxStack = 2 ** 31;
    });
    await expectProblems(dir, [
      { file: 'items.json', path: `items[${bandage}].maxStack`, reason: /1000000/ },
      { file: 'loot-tables.json', path: `lootTables[${crate}].entries[0].qty.min`, reason: /1000000/ },
      { file: 'loot-tables.json', path: `lootTables[${crate}].entries[0].qty.max`, reason: /1000000/ },
    ]);
  });

  it('a location that cannot be reached from the start', async () => {
    const dir = await copyAshlands();
    let glare = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      glare = indexOf(locations, 'the-glare');
      delete byId(locations, 'glare-rim').exits.north;
    });
    await expectProblems(dir, [
      {
        file: 'locations.json',
        path: `locations[${glare}]`,
        reason: /^location "the-glare" cannot be reached from the start location "emberwell-square"$/,
      },
    ]);
  });

  it('two locations on the same x/y', async () => {
    const dir = await copyAshlands();
    let buses = 0;
    await editFile(dir, 'locations.json', ({ locations }) => {
      buses = indexOf(locations, 'bus-graveyard');
      const tollPlaza = byId(locations, 'toll-plaza');
      Object.assign(byId(locations, 'bus-graveyard'), { x: tollPlaza.x, y: tollPlaza.y });
      expect(indexOf(locations, 'toll-plaza')).toBeLessThan(buses);
    });
    await expectProblems(dir, [
      { file: 'locations.json', path: `locations[${buses}]`, reason: /^location "bus-graveyard" is at x=0, y=-3, already taken by "toll-plaza"/ },
    ]);
  });

  it('problems of every file together, in file order', async () => {
    const dir = await copyAshlands();
    await editFile(dir, 'loot-tables.json', ({ lootTables }) => {
      const [first] = lootTables[0]?.entries ?? [];
      if (first) first.item = 'gold-bar';
    });
    await editFile(dir, 'npcs.json', ({ npcs }) => {
      Object.assign(npcs[0] ?? {}, { level: 0 });
    });
    await editFile(dir, 'items.json', ({ items }) => {
      items.push(byId(items, 'scrap-metal'));
    });
    await editFile(dir, 'locations.json', ({ locations }) => {
      byId(locations, 'glass-road').exits.north = 'nowhere';
    });
    await editFile(dir, 'world.json', ({ rules }) => {
      rules.respawnLocation = 'heaven';
    });
    const { problems } = await loadError(dir);
    expect(problems.map((problem) => problem.file)).toEqual(
      ['world.json', 'locations.json', 'items.json', 'npcs.json', 'loot-tables.json'].map((file) => join(dir, file)),
    );
  });

  it('no follow-up problems from a file that is already broken', async () => {
    const dir = await copyAshlands();
    await writeFile(join(dir, 'items.json'), '{ "items": [ }');
    await expectProblems(dir, [{ file: 'items.json', path: '$', reason: /^invalid JSON at line 1, column 14: unexpected '}'$/ }]);
  });
});

describe('npm run content:check', () => {
  const checkContent = (dir: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/checkContent.ts', dir], { cwd: REPO_ROOT, encoding: 'utf8' });

  it('prints a summary and exits 0 on the shipped world', () => {
    const result = checkContent('content/ashlands');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^content\/ashlands: The Ashlands OK — \d+ locations, \d+ items, \d+ NPCs, \d+ loot tables\n$/);
  });

  it('prints its usage for --help instead of taking it for a directory', () => {
    const result = checkContent('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^usage: npm run content:check/);
  });

  it('lists the problems and exits 1 on broken content', async () => {
    const dir = await copyAshlands();
    await editFile(dir, 'locations.json', ({ locations }) => {
      byId(locations, 'glass-road').exits.north = 'toll-booth';
    });
    const result = checkContent(dir);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${join(dir, 'locations.json')}: locations[`);
    expect(result.stderr).toContain('exit north leads to unknown location "toll-booth"');
    expect(result.stderr).toContain('1 content problem');
  });
});
