// Content refers to content by id, so an id must name exactly one thing.
import type { ContentData } from './contentData.ts';
import { formatPath, type ContentFile, type ProblemPath, type Report } from './problemList.ts';

/** Reports the second and later uses of each id in a list, pointing back at the first. */
export function reportDuplicateIds(
  entries: readonly { readonly id: string }[],
  what: string,
  file: ContentFile,
  listPath: ProblemPath,
  report: Report,
): void {
  const firstIndex = new Map<string, number>();
  entries.forEach((entry, index) => {
    const first = firstIndex.get(entry.id);
    if (first === undefined) {
      firstIndex.set(entry.id, index);
      return;
    }
    const firstPath = formatPath([...listPath, first]);
    report(file, [...listPath, index, 'id'], `duplicate ${what} id "${entry.id}" (already used by ${firstPath})`);
  });
}

/** Interactable ids need only be unique within their location: players address them there. */
export function reportDuplicateInteractableIds(locations: ContentData['locations'], report: Report): void {
  locations.forEach((location, index) => {
    const listPath = ['locations', index, 'interactables'];
    reportDuplicateIds(location.interactables, 'interactable', 'locations', listPath, report);
  });
}
