export const CHROMIUM_ARGS: readonly string[];
export function provisionChromium(log?: (line: string) => void): { executable: string } | { skip: string };
