export function provisionPython(
  root: string,
  log?: (line: string) => void,
  options?: { venv?: string; requirements?: string },
): { python: string } | { skip: string };
