// The shape of the world map: every place can be walked to, and no two share a grid cell.
import type { ContentData } from './contentData.ts';
import type { Report } from './problemList.ts';

/** Follows exits from the start; a location never reached is one no player can ever see. */
export function checkReachable(locations: ContentData['locations'], startId: string, report: Report): void {
  const byId = new Map(locations.map((location) => [location.id, location]));
  const reached = new Set([startId]);
  const frontier = [startId];
  for (let id = frontier.pop(); id !== undefined; id = frontier.pop()) {
    for (const target of Object.values(byId.get(id)?.exits ?? {})) {
      if (reached.has(target)) continue;
      reached.add(target);
      frontier.push(target);
    }
  }
  locations.forEach((location, index) => {
    if (reached.has(location.id)) return;
    report('locations', ['locations', index], `location "${location.id}" cannot be reached from the start location "${startId}"`);
  });
}

export function checkDistinctCoordinates(locations: ContentData['locations'], report: Report): void {
  const occupant = new Map<string, { id: string; index: number }>();
  locations.forEach((location, index) => {
    const cell = `${location.x},${location.y}`;
    const other = occupant.get(cell);
    if (other === undefined) {
      occupant.set(cell, { id: location.id, index });
      return;
    }
    const reason = `location "${location.id}" is at x=${location.x}, y=${location.y}, already taken by "${other.id}" (locations[${other.index}])`;
    report('locations', ['locations', index], reason);
  });
}
