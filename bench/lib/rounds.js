// Measurements alternate between tools round by round rather than running each tool's samples
// back to back, with the order rotated every round: drift in machine state (CPU frequency, page
// cache, other load) then spreads over all tools instead of biasing one of them.

/** `items` rotated left by `round` places: round 0 → a b c, round 1 → b c a, ... */
export function rotate(items, round) {
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}
