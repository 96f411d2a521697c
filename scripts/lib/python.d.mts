export function provisionPython(root: string, log?: (line: string) => void): { python: string } | { skip: string };
