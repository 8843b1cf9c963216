/** The named properties of `object` that are not undefined (for options passed on to another call). */
export function pickDefined<T extends object, K extends keyof T>(object: T, names: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const name of names) if (object[name] !== undefined) picked[name] = object[name];
  return picked;
}
