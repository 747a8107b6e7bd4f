// Every problem of a content directory at once, so a designer fixes them all in one pass.

export interface ContentProblem {
  /** The file as the loader reached it, e.g. `content/ashlands/locations.json`. */
  readonly file: string;
  /** Where in the file, e.g. `locations[3].exits.north`; `$` is the file root. */
  readonly path: string;
  readonly reason: string;
}

export function formatProblem(problem: ContentProblem): string {
  return `${problem.file}: ${problem.path}: ${problem.reason}`;
}

export class ContentError extends Error {
  readonly problems: ContentProblem[];

  constructor(problems: ContentProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ContentError';
    this.problems = problems;
  }
}
