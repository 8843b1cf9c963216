/** Passwords embedded in URL-like text (user:password@host), so that output can mask them. */
export function passwordsIn(text: string | undefined): string[] {
  if (!text) return [];
  return [...text.matchAll(/:\/\/[^\s:/@]*:([^\s@]*)@/g)].flatMap((match) => {
    const raw = match[1] ?? '';
    return [safeDecode(raw), raw];
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
